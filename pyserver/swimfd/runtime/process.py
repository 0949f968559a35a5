"""The asyncio runtime around the pure protocol core.

One event loop owns the Node. The tick path never awaits a peer: it calls
``node.tick``, hands every Outbound to a bounded pool of send tasks (each RPC
with its own deadline) and goes back to sleep until ``node.next_deadline()``
or until an incoming message may have moved that deadline. Replies that come
back inline in a DeliverReply are fed to the core as ordinary messages.

Epoch time appears only at the edges: the core runs on ``time.monotonic`` and
the runtime adds a fixed offset when it logs events or answers Members.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import random
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from swimfd.core.config import PROTOCOL_VERSION, ConfigError, check_labels, labels_from
from swimfd.core.events import MembershipEvent, Outbound, Output
from swimfd.core.feign import FeignSchedule
from swimfd.core.node import Node
from swimfd.core.reports import Report
from swimfd.core.wire import ProtocolError
from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc
from swimfd.runtime.diss_client import DissClient, RateLimit
from swimfd.runtime.diss_process import DissCommand, DissProcess, DissStartError
from swimfd.runtime.health import HealthReporter, watch_diss
from swimfd.runtime.hooks import EventHooks
from swimfd.runtime.identity import Caller, IdentityRule, Refusal
from swimfd.runtime.lag import watch_lag
from swimfd.runtime.logs import Logger, log_event, make_logger, open_log_stream
from swimfd.runtime.metrics import DetectorMetrics
from swimfd.runtime.refusals import RefusalLog
from swimfd.runtime.server import SERVICE, make_server
from swimfd.runtime.settings import RuntimeSettings, diss_addr_for, split_hostport
from swimfd.runtime.tls import ReloadableTLS, TLSError, TLSFiles
from swimfd.runtime.transport import ChannelCache, FaultInjector, Rejected, Transport, TransportError, check_header
from swimfd.runtime.watch import TooManySubscribers, WatchHub, event_payload

if TYPE_CHECKING:
    from swimfd.runtime.metrics_http import MetricsServer

MAX_SLEEP = 1.0  # wake at least this often even if the core has nothing scheduled
STATS_EVERY = 5.0  # transport_stats cadence (bench reads these lines)
MAX_INFLIGHT = 64  # concurrent outgoing RPCs
MAX_PENDING = 4096  # queued outgoing messages before new ones are dropped (and counted)
LEAVE_FLUSH = 1.0  # seconds to let LEFT updates and the leave broadcast go out on shutdown
JOIN_TIMEOUT = 2.0
DISS_READY_TIMEOUT = 3.0

NodeFactory = Callable[..., Node]
EventListener = Callable[[MembershipEvent], None]  # called on the event loop, must not block


class StartError(RuntimeError):
    """The node cannot start (e.g. its port is taken); the message is one line."""


def rpc_timeout_for(probe_interval: float) -> float:
    """Deadline of one Deliver: long enough for a loaded peer, never longer than a protocol period
    (a later ack is useless to the core), and bounded so a paused peer costs little."""
    return min(max(probe_interval, 0.2), 5.0)


def bind_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (one line), or None when it can."""
    host = host.removeprefix("[").removesuffix("]")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        return f"cannot resolve {host!r}: {e.strerror}"
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(sockaddr)
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    return f"port {port} is already in use"
                return e.strerror or str(e)
    return None


