"""Attack replays on real processes (issue 10, "Why"): each forged message is refused or refuted, and logged.

Three detectors with their go-diss children, started the README's way on loopback, with mutual TLS.
The attacker speaks gRPC to their ports holding the strongest credentials the replay allows: the
certificate of the member each forged message names (member 2's or 3's, stolen), or for the
non-member "evil" a certificate the cluster CA issued for that id (a joiner gone bad). These are the
bounds that still hold when the attacker has one (docs/security.md); reads use the client certificate.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from integration.harness import FAST, GO_DISS, LocalCluster, wait_for

from swimfd.core.config import PROTOCOL_VERSION
from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc

pytestmark = pytest.mark.integration

# The README's timings (protocol defaults), not the integration tests' fast ones: "no false failure"
# must hold on a loaded machine too.
CONFIG = {
    "cluster": FAST["cluster"],
    "election": True,
    "election_timeout": 0.5,
    "leader_wait_timeout": 1.5,
    "leader_probe_min": 0.2,
    "leader_probe_max": 1.0,
}
CONVERGE_S = 30.0  # start-up allowance on a shared 2-core machine
STEP = 1 << 20  # Config.max_incarnation_step and max_term_step defaults
TOP = 2**64 - 1
# One refutation round: the accusation reaches the subject by a probe or gossip within a few periods,
# its Alive spreads within dissemination_periods; generous for a loaded machine.
REFUTATION_S = 20.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    if not GO_DISS.exists():
        pytest.skip("bin/go-diss is not built (run `make build`)")
    c = LocalCluster(tmp_path, config=dict(CONFIG))
    try:
        c.start_static(3)
        wait_for(lambda: c.all_see(["1", "2", "3"], pb.ALIVE), CONVERGE_S, "3 members alive everywhere")
        yield c
    finally:
        c.close()


def header(c: LocalCluster, sender: str, sender_addr: str = "127.0.0.1:9") -> pb.Header:
    return pb.Header(version=PROTOCOL_VERSION, cluster=c.config["cluster"], sender=sender, sender_addr=sender_addr)


def stub(
    c: LocalCluster, addr: str, as_member: str | None = None
) -> tuple[grpc.Channel, swim_pb2_grpc.FailureDetectorStub]:
    """A channel holding member ``as_member``'s certificate (None: the client certificate, which may only read)."""
    options = [("grpc.max_send_message_length", 8 << 20)]
    creds = c.credentials(as_member)
    ch = grpc.secure_channel(addr, creds, options=options) if creds else grpc.insecure_channel(addr, options=options)
    return ch, swim_pb2_grpc.FailureDetectorStub(ch)


def members(c: LocalCluster, k: int) -> pb.MembersReply:
    ch, s = stub(c, c.addr(k))
    with ch:
        return s.Members(pb.MembersRequest(), timeout=5)


def incarnation(c: LocalCluster, k: int, of: str) -> int:
    return next(mv.member.incarnation for mv in members(c, k).members if mv.member.id == of)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def processes(c: LocalCluster) -> list[int]:
    return [pid for n in c.nodes.values() for pid in (n.proc.pid, *n.children())]


def refused(c: LocalCluster, k: int, reason: str | None = None) -> list[dict[str, object]]:
    return [e for e in c.nodes[str(k)].events("request_refused") if reason is None or e.get("reason") == reason]


