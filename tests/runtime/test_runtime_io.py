"""The runtime's I/O around a stand-in core: inline replies, refusals, deadlines, counters, logs.

Each test runs real gRPC servers on loopback inside one event loop; waits are
bounded and wait for a condition, never for a fixed time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from fake_core import FakeCore

from swimfd.commands.certs import make_ca, make_client, make_node
from swimfd.core.config import Config
from swimfd.core.events import EventName, MembershipEvent, Outbound, Output, Source
from swimfd.core.reports import admitted_join, confirmed_failure
from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc
from swimfd.runtime.logs import make_logger
from swimfd.runtime.process import Runtime, StartError
from swimfd.runtime.settings import RuntimeSettings
from swimfd.runtime.tls import TLSFiles, TLSMaterial


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings(node_id: str, port: int, members: tuple[str, ...] = (), tls_dir: Path | None = None) -> RuntimeSettings:
    return RuntimeSettings(
        node_id=node_id,
        bind=f"127.0.0.1:{port}",
        advertise=f"127.0.0.1:{port}",
        members=members,
        seeds=(),
        config=Config(cluster="test", probe_interval=0.2, probe_timeout=0.1),
        diss_addr=f"127.0.0.1:{free_port()}",  # nothing listens: the node must cope
        diss_listen=None,
        go_diss="/nonexistent",
        tls_dir=str(tls_dir) if tls_dir is not None else None,
        insecure=tls_dir is None,
    )


def make_runtime(s: RuntimeSettings) -> tuple[Runtime, io.StringIO]:
    buf = io.StringIO()
    return Runtime(s, make_logger(buf, s.node_id), node_factory=FakeCore), buf


def lines(buf: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not cond():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def serve(add_servicer: Callable[[Any, grpc.aio.Server], None], servicer: Any, port: int) -> grpc.aio.Server:
    """A started gRPC server on 127.0.0.1:port with one fake servicer (stop it with stop(None))."""
    server = grpc.aio.server()
    add_servicer(servicer, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server


def run(coro: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))  # type: ignore[arg-type]


def core(rt: Runtime) -> FakeCore:
    assert isinstance(rt.node, FakeCore)
    return rt.node


def test_two_nodes_ping_and_get_acks_inline() -> None:
    async def main() -> None:
        p1, p2 = free_port(), free_port()
        members = (f"127.0.0.1:{p1}", f"127.0.0.1:{p2}")
        a, abuf = make_runtime(settings("1", p1, members))
        b, _ = make_runtime(settings("2", p2, members))
        rpc_bodies: list[str | None] = []
        real_deliver = b.transport.deliver

        async def recording_deliver(addr: str, env: pb.Envelope, timeout: float | None = None) -> list[pb.Envelope]:
            rpc_bodies.append(env.WhichOneof("body"))
            return await real_deliver(addr, env, timeout)

        b.transport.deliver = recording_deliver  # type: ignore[method-assign]
        await a.start()
        await b.start()
        try:
            await until(lambda: "2" in core(a).acks_from and "1" in core(b).acks_from)
            # b's acks reached a inside DeliverReply: b's own Deliver calls carried only pings.
            assert rpc_bodies and set(rpc_bodies) == {"ping"}
            stats = a.transport.stats
            assert stats.msgs_sent > 0 and stats.bytes_sent > 0 and stats.msgs_recv > 0
            a.log_stats()
        finally:
            await a.stop()
            await b.stop()
        events = lines(abuf)
        joined = [e for e in events if e["event"] == "member_joined"]
        assert joined and joined[0]["member"] == "2" and joined[0]["node"] == "1"
        assert isinstance(joined[0]["ts"], float) and joined[0]["ts"] > 1.6e9  # epoch seconds, not monotonic
        stats_line = [e for e in events if e["event"] == "transport_stats"][-1]
        assert {"msgs_sent", "bytes_sent", "msgs_recv", "bytes_recv"} <= stats_line.keys()
        assert [e["event"] for e in events][-1] == "node_stopped"

    run(main())


def _header(cluster: str = "test", version: int = 1) -> pb.Header:
    return pb.Header(version=version, cluster=cluster, sender="9", sender_addr="127.0.0.1:1")


async def _deliver_status(addr: str, env: pb.Envelope) -> grpc.StatusCode:
    async with grpc.aio.insecure_channel(addr) as ch:
        try:
            await swim_pb2_grpc.FailureDetectorStub(ch).Deliver(env, timeout=5)
        except grpc.aio.AioRpcError as e:
            return e.code()
    return grpc.StatusCode.OK


def test_refused_messages_get_status_codes_and_never_reach_the_core() -> None:
    async def main() -> None:
        port = free_port()
        rt, _ = make_runtime(settings("1", port))
        await rt.start()
        addr = f"127.0.0.1:{port}"
        try:
            ping = pb.Ping(seq=1, target="1")
            assert await _deliver_status(addr, pb.Envelope(ping=ping)) == grpc.StatusCode.INVALID_ARGUMENT
            wrong_cluster = pb.Envelope(header=_header(cluster="other"), ping=ping)
            assert await _deliver_status(addr, wrong_cluster) == grpc.StatusCode.FAILED_PRECONDITION
            wrong_version = pb.Envelope(header=_header(version=2), ping=ping)
            assert await _deliver_status(addr, wrong_version) == grpc.StatusCode.FAILED_PRECONDITION
            assert core(rt).received == []
            # A well-formed header but a body malformed for the core: INVALID_ARGUMENT, state unchanged.
            no_body = pb.Envelope(header=_header())
            assert await _deliver_status(addr, no_body) == grpc.StatusCode.INVALID_ARGUMENT
            assert core(rt).received == []
            good = pb.Envelope(header=_header(), ping=ping)
            assert await _deliver_status(addr, good) == grpc.StatusCode.OK
            assert len(core(rt).received) == 1
            # Bytes that are not a protobuf at all.
            async with grpc.aio.insecure_channel(addr) as ch:
                raw = ch.unary_unary("/swimfd.v1.FailureDetector/Deliver")
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await raw(b"\xff\xff\xff\xff", timeout=5)
                assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert len(core(rt).received) == 1
            assert rt.transport.stats.rejected_in == 5  # every refusal above
        finally:
            await rt.stop()

    run(main())


def test_with_tls_only_certified_callers_get_in_and_each_speaks_only_for_itself(tmp_path: Path) -> None:
    """The refusals a cluster key used to make, made by mutual TLS and runtime/identity.py."""
    make_ca(tmp_path)
    for mid in ("1", "2"):
        make_node(tmp_path, mid, ["127.0.0.1"])
    make_client(tmp_path)
    as2 = TLSMaterial.load(TLSFiles.in_dir(tmp_path, "2")).channel_credentials()
    observer = TLSMaterial.load(TLSFiles.client_in_dir(tmp_path), member=False).channel_credentials()

    async def main() -> None:
        port = free_port()
        rt, buf = make_runtime(settings("1", port, tls_dir=tmp_path))
        await rt.start()
        addr = f"127.0.0.1:{port}"
        ping = pb.Ping(seq=1, target="1")

        async def deliver(creds: grpc.ChannelCredentials | None, sender: str) -> grpc.StatusCode:
            env = pb.Envelope(header=pb.Header(version=1, cluster="test", sender=sender), ping=ping)
            ch = grpc.aio.secure_channel(addr, creds) if creds else grpc.aio.insecure_channel(addr)
            async with ch:
                try:
                    await swim_pb2_grpc.FailureDetectorStub(ch).Deliver(env, timeout=5)
                except grpc.aio.AioRpcError as e:
                    return e.code()
            return grpc.StatusCode.OK

        try:
            assert await deliver(None, "2") == grpc.StatusCode.UNAVAILABLE  # plaintext: no handshake
            assert await deliver(observer, "2") == grpc.StatusCode.PERMISSION_DENIED  # names no member
            assert await deliver(as2, "9") == grpc.StatusCode.PERMISSION_DENIED  # speaks for another
            assert core(rt).received == []
            assert await deliver(as2, "2") == grpc.StatusCode.OK
            assert len(core(rt).received) == 1
            async with grpc.aio.secure_channel(addr, observer) as ch:
                reply = await swim_pb2_grpc.FailureDetectorStub(ch).Members(pb.MembersRequest(), timeout=5)
            assert reply.self_id == "1"  # observers may read
            async with grpc.aio.secure_channel(addr, as2) as ch:
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    notice = pb.Notice(header=pb.Header(version=1, cluster="test", sender="2"), origin="2")
                    await swim_pb2_grpc.FailureDetectorStub(ch).Notify(notice, timeout=5)
            assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED  # only our own go-diss notifies
            assert rt.identity_refused == 3
        finally:
            await rt.stop()
        refused = [e for e in lines(buf) if e["event"] == "identity_refused"]
        assert [(e["rpc"], e["cert_id"], e["claimed_sender"]) for e in refused] == [
            ("Deliver", None, "2"),
            ("Deliver", "2", "9"),
            ("Notify", "2", "2"),
        ]
        assert all(e["level"] == "warning" and e["peer"] and e["reason"] for e in refused)

    run(main())


class StalledPeer(swim_pb2_grpc.FailureDetectorServicer):
    """A peer whose Deliver handler never answers (like a SIGSTOPped process)."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def Deliver(self, request: pb.Envelope, context: Any) -> pb.DeliverReply:
        self.entered.set()
        await self.release.wait()
        return pb.DeliverReply()


