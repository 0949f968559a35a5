"""Transport pieces that need no network: header checks, loss injection, channel cache, log lines, members table."""

from __future__ import annotations

import asyncio
import io
import json
import random

import grpc
import pytest

from swimfd.commands.members import as_dict, format_table
from swimfd.core import wire
from swimfd.core.events import EventName, MembershipEvent, Source
from swimfd.core.wire import ProtocolError
from swimfd.pb import swim_pb2 as pb
from swimfd.runtime.diss_process import DissCommand
from swimfd.runtime.logs import event_fields, make_logger
from swimfd.runtime.tls import TLSFiles
from swimfd.runtime.transport import ChannelCache, FaultInjector, Rejected, Transport, check_header


def _env(cluster: str = "c", version: int = 1) -> pb.Envelope:
    return pb.Envelope(header=pb.Header(version=version, cluster=cluster, sender="2"), ping=pb.Ping(seq=1))


@pytest.mark.parametrize(
    ("env", "code"),
    [
        (pb.Envelope(ping=pb.Ping(seq=1)), grpc.StatusCode.INVALID_ARGUMENT),
        (_env(version=0), grpc.StatusCode.FAILED_PRECONDITION),
        (_env(version=2), grpc.StatusCode.FAILED_PRECONDITION),
        (_env(cluster="other"), grpc.StatusCode.FAILED_PRECONDITION),
    ],
)
def test_check_header_codes(env: pb.Envelope, code: grpc.StatusCode) -> None:
    with pytest.raises(Rejected) as info:
        check_header(env, "c")
    assert info.value.code == code


@pytest.mark.parametrize("env", [_env(version=0), _env(cluster="other")])
def test_transport_and_core_share_one_header_check(env: pb.Envelope) -> None:
    with pytest.raises(ProtocolError) as core:
        wire.check_header(env.header, "c")
    with pytest.raises(Rejected) as transport:
        check_header(env, "c")
    assert transport.value.detail == str(core.value)


def test_check_header_accepts_our_version_and_cluster() -> None:
    # Who sent it is the TLS certificate's business (runtime/identity.py, tests/runtime/test_identity.py).
    check_header(_env(), "c")


def test_fault_injector_is_seeded_and_drops_about_its_rate() -> None:
    a = FaultInjector(0.3, random.Random(7))
    b = FaultInjector(0.3, random.Random(7))
    da = [a.drop() for _ in range(2000)]
    assert da == [b.drop() for _ in range(2000)]
    assert 0.25 < sum(da) / len(da) < 0.35
    assert not any(FaultInjector(0.0, random.Random(1)).drop() for _ in range(100))


def test_prepare_copies_and_counts_injected_loss() -> None:
    t = Transport(cluster="c", max_message_bytes=4096, rpc_timeout=1.0)
    env = _env()
    out = t.prepare(env)
    assert out is not None and out == env and out is not env
    lossy = Transport(
        cluster="c",
        max_message_bytes=4096,
        rpc_timeout=1.0,
        fault=FaultInjector(0.5, random.Random(3)),
    )
    results = [lossy.prepare(env) is None for _ in range(200)]
    assert lossy.stats.dropped_out == sum(results) > 0


def test_admit_counts_and_refuses_bad_replies() -> None:
    t = Transport(cluster="c", max_message_bytes=4096, rpc_timeout=1.0)
    assert t.admit(_env())
    assert not t.admit(_env(cluster="x"))
    assert (t.stats.msgs_recv, t.stats.rejected_in) == (2, 1)
    assert t.stats.bytes_recv == 2 * _env().ByteSize()


def test_channel_cache_reuses_and_evicts_least_recently_used() -> None:
    async def main() -> None:
        cache = ChannelCache(4096, capacity=2)
        a = cache.get("127.0.0.1:1")
        assert cache.get("127.0.0.1:1") is a
        b = cache.get("127.0.0.1:2")
        cache.get("127.0.0.1:1")  # refresh a
        cache.get("127.0.0.1:3")  # evicts b, the least recently used
        assert len(cache) == 2
        assert cache.get("127.0.0.1:1") is a
        assert cache.get("127.0.0.1:2") is not b
        await cache.close()
        assert len(cache) == 0

    asyncio.run(main())


def test_event_fields_have_the_contract_keys() -> None:
    ev = MembershipEvent(EventName.MEMBER_FAILED, "3", 7, 100.0, Source.LOCAL, detector="hybrid", addr="h:1")
    fields = event_fields(ev, epoch_offset=1.7e9)
    assert fields == {
        "member": "3",
        "incarnation": 7,
        "ts": 1.7e9 + 100.0,
        "source": "local",
        "detector": "hybrid",
        "addr": "h:1",
    }
    elected = MembershipEvent(EventName.LEADER_ELECTED, "5", 1, 1.0, extra={"leader": "5", "term": 2, "ts": -1})
    f2 = event_fields(elected, 0.0)
    assert (f2["leader"], f2["term"], f2["ts"]) == ("5", 2, 1.0)
    assert "detector" not in f2


def test_members_table_and_json() -> None:
    reply = pb.MembersReply(self_id="1", mode="hybrid")
    for i, state in (("10", pb.ALIVE), ("2", pb.DEAD), ("1", pb.ALIVE)):
        reply.members.add(member=pb.Member(id=i, addr=f"h:{i}", state=state, incarnation=4), last_change=1000.0)
    reply.leader.leader.id = "10"
    reply.leader.term = 3
    view = as_dict(reply)
    assert [m["id"] for m in view["members"]] == ["1", "2", "10"]
    assert view["members"][1]["state"] == "DEAD"
    assert view["leader"] == {"id": "10", "priority": 0, "term": 3}
    table = format_table(view, now=1030.0).splitlines()
    assert table[0] == "node 1  mode hybrid  leader 10 (term 3)"
    assert table[1].split() == ["id", "addr", "diss_addr", "state", "incarnation", "heartbeat", "last_change"]
    assert table[3].split()[:5] == ["2", "h:2", "DEAD", "4", "0"]  # empty diss_addr collapses
    assert table[3].endswith("(30s ago)")


def test_logger_filters_by_level_and_stamps_every_line() -> None:
    buf = io.StringIO()
    log = make_logger(buf, "7", level="info")
    log.debug("noise", x=1)
    log.info("kept", x=2)
    log.warning("loud")
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [(e["event"], e["level"], e["node"]) for e in lines] == [("kept", "info", "7"), ("loud", "warning", "7")]
    assert all(isinstance(e["ts"], float) for e in lines)


def test_diss_command_follows_contract_flags() -> None:
    cmd = DissCommand("bin/go-diss", "3", "h:50063", "h:50053", "c", log_file="n3.diss.log")
    assert cmd.argv() == [
        "bin/go-diss",
        "--id",
        "3",
        "--listen",
        "h:50063",
        "--detector",
        "h:50053",
        "--cluster",
        "c",
        "--insecure",
        "--log-file",
        "n3.diss.log",
    ]
    tls = TLSFiles.in_dir("d", "3")
    argv = DissCommand("bin/go-diss", "3", "h:50063", "h:50053", "c", tls=tls).argv()
    assert argv[-6:] == ["--tls-cert", "d/node-3.pem", "--tls-key", "d/node-3.key", "--tls-ca", "d/ca-bundle.pem"]
    assert "--insecure" not in argv
    assert DissCommand("b", "1", "l:1", "d:2", "c", log_level="warning").argv()[-2:] == ["--log-level", "warn"]
