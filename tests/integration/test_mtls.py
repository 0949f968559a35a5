"""Mutual TLS on real processes: who may call at all, and who may speak for whom.

Without a certificate from the cluster's bundle no call reaches a handler, on
the detector or on go-diss. With member 3's certificate, claiming to be
member 2 is refused (PERMISSION_DENIED) and logged with the certificate's id;
member 2 stays ALIVE everywhere.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from harness import ENTRY, GO_DISS, LocalCluster, fast_config, wait_for

from swimfd.commands.certs import make_ca, make_node
from swimfd.core.config import PROTOCOL_VERSION
from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc
from swimfd.runtime.tls import TLSFiles, TLSMaterial

pytestmark = pytest.mark.integration

CONVERGE_S = 20.0


def header(sender: str, sender_addr: str = "") -> pb.Header:
    return pb.Header(version=PROTOCOL_VERSION, cluster="itest", sender=sender, sender_addr=sender_addr)


def code_of(call: Callable[[], object]) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as e:
        return e.code()  # type: ignore[attr-defined, no-any-return]
    return grpc.StatusCode.OK


def three_alive(cluster: LocalCluster) -> None:
    cluster.start_static(3)
    wait_for(lambda: cluster.all_see(["1", "2", "3"], pb.ALIVE), CONVERGE_S, "three alive members", state=cluster.views)


def attacks(cluster: LocalCluster) -> dict[str, tuple[str, Callable[[grpc.Channel], object]]]:
    """Every call an attacker would make against member 2, by target (detector or go-diss of node 1)."""
    dead2 = pb.Update(member=pb.Member(id="2", addr=cluster.addr(2), incarnation=2**40, state=pb.DEAD))
    setattr(dead2, "from", "2")
    det, diss = cluster.addr(1), cluster.diss_addr(1)
    fd = swim_pb2_grpc.FailureDetectorStub
    ds = swim_pb2_grpc.DisseminationStub
    as2 = header("2", cluster.addr(2))
    return {
        "Deliver as 2": (det, lambda ch: fd(ch).Deliver(pb.Envelope(header=as2, updates=[dead2]), timeout=5)),
        "Join as 2": (det, lambda ch: fd(ch).Join(pb.JoinRequest(header=as2, member=dead2.member), timeout=5)),
        "Leave as 2": (det, lambda ch: fd(ch).Leave(pb.LeaveRequest(header=as2, member=dead2.member), timeout=5)),
        "detector Notify": (
            det,
            lambda ch: fd(ch).Notify(pb.Notice(header=as2, kind=pb.FAILED, update=dead2, origin="2"), timeout=5),
        ),
        "go-diss Notify origin 2": (
            diss,
            lambda ch: ds(ch).Notify(pb.Notice(header=as2, kind=pb.FAILED, update=dead2, origin="2"), timeout=5),
        ),
        "go-diss Report": (
            diss,
            lambda ch: ds(ch).Report(pb.FailureReport(header=as2, kind=pb.FAILED, update=dead2), timeout=5),
        ),
        "go-diss Join as 2": (diss, lambda ch: ds(ch).Join(pb.JoinRequest(header=as2, member=dead2.member), timeout=5)),
        "go-diss Leave as 2": (
            diss,
            lambda ch: ds(ch).Leave(pb.LeaveRequest(header=as2, member=dead2.member), timeout=5),
        ),
    }


def test_without_a_valid_certificate_every_call_is_refused_and_logged(cluster: LocalCluster, tmp_path: Path) -> None:
    three_alive(cluster)
    # A certificate for member 2 from a CA the cluster does not trust.
    rogue = tmp_path / "rogue"
    make_ca(rogue)
    make_node(rogue, "2", ["127.0.0.1"])
    rogue_creds = TLSMaterial.load(TLSFiles.in_dir(rogue, "2")).channel_credentials()
    members = lambda ch: swim_pb2_grpc.FailureDetectorStub(ch).Members(pb.MembersRequest(), timeout=5)  # noqa: E731
    calls = {**attacks(cluster), "Members": (cluster.addr(1), members)}
    for name, (addr, call) in calls.items():
        with grpc.insecure_channel(addr) as ch:
            assert code_of(lambda call=call, ch=ch: call(ch)) == grpc.StatusCode.UNAVAILABLE, f"plaintext {name}"
        with grpc.secure_channel(addr, rogue_creds) as ch:
            assert code_of(lambda call=call, ch=ch: call(ch)) == grpc.StatusCode.UNAVAILABLE, f"foreign CA {name}"
    # go-diss logs every refused handshake as an event; grpcio logs its own on stderr.
    wait_for(
        lambda: '"event":"handshake_refused"' in (cluster.workdir / "node1.diss.log").read_text(),
        10.0,
        "go-diss to log the refused handshakes",
    )
    wait_for(
        lambda: "Handshake failed" in (cluster.workdir / "node1.out").read_text(),
        10.0,
        "the detector's gRPC to log the refused handshakes",
    )
    time.sleep(5 * fast_config().probe_interval)
    assert cluster.all_see(["1", "2", "3"], pb.ALIVE), cluster.views()
    assert cluster.events("member_failed") == [] and cluster.events("member_left") == []


def test_member_3_cannot_act_as_member_2(cluster: LocalCluster) -> None:
    three_alive(cluster)
    for name, (addr, call) in attacks(cluster).items():
        with cluster.channel(addr, as_member=3) as ch:
            assert code_of(lambda call=call, ch=ch: call(ch)) == grpc.StatusCode.PERMISSION_DENIED, name
    refused = cluster.nodes["1"].events("identity_refused")
    assert {e["rpc"] for e in refused} == {"Deliver", "Join", "Leave", "Notify"}
    assert all(e["cert_id"] == "3" and e["claimed_sender"] == "2" and e["reason"] and e["peer"] for e in refused)

    def diss_refused() -> list[str]:
        lines = (cluster.workdir / "node1.diss.log").read_text().splitlines()
        return [line for line in lines if '"event":"identity_refused"' in line]

    wait_for(lambda: len(diss_refused()) == 4, 10.0, "go-diss to log four identity refusals", state=diss_refused)
    assert all('"cert_id":"3"' in line for line in diss_refused())

    # Member 3 speaking as itself is fine; its word about member 2 is gossip, bounded by the core's rules.
    ping = pb.Envelope(header=header("3", cluster.addr(3)), ping=pb.Ping(seq=99, target="1"))
    with cluster.channel(cluster.addr(1), as_member=3) as ch:
        assert code_of(lambda: swim_pb2_grpc.FailureDetectorStub(ch).Deliver(ping, timeout=5)) == grpc.StatusCode.OK
    # Claiming member 2's address as its own is refused too.
    stolen = pb.Envelope(header=header("3", cluster.addr(2)), ping=pb.Ping(seq=100, target="1"))
    with cluster.channel(cluster.addr(1), as_member=3) as ch:
        code = code_of(lambda: swim_pb2_grpc.FailureDetectorStub(ch).Deliver(stolen, timeout=5))
    assert code == grpc.StatusCode.PERMISSION_DENIED

    time.sleep(5 * fast_config().probe_interval)
    assert cluster.all_see(["1", "2", "3"], pb.ALIVE), cluster.views()
    assert cluster.events("member_failed") == [] and cluster.events("member_left") == []


def test_a_node_refuses_to_start_with_another_members_certificate(cluster: LocalCluster) -> None:
    cluster.cert(2)
    # Node 1's files are node 2's certificate under node 1's name.
    files1 = TLSFiles.in_dir(cluster.tls_dir, "1")
    files2 = cluster.cert(2)
    files1.cert.write_bytes(files2.cert.read_bytes())
    files1.key.write_bytes(files2.key.read_bytes())
    out = subprocess.run(
        [sys.executable, str(ENTRY), "--id", "1", "--bind", cluster.addr(1), "--tls-dir", str(cluster.tls_dir)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert out.stderr.strip().endswith("names member '2', but this node is '1'")
    plain = subprocess.run(
        [sys.executable, str(ENTRY), "--id", "1", "--bind", cluster.addr(1)], capture_output=True, text=True, timeout=30
    )
    assert plain.returncode == 2 and "pass --insecure to run in plaintext" in plain.stderr


def test_insecure_runs_plaintext_and_says_so(tmp_path: Path) -> None:
    if not GO_DISS.exists():
        pytest.skip("bin/go-diss is not built (run `make build`)")
    c = LocalCluster(tmp_path, tls=False)
    try:
        c.start_static(2)
        wait_for(lambda: c.all_see(["1", "2"], pb.ALIVE), CONVERGE_S, "two alive members", state=c.views)
        for node in c.nodes.values():
            assert node.events("insecure_plaintext") and node.events("node_started")[0]["tls"] is False
        assert '"event":"insecure_plaintext"' in (tmp_path / "node1.diss.log").read_text()
    finally:
        c.close()