class ForgingPeer(swim_pb2_grpc.FailureDetectorServicer):
    """Member 2 answering every Deliver with its own ack and one that claims to come from member 7."""

    async def Deliver(self, request: pb.Envelope, context: Any) -> pb.DeliverReply:
        own = pb.Envelope(header=pb.Header(version=1, cluster="test", sender="2"), ack=pb.Ack(seq=request.ping.seq))
        forged = pb.Envelope(header=pb.Header(version=1, cluster="test", sender="7"), ack=pb.Ack(seq=1))
        return pb.DeliverReply(replies=[own, forged])


def test_an_inline_reply_naming_another_sender_is_dropped() -> None:
    async def main() -> None:
        peer_port, port = free_port(), free_port()
        server = await serve(swim_pb2_grpc.add_FailureDetectorServicer_to_server, ForgingPeer(), peer_port)
        rt, buf = make_runtime(settings("1", port, members=(f"127.0.0.1:{port}", f"127.0.0.1:{peer_port}")))
        await rt.start()
        try:
            await until(lambda: rt.identity_refused >= 1 and bool(core(rt).received))
        finally:
            await rt.stop()
            await server.stop(None)
        assert {env.header.sender for env in core(rt).received} == {"2"}
        refused = [e for e in lines(buf) if e["event"] == "identity_refused"]
        assert refused[0]["rpc"] == "DeliverReply" and refused[0]["claimed_sender"] == "7"

    run(main())


