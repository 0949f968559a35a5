"""Deterministic discrete-event simulator driving real protocol cores.

Virtual time, one heap of timed actions, no threads and no sockets. Every
member is a real ``swimfd.core.node.Node`` (or any object with the same methods,
for tests): the simulator calls ``tick`` at the node's ``next_deadline()``,
routes every ``Outbound`` through a seeded ``Network`` model and hands it to
the destination's ``receive``. Same seed, same calls -> the same event log.

Faults:

* ``crash(id, at)``: the process stops for good. Its host stays up, so a
  message to it is *refused*: the sender's core hears ``send_failed(id,
  refused=True)`` one delay after the message arrived (the kernel's reset
  travelling back). ``crash(id, at, refuse=False)`` (or ``crash_refuses=False``
  for every crash) models a host that is down: messages vanish in silence.
  A member that left and stopped refuses too; paused and partitioned members
  are silent (docs/detection.md).
* ``pause(id, at, duration)``: a stopped (SIGSTOP, long GC) process. It sends
  nothing and its timers do not fire; on resume it ticks at once, so overdue
  timers fire late. Messages that arrive while it is paused are lost by default
  (``paused_inbound="drop"``): the runtime sends each message as a gRPC call
  with a deadline, which expires while the receiver is stopped. With
  ``paused_inbound="queue"`` they are delivered, in arrival order, on resume
  (what a kernel socket buffer would do for a short pause).
* ``partition(groups, at, heal_at)``: cut links between groups, heal later.
* per-message loss, one-way link loss and delays: see ``swimfd.sim.network``.

Membership changes: ``join(id, at, seed_id)`` starts a new node and bootstraps
it from the seed's ``handle_join`` reply (the request is a reliable RPC, so it
sees partitions but not message loss); ``leave(id, at)`` calls ``node.leave``
and stops the process ``leave_grace`` seconds later, so the LEFT update can
ride on its last messages.

Received envelopes are the sender's objects (no serialization, for speed), so
cores must treat them as read-only; ``wire=True`` round-trips every message
through its protobuf encoding instead.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, Protocol

from swimfd.core.config import PROTOCOL_VERSION, Config
from swimfd.core.events import MembershipEvent, Output
from swimfd.core.membership import SharedView
from swimfd.core.node import Node
from swimfd.core.reports import Report
from swimfd.core.wire import ProtocolError
from swimfd.pb import swim_pb2 as pb
from swimfd.sim import metrics as sim_metrics
from swimfd.sim.network import Network

PausedInbound = Literal["drop", "queue"]
Boot = Literal["together", "staggered"]

# Process states.
_NOT_STARTED, _RUNNING, _PAUSED, _CRASHED, _STOPPED = range(5)
# Heap entry kinds; an entry is (time, seq, kind, member id, payload, sender id).
_DELIVER, _TICK, _CALL, _NOTICE, _REFUSED = range(5)
# A node whose deadline does not move past `now` after a tick is re-ticked this much later, never in a busy loop.
_MIN_TICK_GAP = 1e-3
_JOIN_RETRY = 1.0
_JOIN_ATTEMPTS = 30


class SimNode(Protocol):
    """What the simulator needs from a protocol core (swimfd.core.node.Node has it)."""

    def bootstrap(self, members: Iterable[pb.Member], now: float) -> Output: ...
    def tick(self, now: float) -> Output: ...
    def next_deadline(self) -> float: ...
    def receive(self, envelope: pb.Envelope, now: float) -> Output: ...
    def handle_join(self, request: pb.JoinRequest, now: float) -> tuple[pb.JoinReply, Output]: ...
    def leave(self, now: float) -> Output: ...
    def apply_notice(self, notice: pb.Notice, now: float) -> tuple[bool, Output]: ...
    def view(self) -> list[pb.MembershipView]: ...


NodeFactory = Callable[[Config, pb.Member, random.Random, float], SimNode]


class SimulationError(ValueError):
    """A scenario that cannot be run (unknown member, time in the past, ...)."""


def member_record(member_id: str, index: int, incarnation: int = 0) -> pb.Member:
    """The simulated member's identity. Addresses are unique and well formed
    (10.x.y.z), as many members as needed; nothing is ever dialled."""
    host = f"10.{(index >> 16) & 255}.{(index >> 8) & 255}.{index & 255}"
    return pb.Member(
        id=member_id,
        addr=f"{host}:50051",
        diss_addr=f"{host}:50061",
        incarnation=incarnation,
        state=pb.ALIVE,
    )


class Simulator:
    def __init__(
        self,
        n: int,
        config: Config,
        seed: int = 0,
        network: Network | None = None,
        start_stagger: float | None = None,
        *,
        node_factory: NodeFactory | None = None,
        protocol_error: type[Exception] | None = None,
        paused_inbound: PausedInbound = "drop",
        wire: bool = False,
        leave_grace: float | None = None,
        warmup: float = 0.0,
        boot: Boot = "together",
        record_bootstrap_events: bool = False,
        dissemination: bool = False,
        crash_refuses: bool = True,
    ) -> None:
        """n members with ids "1".."n", each bootstrapped with the full list
        (the static MEMBERS deployment). Each member's timers start at a seeded
        random phase in [0, start_stagger) (default: one probe interval), so
        members do not probe in lockstep.

        boot="together": every process is up and reachable at t=0 and only its
        first tick waits for its phase (a quiet start: the scenarios measure
        steady state). boot="staggered": each process starts at its phase, as
        an uncoordinated deployment would; members still booting miss the first
        probes, get suspected and refute (start-up noise).

        dissemination=True models go-diss next to every member: every report
        a core puts in its output (swimfd.core.reports: a failure it confirmed
        itself, a join it admitted, its own leave) is broadcast as a notice to
        the recipients ``notice_recipients`` names, whose cores apply it
        (apply_notice); each member's go-diss drops notices it has already
        seen (member, incarnation, kind). Notices travel as reliable RPCs
        (retried), so partitions stop them but loss does not.

        The initial members' bootstrap events (each learning the static list:
        n * (n - 1) member_joined) are not logged unless
        record_bootstrap_events. Load figures in result() count from ``warmup``."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise SimulationError(f"n: need at least one member, got {n!r}")
        if boot not in ("together", "staggered"):
            raise SimulationError(f"boot: 'together' or 'staggered', got {boot!r}")
        if paused_inbound not in ("drop", "queue"):
            raise SimulationError(f"paused_inbound: 'drop' or 'queue', got {paused_inbound!r}")
        stagger = config.probe_interval if start_stagger is None else float(start_stagger)
        if not (math.isfinite(stagger) and stagger >= 0):
            raise SimulationError(f"start_stagger: need a finite number >= 0, got {start_stagger!r}")
        if not (math.isfinite(warmup) and warmup >= 0):
            raise SimulationError(f"warmup: need a finite number >= 0, got {warmup!r}")
        if node_factory is None:
            node_factory = Node
            protocol_error = protocol_error or ProtocolError
        self.config = config
        self.seed = seed
        self.network = network if network is not None else Network(seed=seed)
        self.now = 0.0
        self.paused_inbound: PausedInbound = paused_inbound
        self.wire = wire
        self.leave_grace = 2 * config.probe_interval if leave_grace is None else float(leave_grace)
        self.warmup = float(warmup)
        self.record_bootstrap_events = record_bootstrap_events
        self.dissemination = dissemination
        self.crash_refuses = crash_refuses
        self._silent: set[str] = set()  # crashed with their host: no refusal
        self._diss_seen: dict[str, set[tuple[str, int, int]]] = {}

        self._factory = node_factory
        self._protocol_error: type[Exception] = protocol_error or _NeverRaised
        self._rng = random.Random(f"swimfd-sim-{seed}")
        self._heap: list[tuple[float, int, int, str, Any, str]] = []
        self._seq = 0
        self._status: dict[str, int] = {}
        self._tick_at: dict[str, float] = {}
        self._inbox: dict[str, list[tuple[pb.Envelope, str]]] = {}
        self._not_before: dict[str, float] = {}  # a member's first tick waits for its phase
        self._shared: SharedView | None = None  # the static list, shared by the cores (built on first use)
        self._next_index = 1

        self.ids: list[str] = [str(k) for k in range(1, n + 1)]
        self.members: dict[str, pb.Member] = {}
        self.nodes: dict[str, SimNode] = {}
        self.events: list[tuple[str, MembershipEvent]] = []
        self.truth = sim_metrics.Truth()

        # Counters. sent_* count every envelope a core emitted (real pb ByteSize).
        self.sent_messages = 0
        self.sent_bytes = 0
        self.lost_messages = 0  # dropped by the network (loss, partition)
        self.undelivered = 0  # reached a member that was down, paused or unknown
        self.refused = 0  # of those, refused at connect (a process gone from a live host)
        self.oversize = 0  # larger than config.max_message_bytes: the runtime would refuse it
        self.protocol_errors = 0  # receive() refused the envelope
        self.notices_sent = 0  # dissemination=True: go-diss notices, apart from detector traffic
        self.notice_bytes = 0
        self._warm_counts = (0, 0)

        initial = [self._new_member(mid) for mid in self.ids]
        self._initial = initial  # shared by every bootstrap: cores must not mutate it
        for m in initial:
            phase = stagger * self._rng.random() if stagger > 0 else 0.0
            start = phase if boot == "staggered" else 0.0
            self._not_before[m.id] = phase
            self._make_node(m, start)
            self._call(start, self._start_action(m.id))
        if self.warmup > 0:
            self._call(self.warmup, self._snapshot_counters)

    # ------------------------------------------------------------ scenario --

    def crash(self, member_id: str, at: float, refuse: bool | None = None) -> None:
        """The process stops for good. ``refuse`` (default ``crash_refuses``): its host is up and
        refuses connections; False: the host is down too, so messages vanish in silence."""
        self._known(member_id)
        if not (self.crash_refuses if refuse is None else refuse):
            self._silent.add(member_id)

        def act(now: float) -> None:
            if self._status[member_id] in (_CRASHED, _STOPPED):
                return
            self._status[member_id] = _CRASHED
            self._tick_at[member_id] = math.inf
            self._inbox.pop(member_id, None)
            self.truth.crashed[member_id] = now

        self._call(self._future(at), act)

    def pause(self, member_id: str, at: float, duration: float) -> None:
        self._known(member_id)
        if not (math.isfinite(duration) and duration > 0):
            raise SimulationError(f"pause duration: need a positive number of seconds, got {duration!r}")
        at = self._future(at)

        def stop(now: float) -> None:
            if self._status[member_id] == _RUNNING:
                self._status[member_id] = _PAUSED
                self._inbox[member_id] = []

        def resume(now: float) -> None:
            if self._status[member_id] != _PAUSED:
                return
            self._status[member_id] = _RUNNING
            for env, src in self._inbox.pop(member_id, []):
                self._push(now, _DELIVER, member_id, env, src)
            self._tick(member_id, now)

        self._call(at, stop)
        self._call(at + duration, resume)

    def partition(self, groups: Sequence[Iterable[str]], at: float, heal_at: float | None = None) -> None:
        frozen = [list(g) for g in groups]
        for g in frozen:
            for m in g:
                self._known(m)
        at = self._future(at)
        if heal_at is not None and heal_at <= at:
            raise SimulationError(f"partition: heal_at ({heal_at}) must be after the start ({at})")
        self._call(at, lambda now: self.network.partition(frozen))
        if heal_at is not None:
            self._call(heal_at, lambda now: self.network.heal())

    def join(self, member_id: str, at: float, seed_id: str) -> None:
        if member_id in self.members:
            raise SimulationError(f"join: member {member_id!r} already exists")
        self._known(seed_id)
        member = self._new_member(member_id)
        self.ids.append(member_id)
        self._status[member_id] = _NOT_STARTED
        self._call(self._future(at), self._join_action(member, seed_id, _JOIN_ATTEMPTS))

    def leave(self, member_id: str, at: float) -> None:
        self._known(member_id)

        def act(now: float) -> None:
            if self._status[member_id] != _RUNNING:
                return
            node = self.nodes[member_id]
            self.truth.left[member_id] = now
            self._emit(member_id, node.leave(now), now)  # its LEFT_CLUSTER report is broadcast from there
            self._reschedule(member_id, node, now)
            self._call(now + self.leave_grace, self._stop_action(member_id))

        self._call(self._future(at), act)

    def at(self, when: float, action: Callable[[float], None]) -> None:
        """Run action(now) at virtual time `when` (tests, custom faults)."""
        self._call(self._future(when), action)

    # ----------------------------------------------------------------- run --

    def run(self, until: float) -> None:
        """Advance virtual time to `until`, processing everything due by then."""
        if until < self.now:
            raise SimulationError(f"run: until ({until}) is before now ({self.now})")
        heap = self._heap
        pop = heapq.heappop
        status = self._status
        nodes = self.nodes
        tick_at = self._tick_at
        protocol_error = self._protocol_error
        emit = self._emit
        schedule_tick = self._schedule_tick
        while heap and heap[0][0] <= until:
            t, _, kind, dst, payload, src = pop(heap)
            self.now = t
            if kind == _DELIVER:
                st = status.get(dst)
                if st != _RUNNING:
                    if st == _PAUSED and self.paused_inbound == "queue":
                        self._inbox[dst].append((payload, src))
                    else:
                        self.undelivered += 1
                        if st in (_CRASHED, _STOPPED) and dst not in self._silent:
                            # Nothing listens on a live host: the connect is refused, the sender learns it.
                            self.refused += 1
                            self._push(t + self.network.delay_sample(), _REFUSED, src, dst, dst)
                    continue
                node = nodes[dst]
                try:
                    out = node.receive(payload, t)
                except protocol_error:
                    self.protocol_errors += 1
                    continue
                if out.messages or out.events or out.reports or out.alerts:
                    emit(dst, out, t)
                # inlined _reschedule: this path runs once per delivered message
                deadline = node.next_deadline()
                if deadline < tick_at[dst]:
                    schedule_tick(dst, deadline if deadline > t else t)
            elif kind == _TICK:
                if tick_at.get(dst) != t:
                    continue  # superseded by an earlier deadline
                tick_at[dst] = math.inf
                if status[dst] == _RUNNING:
                    self._tick(dst, t)
            elif kind == _CALL:
                payload(t)
            elif kind == _NOTICE:
                self._deliver_notice(dst, payload, t)
            else:
                self._deliver_refusal(dst, payload, t)
        self.now = until

    # -------------------------------------------------------------- output --

    def live_members(self) -> list[str]:
        """Members whose process runs (or is paused) and that have not left."""
        return [m for m in self.ids if self._status.get(m) in (_RUNNING, _PAUSED) and m not in self.truth.left]

    def status(self, member_id: str) -> str:
        return ("not_started", "running", "paused", "crashed", "stopped")[self._status[member_id]]

    def view_of(self, member_id: str) -> dict[str, int]:
        """{member id: state} of the members this node counts as in the group (ALIVE or SUSPECT)."""
        in_group = (pb.ALIVE, pb.SUSPECT)
        node = self.nodes[member_id]
        if hasattr(node, "member_states"):  # 10,000 views of 10,000 members: skip building messages
            return {m: st for m, st in node.member_states().items() if st in in_group}
        return {v.member.id: v.member.state for v in node.view() if v.member.state in in_group}

    def result(self, convergence_sample: int | None = None) -> dict[str, Any]:
        """Metrics as the CLI prints them with --json. convergence_sample: check
        the views of at most that many live members (a seeded sample) instead
        of all of them, for very large n."""
        self.truth.end = self.now
        det = sim_metrics.detections(self.events, self.truth)
        fp = sim_metrics.false_positives(self.events, self.truth)
        live = self.live_members()
        observers = live
        if convergence_sample is not None and len(live) > convergence_sample:
            observers = sorted(random.Random(self.seed).sample(live, convergence_sample), key=self.ids.index)
        # Views are compared on membership (who is in the group), not on transient suspicions: under message
        # loss some member is always briefly suspected somewhere. Suspicions held at the end are counted apart.
        suspects = 0

        def views() -> Iterable[tuple[str, frozenset[str]]]:
            nonlocal suspects
            for m in observers:
                v = self.view_of(m)
                suspects += sum(1 for state in v.values() if state == pb.SUSPECT)
                yield m, frozenset(v)

        conv = sim_metrics.convergence(views(), live)
        start = min(self.warmup, self.now) if self.now > self.warmup else 0.0
        msgs, nbytes = self.sent_messages, self.sent_bytes
        if start > 0:
            msgs -= self._warm_counts[0]
            nbytes -= self._warm_counts[1]
        node_s = sim_metrics.live_node_seconds(self.truth, start, self.now)
        first = [d.first_s for d in det if d.first_s is not None]
        every = [d.all_s for d in det if d.all_s is not None]
        return {
            "nodes": len(self.truth.started),
            "mode": self.config.mode,
            "seed": self.seed,
            "virtual_s": self.now,
            "killed": len(det),
            "detect_first_s": sim_metrics.percentiles(first),
            "detect_all_s": sim_metrics.percentiles(every),
            "detected_by_some": len(first),
            "detected_by_all": len(every),
            "false_positives": fp.count,
            "false_positive_members": fp.members,
            "msgs_per_node_s": msgs / node_s if node_s > 0 else 0.0,
            "bytes_per_node_s": nbytes / node_s if node_s > 0 else 0.0,
            "converged": conv.converged,
            "view_agreement": {
                "agreeing": conv.agreeing,
                "checked": conv.total,
                "live": len(live),
                "matches_truth": conv.matches_truth,
                "suspicions_held": suspects,
            },
            "messages": {
                "sent": self.sent_messages,
                "bytes": self.sent_bytes,
                "lost": self.lost_messages,
                "undelivered": self.undelivered,
                "refused": self.refused,
                "oversize": self.oversize,
                "protocol_errors": self.protocol_errors,
                "notices": self.notices_sent,
                "notice_bytes": self.notice_bytes,
            },
        }

    # ----------------------------------------------------------- internals --

    def _new_member(self, member_id: str) -> pb.Member:
        m = member_record(member_id, self._next_index)
        self._next_index += 1
        self.members[member_id] = m
        return m

    def _make_node(self, me: pb.Member, now: float) -> SimNode:
        # Each node gets its own stream, drawn in id order, so adding a member does not perturb the others.
        rng = random.Random(self._rng.getrandbits(64))
        node = self._factory(self.config, me, rng, now)
        self.nodes[me.id] = node
        self._status[me.id] = _NOT_STARTED
        self._tick_at[me.id] = math.inf
        return node

    def _start_action(self, member_id: str) -> Callable[[float], None]:
        def act(now: float) -> None:
            if self._status[member_id] != _NOT_STARTED:
                return  # crashed before it started
            self._status[member_id] = _RUNNING
            self.truth.started[member_id] = now
            node = self.nodes[member_id]
            shared = getattr(node, "bootstrap_shared", None)
            if shared is not None and not self.record_bootstrap_events:
                # Cores that can share one immutable view of the static list keep only their own changes:
                # n views of n members would otherwise be n^2 records.
                out = shared(self._shared_view(), now)
            else:
                out = node.bootstrap(self._initial, now)
                if not self.record_bootstrap_events:
                    out.events.clear()
            self._emit(member_id, out, now)
            self._reschedule(member_id, node, now)

        return act

    def _shared_view(self) -> SharedView:
        if self._shared is None:
            self._shared = SharedView(self._initial, 0.0)
        return self._shared

    def _join_action(self, member: pb.Member, seed_id: str, attempts: int) -> Callable[[float], None]:
        def act(now: float) -> None:
            mid = member.id
            if self._status[mid] != _NOT_STARTED:
                return
            seed_node = self.nodes.get(seed_id)
            if (
                seed_node is None
                or self._status[seed_id] != _RUNNING
                or not self.network.reachable(mid, seed_id)
                or not self.network.reachable(seed_id, mid)
            ):
                if attempts > 1:
                    self._call(now + _JOIN_RETRY, self._join_action(member, seed_id, attempts - 1))
                return
            request = pb.JoinRequest(
                header=pb.Header(
                    version=PROTOCOL_VERSION, cluster=self.config.cluster, sender=mid, sender_addr=member.addr
                ),
                member=member,
            )
            reply, out = seed_node.handle_join(request, now)
            self._emit(seed_id, out, now)
            self._reschedule(seed_id, seed_node, now)
            rtt = self.network.delay_sample() + self.network.delay_sample()
            self._call(now + rtt, self._bootstrap_joiner(member, list(reply.members)))

        return act

    def _bootstrap_joiner(self, member: pb.Member, members: list[pb.Member]) -> Callable[[float], None]:
        def act(now: float) -> None:
            if self._status[member.id] != _NOT_STARTED:
                return
            node = self._make_node(member, now)
            self._status[member.id] = _RUNNING
            self.truth.started[member.id] = now
            self._emit(member.id, node.bootstrap(members, now), now)
            self._reschedule(member.id, node, now)

        return act

    def _stop_action(self, member_id: str) -> Callable[[float], None]:
        def act(now: float) -> None:
            if self._status[member_id] in (_RUNNING, _PAUSED):
                self._status[member_id] = _STOPPED
                self._tick_at[member_id] = math.inf
                self._inbox.pop(member_id, None)

        return act

    def _snapshot_counters(self, now: float) -> None:
        self._warm_counts = (self.sent_messages, self.sent_bytes)

    def _known(self, member_id: str) -> None:
        if member_id not in self.members:
            raise SimulationError(f"unknown member {member_id!r}")

    def _future(self, at: float) -> float:
        if not math.isfinite(at) or at < self.now:
            raise SimulationError(f"time {at!r} is in the past (now {self.now}) or not finite")
        return float(at)

    def _push(self, t: float, kind: int, dst: str, payload: Any, src: str) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, dst, payload, src))

    def _call(self, t: float, action: Callable[[float], None]) -> None:
        self._push(t, _CALL, "", action, "")

    def _tick(self, member_id: str, now: float) -> None:
        node = self.nodes[member_id]
        out = node.tick(now)
        if out.messages or out.events or out.reports or out.alerts:
            self._emit(member_id, out, now)
        deadline = node.next_deadline()
        if deadline <= now:
            deadline = now + _MIN_TICK_GAP
        self._schedule_tick(member_id, deadline)

    def _reschedule(self, member_id: str, node: SimNode, now: float) -> None:
        deadline = node.next_deadline()
        if deadline < now:
            deadline = now
        self._schedule_tick(member_id, deadline)

    def _schedule_tick(self, member_id: str, deadline: float) -> None:
        # One live tick entry per node: an earlier deadline supersedes the queued one (it is skipped when popped).
        floor = self._not_before.get(member_id, 0.0)
        if deadline < floor:
            deadline = floor
        if deadline < self._tick_at[member_id] and deadline != math.inf:
            self._tick_at[member_id] = deadline
            self._seq += 1
            heapq.heappush(self._heap, (deadline, self._seq, _TICK, member_id, None, ""))

    def _emit(self, src: str, out: Output, now: float) -> None:
        if out.events:
            self.events.extend((src, ev) for ev in out.events)
        if self.dissemination:
            for report in out.reports:
                self._broadcast(src, report, now)
            for alert in out.alerts:
                self._broadcast(src, alert, now)
        messages = out.messages
        if not messages:
            return
        transit = self.network.transit
        heap = self._heap
        push = heapq.heappush
        limit = self.config.max_message_bytes
        sizes: dict[int, int] = {}  # the same envelope object sent to many peers is measured once
        seq = self._seq
        sent_bytes = 0
        for m in messages:
            env = m.envelope
            key = id(env)
            size = sizes.get(key)
            if size is None:
                size = sizes[key] = env.ByteSize()
            sent_bytes += size
            if size > limit:
                self.oversize += 1
                continue
            delay = transit(src, m.to)
            if delay is None:
                self.lost_messages += 1
                continue
            if self.wire:
                env = pb.Envelope.FromString(env.SerializeToString())
            seq += 1
            push(heap, (now + delay, seq, _DELIVER, m.to, env, src))
        self._seq = seq
        self.sent_messages += len(messages)
        self.sent_bytes += sent_bytes

    # --------------------------------------------------------- go-diss model --

    def notice_recipients(self, origin: str) -> list[str]:
        """Who origin's go-diss sends a notice to: every member not known to be down, except origin.

        The subject of the notice is a recipient too: a member accused of failing (falsely, say
        after a pause or a partition) hears the accusation and refutes it with a higher
        incarnation. Real go-diss follows the same rule.
        """
        down = (_CRASHED, _STOPPED)
        return [peer for peer in self.ids if peer != origin and self._status.get(peer) not in down]

    def _broadcast(self, origin: str, report: Report, now: float) -> None:
        key = (report.member, report.update.member.incarnation, report.kind)
        seen = self._diss_seen.setdefault(origin, set())
        if key in seen:
            return  # go-diss answers "duplicate" and broadcasts nothing
        seen.add(key)
        header = pb.Header(
            version=PROTOCOL_VERSION,
            cluster=self.config.cluster,
            sender=origin,
            sender_addr=self.members[origin].diss_addr,
        )
        notice = pb.Notice(header=header, kind=report.kind, update=report.update, origin=origin)
        size = notice.ByteSize()
        for peer in self.notice_recipients(origin):
            self.notices_sent += 1
            self.notice_bytes += size
            if not self.network.reachable(origin, peer):
                continue
            self._push(now + self.network.delay_sample(), _NOTICE, peer, notice, origin)

    def _deliver_refusal(self, member_id: str, peer: str, now: float) -> None:
        """``member_id``'s message to ``peer`` was refused at connect: tell its core."""
        node = self.nodes[member_id]
        send_failed = getattr(node, "send_failed", None)
        if self._status.get(member_id) != _RUNNING or send_failed is None:
            return
        out = send_failed(peer, True, now)
        if out.messages or out.events or out.reports or out.alerts:
            self._emit(member_id, out, now)
        self._reschedule(member_id, node, now)

    def _deliver_notice(self, member_id: str, notice: pb.Notice, now: float) -> None:
        if self._status.get(member_id) != _RUNNING:
            self.undelivered += 1
            return
        u = notice.update
        key = (u.member.id, u.member.incarnation, notice.kind)
        seen = self._diss_seen.setdefault(member_id, set())
        if key in seen:
            return
        seen.add(key)
        node = self.nodes[member_id]
        try:
            _applied, out = node.apply_notice(notice, now)
        except self._protocol_error:
            self.protocol_errors += 1
            return
        self._emit(member_id, out, now)
        self._reschedule(member_id, node, now)


class _NeverRaised(Exception):
    """Placeholder for a fake core that declares no protocol error type."""