def deliver(c: LocalCluster, k: int, env: pb.Envelope) -> grpc.StatusCode:
    """Deliver ``env`` to node k holding the certificate of the member its header names."""
    ch, s = stub(c, c.addr(k), env.header.sender)
    with ch:
        try:
            s.Deliver(env, timeout=5)
        except grpc.RpcError as e:
            return e.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_labels_attack_from_a_non_member_is_refused_without_growth_or_false_failures(cluster: LocalCluster) -> None:
    c = cluster
    before = {pid: rss_kb(pid) for pid in processes(c)}
    blob = {f"k{i:06d}": "v" * 90 for i in range(40_000)}  # about 3.9 MB, under the 4 MiB message bound
    joiner = pb.Member(id="evil", addr="127.0.0.1:9", incarnation=int(time.time()), state=pb.ALIVE)
    joiner.labels.update(blob)
    req = pb.JoinRequest(header=header(c, "evil"), member=joiner)
    assert 3_800_000 < req.ByteSize() < 4 << 20
    ch, s = stub(c, c.addr(1), "evil")
    with ch, pytest.raises(grpc.RpcError) as info:
        s.Join(req, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    upd = pb.Update(member=joiner)
    setattr(upd, "from", "evil")
    for k in (1, 2, 3):  # the same map gossiped by a non-member
        env = pb.Envelope(header=header(c, "evil"), ping=pb.Ping(seq=1, target=str(k)))
        env.updates.append(upd)
        assert deliver(c, k, env) == grpc.StatusCode.INVALID_ARGUMENT
    time.sleep(10.0)  # the attack's failures showed within 5-20 s
    assert not c.events("member_failed"), c.events("member_failed")
    for k in (1, 2, 3):
        assert {mv.member.id for mv in members(c, k).members} == {"1", "2", "3"}
        assert refused(c, k), f"node {k} logged no refusal"
    after = {pid: rss_kb(pid) for pid in processes(c)}
    growth = {pid: (after[pid] - before[pid]) / 1024 for pid in before if pid in after}
    assert max(growth.values()) < 20, f"RSS growth in MB per process: {growth}"


def test_forged_election_terms_are_refused_or_converge_on_one_leader(cluster: LocalCluster) -> None:
    c = cluster

    def leaders() -> set[tuple[str, int]]:
        out = set()
        for k in (1, 2, 3):
            r = members(c, k)
            out.add((r.leader.leader.id, r.leader.term) if r.HasField("leader") else ("", 0))
        return out

    wait_for(lambda: len(leaders()) == 1 and ("", 0) not in leaders(), CONVERGE_S, "one leader", state=leaders)
    [(leader, term)] = leaders()
    assert leader == "3"
    exhaust = pb.Envelope(
        header=header(c, "2", c.addr(2)), i_am_leader=pb.IAmLeader(leader=pb.ElectionIdentity(id="2"), term=2**62)
    )
    for k in (1, 3):
        assert deliver(c, k, exhaust) == grpc.StatusCode.INVALID_ARGUMENT
    # As far ahead as a holder of 3's certificate gets a relayed claim accepted, to one node only.
    plausible = pb.Envelope(
        header=header(c, "3", c.addr(3)),
        i_am_leader=pb.IAmLeader(leader=pb.ElectionIdentity(id="2"), term=term + STEP),
    )
    assert deliver(c, 1, plausible) == grpc.StatusCode.OK
    time.sleep(2.0)
    wait_for(lambda: len(leaders()) == 1 and ("", 0) not in leaders(), CONVERGE_S, "one leader again", state=leaders)
    [(leader, new_term)] = leaders()
    assert leader == "3" and new_term < 2**62
    assert refused(c, 1, "invalid_argument")


def test_dead_at_the_top_incarnation_or_a_plausible_one_never_keeps_a_live_member_dead(cluster: LocalCluster) -> None:
    c = cluster
    inc2 = incarnation(c, 2, "2")
    wait_for(lambda: all(incarnation(c, k, "2") == inc2 for k in (1, 3)), CONVERGE_S, "2's own incarnation everywhere")
    for inc in (TOP, inc2 + STEP):
        dead = pb.Update(member=pb.Member(id="2", addr=c.addr(2), incarnation=inc, state=pb.DEAD), detector="swim")
        setattr(dead, "from", "3")
        for k in (1, 3):
            env = pb.Envelope(header=header(c, "3", c.addr(3)), ping=pb.Ping(seq=1, target=str(k)))
            env.updates.append(dead)
            assert deliver(c, k, env) == grpc.StatusCode.OK  # the ping is answered; the claim judged apart
        wait_for(lambda: c.all_see(["2"], pb.ALIVE), REFUTATION_S, "2 alive everywhere", state=c.views)
        time.sleep(1.0)
        assert c.all_see(["1", "2", "3"], pb.ALIVE), c.views()
    assert incarnation(c, 2, "2") == inc2 + STEP + 1  # refuted the plausible claim, ignored the absurd one
    assert refused(c, 1, "implausible_incarnation") and refused(c, 3, "implausible_incarnation")


def test_ping_req_for_a_non_member_address_is_refused_and_nothing_is_dialled(cluster: LocalCluster) -> None:
    c = cluster
    bait = socket.socket()
    bait.bind(("127.0.0.1", 0))
    bait.listen()
    bait.settimeout(3.0)
    addr = f"127.0.0.1:{bait.getsockname()[1]}"
    dialled: list[object] = []

    def watch() -> None:
        try:
            conn, _ = bait.accept()
            dialled.append(conn)
        except OSError:
            pass

    t = threading.Thread(target=watch)
    t.start()
    env = pb.Envelope(header=header(c, "3", c.addr(3)), ping_req=pb.PingReq(seq=7, target="evil", target_addr=addr))
    assert deliver(c, 1, env) == grpc.StatusCode.OK
    t.join()
    bait.close()
    assert not dialled, "the node dialled the ping-req's address"
    wait_for(lambda: bool(refused(c, 1, "ping_req_not_member")), 5, "the refusal in node 1's log")


@pytest.mark.parametrize("which", ["detector", "go-diss"])
def test_half_open_connection_is_reaped_within_seconds(cluster: LocalCluster, which: str) -> None:
    c = cluster
    addr = c.addr(1) if which == "detector" else c.diss_addr(1)
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
    s.settimeout(30.0)
    start = time.monotonic()
    try:
        while s.recv(4096):  # the server's settings frame, then nothing until it closes the connection
            pass
    except (ConnectionResetError, TimeoutError):
        pass
    finally:
        s.close()
    held = time.monotonic() - start
    assert held < 10.0, f"{which} held a half-open connection {held:.1f}s"