def test_a_stalled_peer_never_stalls_the_tick_loop() -> None:
    async def main() -> None:
        peer_port, port = free_port(), free_port()
        peer = StalledPeer()
        server = await serve(swim_pb2_grpc.add_FailureDetectorServicer_to_server, peer, peer_port)
        rt, _ = make_runtime(settings("1", port, members=(f"127.0.0.1:{port}", f"127.0.0.1:{peer_port}")))
        await rt.start()
        try:
            await asyncio.wait_for(peer.entered.wait(), 5)
            ticks_then = len(core(rt).ticks)
            # While the first Deliver is still unanswered, the node keeps ticking and sending.
            await until(lambda: len(core(rt).ticks) >= ticks_then + 3)
            assert not peer.release.is_set()
            # ... and each stuck call ends at its deadline instead of piling up, counted as such.
            await until(lambda: rt.transport.stats.send_failures >= 1)
            assert rt.transport.stats.failed_deadline >= 1
        finally:
            peer.release.set()
            await rt.stop()
            await server.stop(None)

    run(main())


def test_port_in_use_is_a_clear_start_error() -> None:
    async def main() -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            rt, _ = make_runtime(settings("1", port))
            with pytest.raises(StartError, match=f"cannot listen on 127.0.0.1:{port}: port {port} is already in use"):
                await rt.start()
            await rt.stop(graceful=False)

    run(main())


