"""Follow every member: its Watch stream where it has one, its Members RPC every round.

Every ``interval`` the collector asks the seeds and every detector address any
view has mentioned, at most ``concurrency`` calls at a time, each with a
deadline. A failed call marks that observer unreachable; its row stays on the
page, greyed, with its last view.

Where a member serves ``Watch``, the collector also follows that stream and
applies each event to the member's view the moment it arrives, so the timeline
does not wait for the next round. The round's Members call then only proves the
member is still answering (a stopped process keeps its stream open, silent):
its reply is not fed to the model, which would race the stream's newer events.
A member without Watch (UNIMPLEMENTED, an older node) is polled as before; a
stream that breaks or lags is opened again, with a fresh snapshot, next round.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

import grpc

from swimfd.core.config import PROTOCOL_VERSION
from swimfd.monitor.state import ALIVE, DEAD, LEFT, SUSPECT, Event, MemberObs, MonitorState, Snapshot
from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc

SENDER = "swimfd-monitor"
# Reconnect quickly to a member that comes back, instead of gRPC's default back-off of up to two minutes.
CHANNEL_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 200), ("grpc.max_reconnect_backoff_ms", 1000)]


def _optional(msg: object, name: str) -> str:
    """A string field the message may not have yet (older swim.proto): '' when absent."""
    fields = msg.DESCRIPTOR.fields_by_name  # type: ignore[attr-defined]
    return str(getattr(msg, name)) if name in fields else ""


def snapshot_from_reply(reply: pb.MembersReply) -> Snapshot:
    members = tuple(
        MemberObs(
            subject=mv.member.id,
            addr=mv.member.addr,
            state=pb.MemberState.Name(mv.member.state),
            incarnation=mv.member.incarnation,
            last_change=mv.last_change,
            detector=_optional(mv, "detector"),
            source=_optional(mv, "source"),
        )
        for mv in reply.members
    )
    leader, term = "", 0
    if reply.HasField("leader") and reply.leader.leader.id:
        leader, term = reply.leader.leader.id, reply.leader.term
    return Snapshot(reply.self_id, reply.mode, leader, term, members)


# Watch event -> the state it puts its member in (swimfd.core.events names).
STATE_OF_EVENT = {
    "member_joined": ALIVE,
    "member_alive": ALIVE,
    "member_suspected": SUSPECT,
    "member_failed": DEAD,
    "member_left": LEFT,
}


def apply_watch_event(snap: Snapshot, we: pb.WatchEvent) -> Snapshot:
    """``snap`` after one Watch event of its observer (unknown event names change nothing)."""
    if we.event == "leader_elected":
        return replace(snap, leader=we.extra.get("leader", we.member), term=int(we.extra.get("term", snap.term)))
    others = tuple(m for m in snap.members if m.subject != we.member)
    if we.event == "member_removed":
        return replace(snap, members=others)
    state = STATE_OF_EVENT.get(we.event)
    if state is None:
        return snap
    old = next((m for m in snap.members if m.subject == we.member), None)
    obs = MemberObs(
        subject=we.member,
        addr=we.addr or (old.addr if old is not None else ""),
        state=state,
        incarnation=we.incarnation,
        last_change=we.timestamp,
        detector=we.detector,
        source=we.source,
    )
    return replace(snap, members=(*others, obs))


@dataclass
class Collector:
    seeds: Sequence[str]
    state: MonitorState
    interval: float = 0.5
    timeout: float = 1.0
    concurrency: int = 16
    cluster: str = ""
    credentials: grpc.ChannelCredentials | None = None  # mTLS to secured nodes; plaintext when None
    clock: Callable[[], float] = time.time
    on_events: Callable[[list[Event]], None] = lambda _events: None
    channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)
    watch: bool = True  # follow Watch streams where members serve them
    streams: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    streamed: dict[str, Snapshot] = field(default_factory=dict)  # address -> its view as its stream keeps it
    no_watch: set[str] = field(default_factory=set)  # addresses that answered Watch with UNIMPLEMENTED

    def _channel(self, addr: str) -> grpc.aio.Channel:
        ch = self.channels.get(addr)
        if ch is None:
            if self.credentials is not None:
                ch = grpc.aio.secure_channel(addr, self.credentials, options=CHANNEL_OPTIONS)
            else:
                ch = grpc.aio.insecure_channel(addr, options=CHANNEL_OPTIONS)
            self.channels[addr] = ch
        return ch

    def _request(self) -> pb.MembersRequest:
        return pb.MembersRequest(header=pb.Header(version=PROTOCOL_VERSION, cluster=self.cluster, sender=SENDER))

    async def _poll(self, addr: str, gate: asyncio.Semaphore) -> list[Event]:
        async with gate:
            try:
                stub = swim_pb2_grpc.FailureDetectorStub(self._channel(addr))
                reply = await stub.Members(self._request(), timeout=self.timeout)
            except grpc.RpcError as e:
                code = e.code().name if isinstance(e, grpc.aio.AioRpcError) else "UNKNOWN"
                return self.state.unreachable(addr, self.clock(), code)
            streamed = self.streamed.get(addr)
            # With a live stream the reply only proves the member answers; its view comes from the stream.
            snap = streamed if streamed is not None else snapshot_from_reply(reply)
            return self.state.observe(addr, snap, self.clock())

    def _follow(self, addr: str) -> None:
        """Make sure ``addr``'s Watch stream is being followed (unless it has none)."""
        if not self.watch or addr in self.no_watch:
            return
        task = self.streams.get(addr)
        if task is None or task.done():
            self.streams[addr] = asyncio.get_running_loop().create_task(self._stream(addr))

    async def _stream(self, addr: str) -> None:
        req = pb.WatchRequest(header=pb.Header(version=PROTOCOL_VERSION, cluster=self.cluster, sender=SENDER))
        snap: Snapshot | None = None
        try:
            call = swim_pb2_grpc.FailureDetectorStub(self._channel(addr)).Watch(req)
            async for we in call:
                if we.event == "snapshot":
                    snap = snapshot_from_reply(we.snapshot)
                elif we.event == "lagged" or snap is None:
                    return  # events were lost: start again from a fresh snapshot next round
                else:
                    snap = apply_watch_event(snap, we)
                self.streamed[addr] = snap
                self.on_events(self.state.observe(addr, snap, self.clock()))
        except grpc.RpcError as e:
            if isinstance(e, grpc.aio.AioRpcError) and e.code() == grpc.StatusCode.UNIMPLEMENTED:
                self.no_watch.add(addr)
            # Anything else: the round's Members call notices and reports it.
        finally:
            self.streamed.pop(addr, None)

    async def poll_round(self) -> list[Event]:
        """Ask every known member once; returns the timeline events the replies produced."""
        gate = asyncio.Semaphore(self.concurrency)
        targets = sorted(set(self.seeds) | self.state.addresses())
        for addr in targets:
            self._follow(addr)
        results = await asyncio.gather(*(self._poll(a, gate) for a in targets))
        events = [e for r in results for e in r]
        self.on_events(events)
        return events

    async def run(self, after_round: Callable[[], Awaitable[None]]) -> None:
        """Poll forever, calling ``after_round`` after each round (the web app pushes the view then)."""
        try:
            while True:
                started = asyncio.get_running_loop().time()
                await self.poll_round()
                await after_round()
                elapsed = asyncio.get_running_loop().time() - started
                await asyncio.sleep(max(self.interval - elapsed, 0.0))
        finally:
            await self.close()

    async def close(self) -> None:
        for task in self.streams.values():
            task.cancel()
        await asyncio.gather(*self.streams.values(), return_exceptions=True)
        self.streams.clear()
        for ch in self.channels.values():
            await ch.close()
        self.channels.clear()
