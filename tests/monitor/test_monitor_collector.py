"""The collector against in-process gRPC servers that answer Members with canned views."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

import grpc

from swimfd.core.config import PROTOCOL_VERSION
from swimfd.monitor.collector import Collector, apply_watch_event, snapshot_from_reply
from swimfd.monitor.state import MonitorState
from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc


def free_addr() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def reply(self_id: str, view: dict[str, tuple[str, int]], leader: str = "") -> pb.MembersReply:
    """view: member id -> (address, state)."""
    r = pb.MembersReply(self_id=self_id, mode="swim")
    for mid, (a, st) in view.items():
        r.members.add(member=pb.Member(id=mid, addr=a, state=st, incarnation=3), last_change=5.0)
    if leader:
        r.leader.leader.id, r.leader.term = leader, 7
    return r


@dataclass
class FakeNode(swim_pb2_grpc.FailureDetectorServicer):
    answer: pb.MembersReply
    requests: list[pb.MembersRequest] = field(default_factory=list)

    async def Members(self, request: pb.MembersRequest, context: grpc.aio.ServicerContext) -> pb.MembersReply:
        self.requests.append(request)
        return self.answer


async def start(node: FakeNode, addr: str) -> grpc.aio.Server:
    server = grpc.aio.server()
    swim_pb2_grpc.add_FailureDetectorServicer_to_server(node, server)
    server.add_insecure_port(addr)
    await server.start()
    return server


def test_snapshot_decodes_states_leader_and_absent_optional_fields() -> None:
    s = snapshot_from_reply(reply("1", {"1": ("a:1", pb.ALIVE), "2": ("a:2", pb.DEAD)}, leader="2"))
    assert (s.observer, s.mode, s.leader, s.term) == ("1", "swim", "2", 7)
    assert [(m.subject, m.addr, m.state, m.incarnation, m.detector, m.source) for m in s.members] == [
        ("1", "a:1", "ALIVE", 3, "", ""),
        ("2", "a:2", "DEAD", 3, "", ""),
    ]
    assert snapshot_from_reply(reply("1", {})).leader == ""


def test_the_collector_discovers_members_from_the_seed_follows_them_and_notices_one_going_away() -> None:
    async def scenario() -> None:
        a1, a2 = free_addr(), free_addr()
        view = {"1": (a1, pb.ALIVE), "2": (a2, pb.ALIVE)}
        n1, n2 = FakeNode(reply("1", view)), FakeNode(reply("2", view, leader="2"))
        s1, s2 = await start(n1, a1), await start(n2, a2)
        ticks = iter(float(t) for t in range(100, 200))
        seen: list[str] = []
        state = MonitorState()
        c = Collector(
            [a1], state, timeout=2.0, cluster="c1", clock=lambda: next(ticks),
            on_events=lambda evs: seen.extend(e.kind for e in evs),
        )  # fmt: skip
        try:
            await c.poll_round()  # only the seed is known yet
            assert (len(n1.requests), len(n2.requests)) == (1, 0)
            await c.poll_round()  # now 2 is followed too
            assert (len(n1.requests), len(n2.requests)) == (2, 1)
            assert state.view(0.0)["rows"]["2"]["leader"] == "2"
            for req in n1.requests + n2.requests:
                assert (req.header.version, req.header.cluster, req.header.sender) == (
                    PROTOCOL_VERSION, "c1", "swimfd-monitor",
                )  # fmt: skip
            await s2.stop(None)
            await c.poll_round()
            assert seen == ["unreachable"]
            assert not state.view(0.0)["rows"]["2"]["reachable"]
            assert state.view(0.0)["rows"]["2"]["error"] in ("UNAVAILABLE", "DEADLINE_EXCEEDED")
        finally:
            await c.close()
            await s1.stop(None)
            await s2.stop(None)

    asyncio.run(scenario())


@dataclass
class WatchingNode(FakeNode):
    """A node that also serves Watch: its snapshot, then whatever the test puts in ``events``."""

    events: asyncio.Queue[pb.WatchEvent] = field(default_factory=asyncio.Queue)
    watchers: int = 0

    async def Watch(self, request: pb.WatchRequest, context: grpc.aio.ServicerContext):  # type: ignore[no-untyped-def]
        self.watchers += 1
        yield pb.WatchEvent(event="snapshot", node=self.answer.self_id, snapshot=self.answer)
        while True:
            yield await self.events.get()


def test_apply_watch_event_moves_one_member_and_the_leader() -> None:
    snap = snapshot_from_reply(reply("1", {"1": ("a:1", pb.ALIVE), "2": ("a:2", pb.ALIVE)}))
    failed = pb.WatchEvent(event="member_failed", member="2", incarnation=4, timestamp=9.0, detector="swim")
    s = apply_watch_event(snap, failed)
    assert {m.subject: (m.state, m.incarnation, m.addr, m.detector) for m in s.members} == {
        "1": ("ALIVE", 3, "a:1", ""),
        "2": ("DEAD", 4, "a:2", "swim"),
    }
    s = apply_watch_event(s, pb.WatchEvent(event="member_removed", member="2"))
    assert [m.subject for m in s.members] == ["1"]
    s = apply_watch_event(s, pb.WatchEvent(event="leader_elected", member="1", extra={"leader": "1", "term": "5"}))
    assert (s.leader, s.term) == ("1", 5)
    assert apply_watch_event(s, pb.WatchEvent(event="election_started", member="1")) == s


def test_the_collector_follows_watch_streams_and_still_polls_the_rest() -> None:
    async def scenario() -> None:
        a1, a2 = free_addr(), free_addr()
        view = {"1": (a1, pb.ALIVE), "2": (a2, pb.ALIVE)}
        n1 = WatchingNode(reply("1", view))
        n2 = FakeNode(reply("2", view))  # an older node: no Watch
        s1, s2 = await start(n1, a1), await start(n2, a2)
        seen: list[tuple[str, str, str]] = []
        state = MonitorState()
        c = Collector(
            [a1, a2], state, timeout=2.0, cluster="c1",
            on_events=lambda evs: seen.extend((e.kind, e.observer, e.subject) for e in evs),
        )  # fmt: skip
        try:
            await c.poll_round()
            await until(lambda: a1 in c.streamed and a2 in c.no_watch)
            # The event shows at once, without another round, and node 1's stale Members reply
            # (still ALIVE) does not undo it.
            await n1.events.put(pb.WatchEvent(event="member_failed", member="2", incarnation=3, timestamp=7.0))
            await until(lambda: ("failed", "1", "2") in seen)
            await c.poll_round()
            assert state.view(0.0)["rows"]["1"]["cells"]["2"]["state"] == "DEAD"
            assert n1.watchers == 1 and len(n2.requests) == 2  # one stream; node 2 polled each round
        finally:
            await c.close()
            await s1.stop(None)
            await s2.stop(None)

    asyncio.run(scenario())


async def until(cond, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