def test_members_join_notify_leave_handlers() -> None:
    async def main() -> None:
        port = free_port()
        rt, _ = make_runtime(settings("1", port))
        await rt.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
                stub = swim_pb2_grpc.FailureDetectorStub(ch)
                joiner = pb.Member(id="6", addr="127.0.0.1:1", incarnation=3, state=pb.ALIVE)
                reply = await stub.Join(pb.JoinRequest(header=_header(), member=joiner), timeout=5)
                assert reply.header.cluster == "test" and reply.header.sender == "1"
                assert {m.id for m in reply.members} == {"1", "6"}
                assert core(rt).joins[0].member.id == "6"

                view = await stub.Members(pb.MembersRequest(), timeout=5)
                assert (view.self_id, view.mode) == ("1", "swim")
                assert {mv.member.id for mv in view.members} == {"1", "6"}
                # last_change is reported in epoch seconds although the core runs on a monotonic clock.
                assert all(mv.last_change > 1.6e9 for mv in view.members)
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await stub.Members(pb.MembersRequest(header=_header(cluster="other")), timeout=5)
                assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION

                notice = pb.Notice(header=_header(), kind=pb.FAILED, update=pb.Update(member=pb.Member(id="6")))
                ack = await stub.Notify(notice, timeout=5)
                assert ack.applied
                leave = pb.LeaveRequest(header=_header(), member=pb.Member(id="6", incarnation=3))
                await stub.Leave(leave, timeout=5)
                kinds = [(n.kind, n.update.member.id, n.update.member.state) for n in core(rt).notices]
                assert kinds == [(pb.FAILED, "6", pb.MEMBER_STATE_UNSPECIFIED), (pb.LEFT_CLUSTER, "6", pb.LEFT)]
        finally:
            await rt.stop()

    run(main())


class RecordingDiss(swim_pb2_grpc.DisseminationServicer):
    def __init__(self) -> None:
        self.reports: list[pb.FailureReport] = []
        self.leaves: list[pb.LeaveRequest] = []

    async def Report(self, request: pb.FailureReport, context: Any) -> pb.ReportAck:
        self.reports.append(request)
        return pb.ReportAck(recipients=2)

    async def Leave(self, request: pb.LeaveRequest, context: Any) -> pb.LeaveReply:
        self.leaves.append(request)
        return pb.LeaveReply()


def test_local_failure_is_reported_and_leave_is_broadcast() -> None:
    async def main() -> None:
        diss_port, port = free_port(), free_port()
        diss = RecordingDiss()
        server = await serve(swim_pb2_grpc.add_DisseminationServicer_to_server, diss, diss_port)
        s = settings("1", port, members=(f"127.0.0.1:{port}", "127.0.0.1:1"))
        s = dataclasses.replace(s, diss_addr=f"127.0.0.1:{diss_port}")
        rt, buf = make_runtime(s)
        await rt.start()
        try:
            failed = MembershipEvent(EventName.MEMBER_FAILED, "2", 5, rt.now(), Source.LOCAL, detector="swim")
            gossip = MembershipEvent(EventName.MEMBER_FAILED, "3", 1, rt.now(), Source.GOSSIP, detector="swim")
            # As the core builds it: only the local failure carries a report.
            report = confirmed_failure(pb.Member(id="2", addr="127.0.0.1:1", incarnation=5), "1", "swim")
            rt.apply(Output(events=[failed, gossip], reports=[report]))
            await until(lambda: len(diss.reports) == 1)
        finally:
            await rt.stop()
            await server.stop(None)
        report = diss.reports[0]
        assert report.kind == pb.FAILED
        assert (report.update.member.id, report.update.member.incarnation) == ("2", 5)
        assert report.update.member.state == pb.DEAD and report.update.detector == "swim"
        assert getattr(report.update, "from") == "1"
        assert (report.header.sender, report.header.cluster) == ("1", "test")  # stamped as ours
        assert core(rt).left and diss.leaves[0].member.id == "1" and diss.leaves[0].member.state == pb.LEFT
        failed_lines = [e for e in lines(buf) if e["event"] == "member_failed"]
        assert [(e["member"], e["detector"], e["source"]) for e in failed_lines] == [
            ("2", "swim", "local"),
            ("3", "swim", "gossip"),
        ]

    run(main())