class Runtime:
    def __init__(
        self,
        settings: RuntimeSettings,
        log: Logger,
        *,
        node_factory: NodeFactory = Node,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.config = settings.config
        self.log = log
        self._clock = clock
        self.epoch_offset = wall() - clock()
        self._rng = rng if rng is not None else random.Random(os.urandom(16))
        # Our certificate must name this node's id: checked here, so a mix-up stops the start with one line.
        try:
            self.tls = (
                ReloadableTLS(TLSFiles.in_dir(settings.tls_dir, settings.node_id), settings.node_id)
                if settings.tls_dir is not None
                else None
            )
        except TLSError as e:
            raise StartError(f"--tls-dir: {e}") from e
        fault = FaultInjector(settings.test_loss, random.Random(self._rng.random())) if settings.test_loss else None
        self.transport = Transport(
            cluster=self.config.cluster,
            max_message_bytes=self.config.max_message_bytes,
            rpc_timeout=rpc_timeout_for(self.config.probe_interval),
            fault=fault,
            channels=ChannelCache(self.config.max_message_bytes, credentials=self._channel_credentials()),
        )
        me = pb.Member(
            id=settings.node_id,
            addr=settings.advertise,
            diss_addr=settings.diss_addr,
            # Epoch seconds: a restarted member comes back with a higher incarnation and is accepted.
            incarnation=int(wall()),
            state=pb.ALIVE,
            priority=self.config.priority,
            labels=dict(self.config.labels),
        )
        self.node = node_factory(self.config, me, self._rng, self.now())
        self.diss = DissClient(
            addr=local_diss_addr(settings),
            header=self.header,
            log=log,
            max_message_bytes=self.config.max_message_bytes,
            credentials=self._channel_credentials(),
        )
        self.diss_process: DissProcess | None = None
        self.server: grpc.aio.Server | None = None
        self.health = HealthReporter(log, [SERVICE])
        # Observability (issue 12): metrics read the core at scrape time; Watch and --on-event get every event.
        self.metrics = DetectorMetrics(lambda: self.node.stats(self.now()), lambda: self.node.leader())
        self.metrics_server: MetricsServer | None = None
        self.watch = WatchHub(settings.node_id)
        self.hooks = EventHooks(settings.event_handlers, settings.event_handler_timeout, log)
        self._wake = asyncio.Event()
        self._stopping = False
        self._started = False
        self._send_slots = asyncio.Semaphore(MAX_INFLIGHT)
        self._pending = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._leaving: asyncio.Task[Any] | None = None  # forwarding our own leave to go-diss
        self._loops: list[asyncio.Task[Any]] = []
        self._warn_queue = RateLimit(10.0)
        self._warn_protocol = RateLimit(10.0)
        self._warn_core = RateLimit(10.0)
        self._warn_identity: dict[tuple[str, str], RateLimit] = {}
        self.identity_refused = 0
        self.send_dropped = 0
        self.protocol_errors = 0
        self.refusals = RefusalLog(log)
        self.max_lag = 0.0  # worst event-loop lag since the last transport_stats line (swimfd.runtime.lag)
        # --feign-failure: while a window lasts the node neither sends nor accepts protocol messages.
        feign_rng = random.Random(self._rng.random())
        self.feign = FeignSchedule(self.config, feign_rng, self.now()) if settings.feign_failure else None
        self._feigning = False
        # In-process consumers of membership events (swimfd.api); each is called once per event.
        self.listeners: list[EventListener] = []

    # ----------------------------------------------------------------- basics

    def now(self) -> float:
        return self._clock()

    def _channel_credentials(self) -> grpc.ChannelCredentials | None:
        return self.tls.channel_credentials() if self.tls is not None else None

    def reload_tls(self) -> bool:
        """SIGHUP: re-read certificate, key and CA bundle; new connections use them, and so does go-diss.

        Files that do not load (or name another member) leave everything as it was.
        """
        if self.tls is None:
            self.log.warning("tls_reload_ignored", detail="this node runs --insecure")
            return False
        try:
            self.tls.reload()
        except TLSError as e:
            self.log.error("tls_reload_failed", detail=str(e), note="keeping the previous certificates")
            return False
        creds = self.tls.channel_credentials()
        self.transport.channels.set_credentials(creds)
        self.diss.set_credentials(creds)
        if self.diss_process is not None:
            self.diss_process.send_signal(signal.SIGHUP)
        self.log.info("tls_reloaded", generation=self.tls.generation, cert=str(self.tls.files.cert))
        return True

    def header(self) -> pb.Header:
        me = self.node.me
        return pb.Header(
            version=PROTOCOL_VERSION, cluster=self.config.cluster, sender=me.id, sender_addr=self.settings.advertise
        )

    def silenced(self) -> bool:
        """True while this node must neither send nor accept protocol messages (feigned failure hook)."""
        return self._feigning

    def _poll_feign(self) -> None:
        """Enter or leave a feigned failure; on recovery start an election (swimfd.core.feign)."""
        if self.feign is None:
            return
        now = self.now()
        state = self.feign.poll(now)
        if state.down and not self._feigning:
            _, end = self.feign.window()
            self.log.info("feign_started", duration_s=round(end - now, 3))
        self._feigning = state.down
        if state.recovered and not state.down:
            self.log.info("feign_ended")
            with contextlib.suppress(Rejected):
                self._core("start_election", lambda: self.node.start_election(now, "recovered"))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---------------------------------------------------------- core outputs

    def apply(self, out: Output, inline_to: str | None = None, peer: str = "", sender: str = "") -> list[pb.Envelope]:
        """Log events and refusals, forward reports to go-diss, send messages; return those to answer inline.

        ``peer``, ``sender``: where the input came from (transport address, claimed member id), for refusals.
        """
        for refusal in out.refusals:
            self.refusals.note(
                peer=peer, sender=sender, reason=refusal.reason, detail=refusal.detail, subject=refusal.subject
            )
        for event in out.events:
            log_event(self.log, event, self.epoch_offset)
            self.metrics.event(event)
            if len(self.watch) or self.hooks:
                payload = event_payload(event, self.settings.node_id, self.epoch_offset)
                self.watch.publish(payload)
                self.hooks.dispatch(payload)
            for listener in self.listeners:
                try:
                    listener(event)
                except Exception:  # a consumer's bug must not cost the node its messages and reports
                    self.log.error("listener_error", event_name=str(event.name), exc_info=True)
        for report in out.reports:
            task = self._spawn(self._forward(report))
            if report.kind == pb.LEFT_CLUSTER:  # the core reports only its own leave
                self._leaving = task
        for alert in out.alerts:
            self._spawn(self._forward(alert))
        replies: list[pb.Envelope] = []
        for ob in out.messages:
            if inline_to is not None and ob.to == inline_to:
                reply = self.transport.prepare_reply(ob.envelope)
                if reply is not None:
                    self.metrics.envelope("out", reply)
                    replies.append(reply)
            else:
                self.send(ob)
        # Anything the core did may have moved its next deadline.
        self._wake.set()
        return replies

    async def _forward(self, report: Report) -> None:
        """Hand one of the core's reports (swimfd.core.reports) to the local go-diss."""
        if report.kind == pb.LEFT_CLUSTER:
            # Our own leave goes through Leave, which returns once peers were told (bounded).
            await self.diss.leave(report.update.member)
            return
        ack = await self.diss.report(report.kind, report.update)
        if ack is not None:
            kind = pb.NoticeKind.Name(report.kind)
            self.log.debug("report_sent", kind=kind, member=report.member, duplicate=ack.duplicate)

    def send(self, ob: Outbound) -> None:
        if self.silenced() or ob.to == self.settings.node_id:
            return
        if not ob.addr:
            # The core knows no address for this member yet; nothing to dial.
            self.transport.stats.send_failures += 1
            return
        if self._pending >= MAX_PENDING:
            self.send_dropped += 1
            if self._warn_queue.allow():
                self.log.warning(
                    "send_queue_full",
                    pending=self._pending,
                    dropped=self.send_dropped,
                    suppressed=self._warn_queue.take_suppressed(),
                )
            return
        self._pending += 1
        self._spawn(self._deliver(ob))

    async def _deliver(self, ob: Outbound) -> None:
        try:
            async with self._send_slots:
                self.metrics.envelope("out", ob.envelope)
                try:
                    replies = await self.transport.deliver(ob.addr, ob.envelope)
                except TransportError as e:
                    # Unreachable peers are the detector's business, not an error of ours; a refusal is
                    # evidence it weighs (send_failed), silence it already times out on its own.
                    if e.refused and not (self._stopping or self.silenced()):
                        with contextlib.suppress(Rejected):
                            self._core("send_failed", lambda: self.node.send_failed(ob.to, True, self.now()))
                    return
        finally:
            self._pending -= 1
        for env in replies:
            self.metrics.envelope("in", env)
            if self._stopping or self.silenced():
                return
            if env.header.sender != ob.to:
                # Inline replies are the called member's own answers (the core answers its caller inline);
                # one naming another sender is that member trying to speak for someone else.
                self.transport.stats.rejected_in += 1
                self.note_refused(
                    Refusal(
                        "DeliverReply", Caller(ob.addr, ob.to), env.header.sender, "inline reply names another sender"
                    )
                )
                continue
            with contextlib.suppress(Rejected):  # already counted and logged by _core
                self._core(
                    "receive",
                    lambda env=env: self.node.receive(env, self.now()),
                    peer=ob.addr,
                    sender=env.header.sender,
                )

    def _core(
        self, what: str, call: Callable[[], Output], inline_to: str | None = None, peer: str = "", sender: str = ""
    ) -> list[pb.Envelope]:
        """Run one core call; a bad message is counted, a core bug is logged, neither stops the node."""
        try:
            out = call()
        except ProtocolError as e:
            self.protocol_errors += 1
            if self._warn_protocol.allow():
                self.log.warning(
                    "protocol_error", call=what, detail=str(e), suppressed=self._warn_protocol.take_suppressed()
                )
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, str(e)) from e
        except Exception as e:
            if self._warn_core.allow():
                self.log.error("core_error", call=what, suppressed=self._warn_core.take_suppressed(), exc_info=True)
            raise Rejected(grpc.StatusCode.INTERNAL, f"{what} failed: {type(e).__name__}") from e
        return self.apply(out, inline_to, peer, sender)

    # ------------------------------------------------------------ RPC handlers

    def note_rejected(self, rpc: str, e: Rejected, peer: str = "", sender: str = "") -> None:
        """A refused call: counted, and logged at warning (rate-limited, swimfd.runtime.refusals)."""
        self.transport.stats.rejected_in += 1
        self.refusals.note(peer=peer, sender=sender, reason=e.code.name.lower(), detail=e.detail, rpc=rpc)

    def note_refused(self, r: Refusal) -> None:
        """A caller acted as a member its certificate does not name: one warning per (rpc, certificate) a second."""
        self.identity_refused += 1
        key = (r.rpc, r.caller.member or "")
        limit = self._warn_identity.get(key)
        if limit is None:
            if len(self._warn_identity) >= 1024:  # bounded: certificates are few, but never trust that
                self._warn_identity.clear()
            limit = self._warn_identity[key] = RateLimit(1.0)
        if limit.allow():
            self.log.warning(
                "identity_refused",
                rpc=r.rpc,
                peer=r.caller.peer,
                claimed_sender=r.claimed,
                cert_id=r.caller.member,
                reason=r.reason,
                suppressed=limit.take_suppressed(),
            )

    def on_deliver(self, env: pb.Envelope, peer: str = "") -> list[pb.Envelope]:
        stats = self.transport.stats
        stats.msgs_recv += 1
        stats.bytes_recv += env.ByteSize()
        self.metrics.envelope("in", env)
        check_header(env, self.config.cluster)
        fault = self.transport.fault
        if self._stopping or self.silenced():
            return []
        if fault is not None and fault.drop():
            stats.dropped_in += 1
            return []
        return self._core(
            "receive",
            lambda: self.node.receive(env, self.now()),
            inline_to=env.header.sender,
            peer=peer,
            sender=env.header.sender,
        )

    def on_join(self, req: pb.JoinRequest, peer: str = "") -> pb.JoinReply:
        """Answer a join without admitting the joiner yet: ``commit_join`` admits it once the reply went out."""
        self.metrics.message("in", "join", req.ByteSize())
        check_header(req, self.config.cluster)
        if not req.HasField("member") or not req.member.id or not req.member.addr:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, "join request needs member.id and member.addr")
        if self._stopping:
            raise Rejected(grpc.StatusCode.UNAVAILABLE, "this node is leaving")
        holder: list[pb.JoinReply] = []

        def call() -> Output:
            holder.append(self.node.prepare_join(req, self.now()))
            return Output()

        self._core("join", call, peer=peer, sender=req.header.sender)
        reply = holder[0]
        reply.header.CopyFrom(self.header())
        return reply

    def commit_join(self, req: pb.JoinRequest, answered: bool) -> None:
        """The join's reply went out (answered) or did not: admit the joiner only in the first case."""
        if not answered:
            self.log.warning("join_not_admitted", member=req.member.id, reason="the reply was not delivered")
            return
        if self._stopping:
            return
        with contextlib.suppress(Rejected):  # the admitted join's report rides in the core's output
            self._core("join", lambda: self.node.admit_join(req, self.now()), sender=req.header.sender)

    def on_leave(self, req: pb.LeaveRequest) -> pb.LeaveReply:
        self.metrics.message("in", "leave", req.ByteSize())
        check_header(req, self.config.cluster)
        if not req.HasField("member") or not req.member.id:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, "leave request needs member.id")
        member = pb.Member()
        member.CopyFrom(req.member)
        member.state = pb.LEFT
        update = pb.Update(member=member)
        setattr(update, "from", member.id)
        notice = pb.Notice(header=req.header, kind=pb.LEFT_CLUSTER, update=update, origin=member.id)
        self._core("leave", lambda: self.node.apply_notice(notice, self.now())[1])
        return pb.LeaveReply(header=self.header())

    def on_notify(self, notice: pb.Notice, peer: str = "") -> pb.NoticeAck:
        self.metrics.message("in", "notice", notice.ByteSize())
        check_header(notice, self.config.cluster)
        if not notice.HasField("update") or not notice.update.member.id:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, "notice needs update.member.id")
        applied: list[bool] = []

        def call() -> Output:
            ok, out = self.node.apply_notice(notice, self.now())
            applied.append(ok)
            return out

        self._core("notify", call, peer=peer, sender=notice.origin or notice.header.sender)
        return pb.NoticeAck(header=self.header(), applied=applied[0])

    def on_members(self, req: pb.MembersRequest) -> pb.MembersReply:
        self._check_operator(req)
        return self._members_reply()

    def _check_operator(self, req: pb.MembersRequest | pb.WatchRequest | pb.SetLabelsRequest) -> None:
        # Operators (the members, labels and monitor commands) may leave the cluster name empty; a
        # request naming a cluster is checked. Who may call at all is the TLS layer's and
        # runtime/identity.py's business (a certificate from the bundle).
        if req.header.cluster:
            check_header(req, self.config.cluster)

    def _members_reply(self) -> pb.MembersReply:
        reply = pb.MembersReply(header=self.header(), self_id=self.settings.node_id, mode=self.config.mode)
        for mv in self.node.view():
            item = reply.members.add()
            item.CopyFrom(mv)
            item.last_change = mv.last_change + self.epoch_offset
        leader = self.node.leader()
        if leader is not None:
            reply.leader.CopyFrom(leader)
        return reply

    def on_watch(self, req: pb.WatchRequest) -> AsyncIterator[pb.WatchEvent]:
        """Subscribe now (so no event falls between the snapshot and the stream), then stream."""
        self._check_operator(req)
        if self._stopping:
            raise Rejected(grpc.StatusCode.UNAVAILABLE, "this node is stopping")
        try:
            sub = self.watch.subscribe()
        except TooManySubscribers as e:
            raise Rejected(grpc.StatusCode.RESOURCE_EXHAUSTED, str(e)) from e
        snapshot = pb.WatchEvent(event="snapshot", node=self.settings.node_id, snapshot=self._members_reply())

        async def stream() -> AsyncIterator[pb.WatchEvent]:
            try:
                yield snapshot
                while (we := await sub.get()) is not None:
                    yield we
            finally:
                self.watch.unsubscribe(sub)

        return stream()

    def on_set_labels(self, req: pb.SetLabelsRequest) -> pb.SetLabelsReply:
        """Change our own labels: ``set`` then ``remove`` over the current ones (or over none with ``replace``)."""
        self._check_operator(req)
        if self._stopping:
            raise Rejected(grpc.StatusCode.UNAVAILABLE, "this node is leaving")
        labels = {} if req.replace else dict(self.node.me.labels)
        labels.update(req.set)
        for key in req.remove:
            labels.pop(key, None)
        self.set_labels(labels)
        return pb.SetLabelsReply(header=self.header(), member=self.node.me)

    def set_labels(self, labels: dict[str, str]) -> None:
        """Replace our own labels (Rejected INVALID_ARGUMENT beyond swimfd.core.config's limits); logs the change."""
        try:
            check_labels(labels_from(labels))  # here, so a refusal is the caller's error and not a core error
        except ConfigError as e:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, str(e)) from e
        before = self.node.me.incarnation
        self._core("set_labels", lambda: self.node.set_labels(labels, self.now()))
        if self.node.me.incarnation != before:
            self.log.info("labels_changed", labels=labels, incarnation=self.node.me.incarnation)

    # ----------------------------------------------------------------- loops

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            self._poll_feign()
            if self.now() >= self.node.next_deadline() and not self.silenced():
                with contextlib.suppress(Rejected):
                    self._core("tick", lambda: self.node.tick(self.now()))
            deadline = self.node.next_deadline()
            if self.feign is not None:
                deadline = min(deadline, self.feign.next_deadline())
            delay = min(max(deadline - self.now(), 0.001), MAX_SLEEP)
            self._wake.clear()
            wake = loop.create_task(self._wake.wait())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake, delay)

    def _on_lag(self, lag: float, now: float) -> None:
        """Back-pressure: our own loop ran late; the core decides whether it counts against our health."""
        self.max_lag = max(self.max_lag, lag)
        if self.node.observe_lag(lag, now):
            self.log.info("local_health_lagging", lag_s=round(lag, 3), health=self.node.health)

    async def _stats_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(STATS_EVERY)
            self.log_stats()

    def log_stats(self) -> None:
        self.log.info(
            "transport_stats",
            **self.transport.stats.as_dict(),
            send_dropped=self.send_dropped,
            pending=self._pending,
            channels=len(self.transport.channels),
            protocol_errors=self.protocol_errors,
            refused=self.refusals.total,
            refused_by_reason=dict(self.refusals.counts),
            reports_failed=self.diss.reports_failed,
            max_loop_lag_s=round(self.max_lag, 3),
            health=self.node.health,
        )
        self.max_lag = 0.0  # per stats period

    async def _join_loop(self) -> None:
        """Join through the seeds in random order until one answers; retry with backoff while none does."""
        seeds = list(self.settings.seeds)
        backoff = 0.5
        while not self._stopping:
            self._rng.shuffle(seeds)
            errors: list[str] = []
            for seed in seeds:
                try:
                    reply = await self._join_once(seed)
                except (grpc.aio.AioRpcError, Rejected) as e:
                    code = e.code().name if isinstance(e, grpc.aio.AioRpcError) else e.code.name
                    errors.append(f"{seed}: {code}")
                    continue
                if self._stopping:
                    return
                with contextlib.suppress(Rejected):
                    self._core("bootstrap", lambda reply=reply: self.node.bootstrap(reply.members, self.now()))
                self.log.info("joined", seed=seed, members=len(reply.members))
                await self.health.update(joined=True)
                return
            self.log.warning("join_failed", errors=errors, retry_in=backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _join_once(self, seed: str) -> pb.JoinReply:
        req = pb.JoinRequest(header=self.header(), member=self.node.me)
        stub = swim_pb2_grpc.FailureDetectorStub(self.transport.channels.get(seed))
        reply: pb.JoinReply = await stub.Join(req, timeout=JOIN_TIMEOUT)
        check_header(reply, self.config.cluster)
        return reply

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        host, port = split_hostport(self.settings.bind, "--bind")
        # Checked first so the usual case gets a precise reason and no gRPC core error on stderr.
        problem = bind_problem(host, port)
        if problem is not None:
            raise StartError(f"cannot listen on {self.settings.bind}: {problem}")
        identity = IdentityRule(self.settings.node_id, self.node.addr_owner) if self.tls is not None else None
        server = make_server(
            self, self.config.max_message_bytes, health_servicer=self.health.servicer, identity=identity
        )
        try:
            if self.tls is not None:
                bound = server.add_secure_port(self.settings.bind, self.tls.server_credentials())
            else:
                bound = server.add_insecure_port(self.settings.bind)
        except RuntimeError:
            bound = 0
        if bound == 0:
            raise StartError(f"cannot listen on {self.settings.bind}: {bind_problem(host, port) or 'gRPC refused it'}")
        await server.start()
        self.server = server
        self._started = True
        if self.settings.metrics_addr is not None:
            # Imported here: aiohttp and prometheus_client are loaded only by a node that serves /metrics.
            from swimfd.runtime.metrics_export import PrometheusExport
            from swimfd.runtime.metrics_http import MetricsServer

            self.metrics_server = MetricsServer(self.settings.metrics_addr, PrometheusExport(self.metrics).render)
            try:
                await self.metrics_server.start()
            except OSError as e:
                self.metrics_server = None
                raise StartError(f"--metrics-addr {self.settings.metrics_addr}: {e.strerror or e}") from e
        # With --join the node serves once a seed let it in; with static members it already knows them.
        # A node without a dissemination service (diss_addr "", swimfd.api) does not wait for one.
        no_diss = {"diss_down": None} if not self.settings.diss_addr else {}
        await self.health.update(started=True, joined=not self.settings.seeds, **no_diss)

        if self.settings.diss_listen is not None:
            self.diss_process = DissProcess(
                DissCommand(
                    binary=self.settings.go_diss,
                    node_id=self.settings.node_id,
                    listen=self.settings.diss_listen,
                    detector=self._local_detector_addr(),
                    cluster=self.config.cluster,
                    tls=self.tls.files if self.tls is not None else None,
                    log_file=_diss_log_file(self.settings.log_file),
                    log_level=self.settings.log_level,
                    metrics_addr=self.settings.diss_metrics_addr,
                    max_message_bytes=self.config.max_message_bytes,
                    test_loss=self.settings.test_loss,
                ),
                self.log,
            )
            try:
                await self.diss_process.start()
            except DissStartError as e:
                self.log.warning("dissemination_unavailable", detail=str(e))
                self.diss_process = None
                await self.health.update(diss_down=str(e))

        statics = [
            pb.Member(id=str(i + 1), addr=addr, diss_addr=diss_addr_for(addr, "MEMBERS"), state=pb.ALIVE)
            for i, addr in enumerate(self.settings.members)
            if str(i + 1) != self.settings.node_id
        ]
        with contextlib.suppress(Rejected):
            self._core("bootstrap", lambda: self.node.bootstrap(statics, self.now()))

        loops = [
            self._tick_loop(),
            self._stats_loop(),
            watch_lag(self._on_lag, clock=self._clock, stopping=lambda: self._stopping),
        ]
        if self.settings.diss_addr:
            loops += [self._check_diss(), self._watch_diss()]
        self._loops = [asyncio.get_running_loop().create_task(c) for c in loops]
        if self.settings.seeds:
            self._loops.append(asyncio.get_running_loop().create_task(self._join_loop()))
        if self.diss_process is not None:
            self._loops.append(asyncio.get_running_loop().create_task(self.diss_process.supervise()))
        self.log.info(
            "node_started",
            addr=self.settings.advertise,
            bind=self.settings.bind,
            diss_addr=self.settings.diss_addr,
            mode=self.config.mode,
            cluster=self.config.cluster,
            members=len(self.settings.members),
            seeds=list(self.settings.seeds),
            incarnation=self.node.me.incarnation,
            pid=os.getpid(),
            test_loss=self.settings.test_loss,
            metrics_addr=self.settings.metrics_addr,
            diss_metrics_addr=self.settings.diss_metrics_addr if self.diss_process is not None else None,
            event_handlers=len(self.settings.event_handlers),
            tls=self.tls is not None,
        )
        if self.tls is None:
            self.log.warning(
                "insecure_plaintext",
                detail="--insecure: no TLS; anyone who reaches these ports can act as any member",
            )

    async def _check_diss(self) -> None:
        if not await self.diss.wait_ready(DISS_READY_TIMEOUT):
            return
        # Both sides must bound messages alike, or one would send what the other refuses.
        theirs = await self.diss.message_limit()
        if theirs is not None and theirs != self.config.max_message_bytes:
            detail = (
                f"go-diss at {self.settings.diss_addr} bounds messages at {theirs} bytes, "
                f"this detector at {self.config.max_message_bytes} (max_message_bytes)"
            )
            self.log.error("message_limit_mismatch", detail=detail)
            await self.health.update(diss_down=detail)

    async def _watch_diss(self) -> None:
        await watch_diss(
            local_diss_addr(self.settings),
            lambda reason: self.health.update(diss_down=reason),
            credentials=self._channel_credentials,
        )

    def _local_detector_addr(self) -> str:
        return local_addr(self.settings.bind)

    async def stop(self, graceful: bool = True) -> None:
        """Leave the cluster (graceful), then stop serving, stop go-diss and close channels."""
        if not self._started:
            if self.metrics_server is not None:
                await self.metrics_server.stop()
            await self.diss.close()
            await self.transport.channels.close()
            return
        # NOT_SERVING before anything else, so probes stop routing to us while we leave.
        await self.health.update(leaving=True)
        if self.diss_process is not None:
            self.diss_process.hold()
        if graceful and not self._stopping:
            self.log.info("node_leaving")
            with contextlib.suppress(Rejected):
                self._core("leave", lambda: self.node.leave(self.now()))  # its output reports our leave
            if self._leaving is not None:
                await self._leaving
            await self._drain(LEAVE_FLUSH)
        self._stopping = True
        self.watch.close()  # Watch streams end before the server stops
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self.server is not None:
            await self.health.shutdown()
            await self.server.stop(grace=0.5)
        if self.diss_process is not None:
            await self.diss_process.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.hooks.close()
        if self.metrics_server is not None:
            await self.metrics_server.stop()
        self.log_stats()
        await self.diss.close()
        await self.transport.channels.close()
        self.log.info("node_stopped")

    async def _drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` for queued sends and reports to finish."""
        deadline = self.now() + timeout
        while self._tasks and self.now() < deadline:
            await asyncio.wait(list(self._tasks), timeout=max(deadline - self.now(), 0.0))


def local_addr(listen: str) -> str:
    """How a process on this host reaches a server listening on ``listen`` (a wildcard means loopback)."""
    host, port = split_hostport(listen, "--bind")
    if host in ("0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    return f"{host}:{port}"


def local_diss_addr(settings: RuntimeSettings) -> str:
    """Where the detector reaches its own go-diss: the child it started is dialled where it listens, not
    at the advertised address (which may be a DNS name or NAT address that does not lead back here)."""
    return settings.diss_addr if settings.diss_listen is None else local_addr(settings.diss_listen)


def _diss_log_file(log_file: str | None) -> str | None:
    if log_file is None:
        return None
    stem = log_file.removesuffix(".log")
    return f"{stem}.diss.log"


async def serve(settings: RuntimeSettings) -> int:
    """Run one node until SIGTERM/SIGINT, then leave gracefully; returns the exit code."""
    try:
        stream = open_log_stream(settings.log_file)
    except OSError as e:
        raise StartError(f"--log-file: cannot open {settings.log_file}: {e.strerror}") from e
    log = make_logger(stream, settings.node_id, settings.log_level)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runtime = Runtime(settings, log)
    loop.add_signal_handler(signal.SIGHUP, runtime.reload_tls)
    try:
        await runtime.start()
    except StartError:
        await runtime.stop(graceful=False)
        raise
    await stop.wait()
    await runtime.stop(graceful=True)
    return 0
