"""Follow every member: poll each one's Members RPC and feed the replies to the model.

There is no Watch stream yet, so the collector polls: every ``interval`` it asks
the seeds and every detector address any view has mentioned, at most
``concurrency`` calls at a time, each with a deadline. A failed call marks that
observer unreachable; its row stays on the page, greyed, with its last view.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import grpc

from swimfd.core.config import PROTOCOL_VERSION
from swimfd.monitor.state import Event, MemberObs, MonitorState, Snapshot
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
            return self.state.observe(addr, snapshot_from_reply(reply), self.clock())

    async def poll_round(self) -> list[Event]:
        """Ask every known member once; returns the timeline events the replies produced."""
        gate = asyncio.Semaphore(self.concurrency)
        targets = sorted(set(self.seeds) | self.state.addresses())
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
        for ch in self.channels.values():
            await ch.close()
        self.channels.clear()
