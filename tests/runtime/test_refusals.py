"""Every refusal is visible: one warning per (peer, reason), summaries, counters; joins admitted once answered."""

from __future__ import annotations

import asyncio
import io
import json
import time
from typing import Any

import grpc
import grpc.aio
import pytest
from fake_core import FakeCore
from test_runtime_io import core, free_port, lines, make_runtime, run, settings, until

from swimfd.core.events import Output, Refusal
from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc
from swimfd.runtime.logs import make_logger
from swimfd.runtime.process import Runtime
from swimfd.runtime.refusals import RefusalLog
from swimfd.runtime.server import server_options


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _events(buf: io.StringIO, name: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in buf.getvalue().splitlines() if json.loads(x)["event"] == name]


def test_first_refusal_per_peer_and_reason_is_logged_then_summarised() -> None:
    buf, clock = io.StringIO(), Clock()
    log = RefusalLog(make_logger(buf, "1"), every=10.0, clock=clock)
    for _ in range(3):
        log.note(peer="ipv4:10.0.0.9:4000", sender="3", reason="not_admitted", detail="d", subject="9")
    log.note(peer="ipv4:10.0.0.9:4000", sender="3", reason="invalid_argument", detail="d", rpc="Deliver")
    log.note(peer="ipv4:10.0.0.8:4000", sender="2", reason="not_admitted", detail="d")
    first = _events(buf, "request_refused")
    assert [(e["peer"], e["reason"], e["sender"]) for e in first] == [
        ("ipv4:10.0.0.9:4000", "not_admitted", "3"),
        ("ipv4:10.0.0.9:4000", "invalid_argument", "3"),
        ("ipv4:10.0.0.8:4000", "not_admitted", "2"),
    ]
    assert all(e["level"] == "warning" for e in first)
    assert log.counts == {"not_admitted": 4, "invalid_argument": 1} and log.total == 5
    clock.t += 10.0
    log.note(peer="ipv4:10.0.0.9:4000", sender="3", reason="not_admitted", detail="d")  # a new window
    [summary] = _events(buf, "refusals_suppressed")
    assert summary["by_reason"] == {"not_admitted": 2} and summary["total"] == 2
    assert len(_events(buf, "request_refused")) == 4


def test_server_options_bound_connections_and_reap_idle_or_half_open_ones() -> None:
    opts = dict(server_options(4096))
    assert opts["grpc.max_receive_message_length"] == 4096
    assert opts["grpc.max_allowed_incoming_connections"] > 0
    assert opts["grpc.server_handshake_timeout_ms"] <= 10_000
    assert opts["grpc.keepalive_time_ms"] + opts["grpc.keepalive_timeout_ms"] <= 10_000
    assert opts["grpc.max_connection_idle_ms"] > 0 and opts["grpc.max_connection_age_ms"] > 0


def _header(cluster: str = "test", sender: str = "9") -> pb.Header:
    return pb.Header(version=1, cluster=cluster, sender=sender, sender_addr="127.0.0.1:1")


def test_refused_call_is_a_warning_with_peer_claimed_sender_and_reason_and_is_counted() -> None:
    async def main() -> None:
        port = free_port()
        rt, buf = make_runtime(settings("1", port))
        await rt.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
                stub = swim_pb2_grpc.FailureDetectorStub(ch)
                for _ in range(2):
                    with pytest.raises(grpc.aio.AioRpcError):
                        await stub.Deliver(pb.Envelope(header=_header(cluster="other"), ping=pb.Ping()), timeout=5)
        finally:
            await rt.stop(graceful=False)
        [refused] = [x for x in lines(buf) if x["event"] == "request_refused"]
        assert refused["level"] == "warning" and refused["reason"] == "failed_precondition"
        assert refused["sender"] == "9" and refused["rpc"] == "Deliver" and "127.0.0.1" in refused["peer"]
        stats = [x for x in lines(buf) if x["event"] == "transport_stats"][-1]
        assert stats["refused"] == 2 and stats["refused_by_reason"] == {"failed_precondition": 2}

    run(main())


class RefusingCore(FakeCore):
    """Accepts every message but reports one refused part, as the real core does for a forged claim."""

    def receive(self, env: pb.Envelope, now: float) -> Output:
        out = super().receive(env, now)
        out.refusals.append(Refusal("implausible_incarnation", "2", "too far"))
        return out


def test_core_refusals_are_logged_with_the_transport_peer() -> None:
    async def main() -> None:
        port = free_port()
        buf = io.StringIO()
        s = settings("1", port)
        rt = Runtime(s, make_logger(buf, s.node_id), node_factory=RefusingCore)
        await rt.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
                stub = swim_pb2_grpc.FailureDetectorStub(ch)
                await stub.Deliver(pb.Envelope(header=_header(), ping=pb.Ping(seq=1)), timeout=5)
        finally:
            await rt.stop(graceful=False)
        [refused] = [x for x in lines(buf) if x["event"] == "request_refused"]
        assert (refused["reason"], refused["subject"], refused["sender"]) == ("implausible_incarnation", "2", "9")
        assert "127.0.0.1" in refused["peer"]

    run(main())


class SlowJoinCore(FakeCore):
    delay = 0.0

    def prepare_join(self, req: pb.JoinRequest, now: float) -> pb.JoinReply:
        time.sleep(self.delay)  # blocks the loop, as a slow core would: the caller's deadline passes meanwhile
        return super().prepare_join(req, now)


def test_join_is_admitted_only_once_its_reply_was_delivered() -> None:
    async def main() -> None:
        port = free_port()
        buf = io.StringIO()
        s = settings("1", port)
        rt = Runtime(s, make_logger(buf, s.node_id), node_factory=SlowJoinCore)
        await rt.start()
        fake = core(rt)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
                stub = swim_pb2_grpc.FailureDetectorStub(ch)
                await ch.channel_ready()
                joiner = pb.Member(id="6", addr="127.0.0.1:1", incarnation=3, state=pb.ALIVE)
                fake.delay = 0.5
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await stub.Join(pb.JoinRequest(header=_header(), member=joiner), timeout=0.1)
                assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
                await until(lambda: any(x["event"] == "join_not_admitted" for x in lines(buf)))
                assert [j.member.id for j in fake.joins] == ["6"] and fake.admitted == []
                fake.delay = 0.0
                await stub.Join(pb.JoinRequest(header=_header(), member=joiner), timeout=5)
                await until(lambda: len(fake.admitted) == 1)
                await asyncio.sleep(0)
        finally:
            await rt.stop(graceful=False)

    run(main())