def test_an_admitted_join_report_is_forwarded_as_a_report() -> None:
    async def main() -> None:
        diss_port, port = free_port(), free_port()
        diss = RecordingDiss()
        server = await serve(swim_pb2_grpc.add_DisseminationServicer_to_server, diss, diss_port)
        s = dataclasses.replace(settings("1", port), diss_addr=f"127.0.0.1:{diss_port}")
        rt, _ = make_runtime(s)
        try:
            joiner = pb.Member(id="7", addr="127.0.0.1:7", diss_addr="127.0.0.1:17", incarnation=3)
            rt.apply(Output(reports=[admitted_join(joiner, "1")]))
            await until(lambda: len(diss.reports) == 1)
        finally:
            await rt.diss.close()
            await server.stop(None)
        [report] = diss.reports
        assert report.kind == pb.JOINED and report.header.sender == "1" and not diss.leaves
        assert (report.update.member.id, report.update.member.diss_addr, report.update.member.state) == (
            "7",
            "127.0.0.1:17",
            pb.ALIVE,
        )

    run(main())


def test_unreachable_dissemination_is_a_rate_limited_warning() -> None:
    async def main() -> None:
        rt, buf = make_runtime(settings("1", free_port()))
        await rt.start()
        try:
            for member in ("2", "3", "4"):
                ev = MembershipEvent(EventName.MEMBER_FAILED, member, 1, rt.now(), Source.LOCAL, detector="swim")
                report = confirmed_failure(pb.Member(id=member, incarnation=1), "1", "swim")
                rt.apply(Output(events=[ev], reports=[report]))
            await until(lambda: rt.diss.reports_failed >= 3)
        finally:
            await rt.stop(graceful=False)
        warnings = [e for e in lines(buf) if e["event"] == "dissemination_unreachable"]
        assert len(warnings) == 1 and warnings[0]["level"] == "warning"

    run(main())


def test_oversize_and_self_addressed_messages_are_not_sent() -> None:
    async def main() -> None:
        s = settings("1", free_port())
        s = dataclasses.replace(s, config=s.config.replace(max_message_bytes=1024))
        rt, _ = make_runtime(s)
        big = pb.Envelope(header=_header(), gossip=pb.HeartbeatGossip(ids=[str(i) for i in range(1000)]))
        assert rt.transport.prepare(big) is None
        assert rt.transport.stats.oversize_out == 1
        rt.send(Outbound("1", "127.0.0.1:1", pb.Envelope(header=_header(), ping=pb.Ping(seq=1))))
        assert rt._pending == 0
        rt.send(Outbound("2", "", pb.Envelope(header=_header(), ping=pb.Ping(seq=1))))
        assert rt._pending == 0 and rt.transport.stats.send_failures == 1
        await rt.diss.close()

    run(main())


def test_a_peer_that_answered_and_then_died_is_reported_refused_to_the_core() -> None:
    """Refusal evidence (docs/detection.md): once a peer answered, its process exiting makes the next
    Deliver fail with "connection refused"; the runtime tells the core send_failed(peer, refused=True).
    A peer that never answered (nothing listens yet) is not reported: it may simply not have started."""

    async def main() -> None:
        p1, p2, never = free_port(), free_port(), free_port()
        members = (f"127.0.0.1:{p1}", f"127.0.0.1:{p2}", f"127.0.0.1:{never}")
        a, _ = make_runtime(settings("1", p1, members))
        b, _ = make_runtime(settings("2", p2, members))
        await a.start()
        await b.start()
        try:
            await until(lambda: "2" in core(a).acks_from)
            await b.stop(graceful=False)
            await until(lambda: ("2", True) in core(a).send_failures)
            assert a.transport.stats.connect_refused >= 1
            # Node "3" never listened: its failures are silence, never reported as refusals.
            assert all(to != "3" for to, _ in core(a).send_failures)
            assert a.transport.stats.send_failures > a.transport.stats.connect_refused
            assert a.transport.stats.failed_unavailable >= a.transport.stats.connect_refused  # refusals are UNAVAILABLE
        finally:
            await a.stop()

    run(main())
