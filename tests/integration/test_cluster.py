"""Real detector processes (and their go-diss children) on loopback.

Timing assertions use the protocol's own bound (swimfd.bounds.detection_bound)
for the fast test configuration, never a wall-clock speed of the machine.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from harness import ENTRY, LocalCluster, fast_config, wait_for

from swimfd.core.bounds import detection_bound
from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc

pytestmark = pytest.mark.integration

CONVERGE_S = 20.0  # generous start-up allowance on a shared 2-core machine


def ids(*ks: int) -> list[str]:
    return [str(k) for k in ks]


def suspicion_min(n: int) -> float:
    cfg = fast_config()
    return cfg.suspicion_mult * max(1.0, math.log10(n)) * cfg.probe_interval


@pytest.mark.parametrize("mode", ["swim", "heartbeat", "hybrid"])
def test_five_nodes_agree_and_a_crash_is_detected_by_every_survivor(cluster: LocalCluster, mode: str) -> None:
    cluster.start_static(5, "--mode", mode)
    wait_for(
        lambda: cluster.all_see(ids(1, 2, 3, 4, 5), pb.ALIVE),
        CONVERGE_S,
        "five alive members everywhere",
        state=cluster.views,
    )
    # Let every detector see a few rounds of live traffic before the crash.
    time.sleep(5 * fast_config().probe_interval)
    assert cluster.events("member_failed") == []

    crashed_at = time.time()
    cluster.nodes["5"].signal(signal.SIGKILL)
    bound = detection_bound(fast_config().replace(mode=mode), 5)
    survivors = ids(1, 2, 3, 4)
    wait_for(
        lambda: all(any(e["member"] == "5" for e in cluster.nodes[k].events("member_failed")) for k in survivors),
        bound + 5.0,
        "every survivor to log member_failed for node 5",
    )
    for k in survivors:
        failed = cluster.nodes[k].events("member_failed")
        assert [e["member"] for e in failed] == ["5"], f"node {k} logged {failed}"
        event = failed[0]
        assert event["ts"] - crashed_at <= bound, f"node {k} took {event['ts'] - crashed_at:.2f}s > {bound:.2f}s"
        assert event["node"] == k and event["detector"] in ("swim", "heartbeat", "hybrid")
        assert isinstance(event["incarnation"], int)
    wait_for(lambda: cluster.all_see(["5"], pb.DEAD, survivors), 5.0, "every survivor to list node 5 DEAD")


def test_join_through_one_seed_while_another_is_down(cluster: LocalCluster) -> None:
    cluster.start_static(3)
    wait_for(lambda: cluster.all_see(ids(1, 2, 3), pb.ALIVE), CONVERGE_S, "three alive members")
    down_seed = cluster.addr(9)  # nothing listens there
    joiner = cluster.start(6, "--join", f"{down_seed},{cluster.addr(2)}")
    wait_for(lambda: bool(joiner.events("joined")), CONVERGE_S, "node 6 to join")
    assert joiner.events("joined")[0]["seed"] == cluster.addr(2), joiner.events("join_failed")
    periods = 10 * fast_config().probe_interval
    wait_for(
        lambda: cluster.all_see(ids(1, 2, 3, 6), pb.ALIVE),
        periods + 5.0,
        "every node to list node 6 alive",
        state=cluster.views,
    )
    assert cluster.events("member_failed") == []


def test_a_crashed_member_restarted_under_the_same_id_is_accepted(cluster: LocalCluster) -> None:
    cluster.start_static(3)
    wait_for(lambda: cluster.all_see(ids(1, 2, 3), pb.ALIVE), CONVERGE_S, "three alive members", state=cluster.views)
    first_life = cluster.nodes["3"].events("node_started")[0]["incarnation"]
    cluster.nodes["3"].signal(signal.SIGKILL)
    bound = detection_bound(fast_config(), 3)
    wait_for(lambda: cluster.all_see(["3"], pb.DEAD, ids(1, 2)), bound + 5.0, "node 3 DEAD", state=cluster.views)
    cluster.nodes["3"].proc.wait(timeout=10)
    time.sleep(1.0)  # the next life's incarnation (epoch seconds) is then surely higher
    cluster.start(3, "--members", cluster.members_list((1, 2, 3)))
    wait_for(lambda: cluster.all_see(ids(1, 2, 3), pb.ALIVE), bound + 10.0, "node 3 ALIVE again", state=cluster.views)
    for k in ("1", "2"):
        # A new life is logged as member_alive or member_joined, with its higher incarnation
        # (docs/architecture.md, "What each layer promises", runtime).
        events = cluster.nodes[k].events("member_alive") + cluster.nodes[k].events("member_joined")
        assert any(e["member"] == "3" and e["incarnation"] > first_life for e in events)


def test_members_command_prints_table_and_json(cluster: LocalCluster) -> None:
    cluster.start_static(2)
    # Past start-up (a node probed before its peer listened may be briefly suspected), both are alive.
    time.sleep(5 * fast_config().probe_interval)
    wait_for(lambda: cluster.all_see(ids(1, 2), pb.ALIVE), CONVERGE_S, "two alive members", state=cluster.views)
    cmd = [sys.executable, "-m", "swimfd", "members", *cluster.cli_tls(), "--target", cluster.addr(2)]
    table = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=True).stdout.splitlines()
    assert table[0].startswith("node 2  mode swim  leader ")
    assert table[1].split() == ["id", "addr", "diss_addr", "state", "incarnation", "heartbeat", "last_change"]
    assert [row.split()[:4] for row in table[2:]] == [
        ["1", cluster.addr(1), cluster.diss_addr(1), "ALIVE"],
        ["2", cluster.addr(2), cluster.diss_addr(2), "ALIVE"],
    ]
    view = json.loads(subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=30, check=True).stdout)
    assert (view["self_id"], view["mode"]) == ("2", "swim")
    assert [(m["id"], m["state"]) for m in view["members"]] == [("1", "ALIVE"), ("2", "ALIVE")]
    assert all(m["last_change"] > 1.6e9 and m["incarnation"] > 0 for m in view["members"])
    down = subprocess.run([*cmd[:-1], cluster.addr(9), "--timeout", "1"], capture_output=True, text=True, timeout=30)
    assert down.returncode == 1
    assert down.stderr.strip().startswith(f"swimfd members: error: {cluster.addr(9)}: ")


def test_sigterm_leaves_gracefully(cluster: LocalCluster) -> None:
    cluster.start_static(4)
    wait_for(lambda: cluster.all_see(ids(1, 2, 3, 4), pb.ALIVE), CONVERGE_S, "four alive members")
    leaver = cluster.nodes["4"]
    leaver.signal(signal.SIGTERM, with_children=False)
    assert leaver.proc.wait(timeout=15) == 0
    wait_for(
        lambda: all(any(e["member"] == "4" for e in cluster.nodes[k].events("member_left")) for k in ids(1, 2, 3)),
        10.0,
        "member_left for node 4 everywhere",
    )
    # Give a would-be false detection the full detection bound to show up.
    time.sleep(detection_bound(fast_config(), 4))
    assert cluster.events("member_failed") == []
    assert cluster.all_see(["4"], pb.LEFT, ids(1, 2, 3))
    assert [e["event"] for e in leaver.events()][-1] == "node_stopped"


def test_pause_for_half_the_suspicion_timeout_is_not_a_failure(cluster: LocalCluster) -> None:
    cluster.start_static(4)
    wait_for(lambda: cluster.all_see(ids(1, 2, 3, 4), pb.ALIVE), CONVERGE_S, "four alive members")
    paused = cluster.nodes["4"]
    paused.signal(signal.SIGSTOP)
    try:
        time.sleep(suspicion_min(4) / 2)
    finally:
        paused.signal(signal.SIGCONT)
    time.sleep(detection_bound(fast_config(), 4))
    assert cluster.events("member_failed") == []
    assert cluster.all_see(ids(1, 2, 3, 4), pb.ALIVE)


def test_detection_survives_a_dead_dissemination_service(cluster: LocalCluster) -> None:
    # Node 1 uses an external go-diss the test can kill and restart; node 2's is a child the
    # detector restarts by itself.
    members = cluster.members_list(range(1, 5))
    external = cluster.start_go_diss(1)
    cluster.start(1, "--members", members, "--diss-addr", cluster.diss_addr(1))
    for k in (2, 3, 4):
        cluster.start(k, "--members", members)
    wait_for(lambda: cluster.all_see(ids(1, 2, 3, 4), pb.ALIVE), CONVERGE_S, "four alive members")

    child = cluster.nodes["2"].children()
    assert len(child) == 1
    os.kill(child[0], signal.SIGKILL)
    wait_for(lambda: len(cluster.nodes["2"].events("dissemination_started")) == 2, 10.0, "node 2 to restart go-diss")
    assert cluster.nodes["2"].events("dissemination_exited")

    external.kill()
    external.wait(timeout=5)
    cluster.nodes["4"].signal(signal.SIGKILL)
    bound = detection_bound(fast_config(), 4)
    wait_for(
        lambda: any(e["member"] == "4" for e in cluster.nodes["1"].events("member_failed")),
        bound + 5.0,
        "node 1 to detect node 4 without its go-diss",
    )

    cluster.extra_pids.append(cluster.start_go_diss(1))
    cluster.nodes["3"].signal(signal.SIGKILL)
    diss_log = cluster.workdir / "external-diss1.log"

    def notice_about_3() -> bool:
        text = diss_log.read_text() if diss_log.exists() else ""
        return any('"member":"3"' in line and "notice" in line for line in text.splitlines())

    wait_for(notice_about_3, bound + 5.0, "a notice about node 3 through node 1's restarted go-diss")
    wait_for(
        lambda: any(e["member"] == "3" for e in cluster.nodes["1"].events("member_failed")),
        bound + 5.0,
        "node 1 to learn node 3 failed",
    )
    assert {e["member"] for e in cluster.events("member_failed")} == {"3", "4"}


def test_test_loss_drops_messages_only_when_enabled(cluster: LocalCluster) -> None:
    members = cluster.members_list((1, 2, 3))
    refused = _run(["--id", "1", "--members", members, "--test-loss", "0.1"], {})
    assert refused.returncode == 2
    assert refused.stderr.strip().endswith("set SWIMFD_ENABLE_FAULT_INJECTION=1 to allow it")
    for k in (1, 2, 3):
        cluster.start(k, "--members", members, "--test-loss", "0.1", env={"SWIMFD_ENABLE_FAULT_INJECTION": "1"})

    def dropped() -> int:
        total = 0
        for node in cluster.nodes.values():
            stats = node.events("transport_stats")
            if stats:
                total += int(stats[-1]["dropped_out"]) + int(stats[-1]["dropped_in"])
        return total

    # transport_stats comes every 5 s; by the first one, 10% loss has hit some of ~100 messages.
    wait_for(lambda: dropped() > 0, 15.0, "transport_stats to count dropped messages")
    for node in cluster.nodes.values():
        assert node.events("node_started")[0]["test_loss"] == 0.1
        node.signal(signal.SIGTERM, with_children=False)
        assert node.proc.wait(timeout=15) == 0


def _deliver(cluster: LocalCluster, addr: str, env: pb.Envelope) -> grpc.StatusCode:
    """Deliver ``env`` with the certificate of the member its header names, as an honest sender would."""
    with cluster.channel(addr, as_member=env.header.sender or None) as ch:
        try:
            swim_pb2_grpc.FailureDetectorStub(ch).Deliver(env, timeout=5)
        except grpc.RpcError as e:
            return e.code()  # type: ignore[attr-defined, no-any-return]
    return grpc.StatusCode.OK


def test_malformed_and_foreign_messages_are_refused_and_change_nothing(cluster: LocalCluster) -> None:
    cluster.start_static(3)
    wait_for(lambda: cluster.all_see(ids(1, 2, 3), pb.ALIVE), CONVERGE_S, "three alive members")
    target = cluster.addr(1)
    dead2 = pb.Update(member=pb.Member(id="2", addr=cluster.addr(2), incarnation=2**62, state=pb.DEAD))
    foreign = pb.Envelope(
        header=pb.Header(version=1, cluster="other", sender="9", sender_addr="127.0.0.1:1"),
        updates=[dead2],
        ping=pb.Ping(seq=1, target="1"),
    )
    assert _deliver(cluster, target, foreign) == grpc.StatusCode.FAILED_PRECONDITION
    old = pb.Envelope()
    old.CopyFrom(foreign)
    old.header.cluster, old.header.version = "itest", 99
    assert _deliver(cluster, target, old) == grpc.StatusCode.FAILED_PRECONDITION
    malformed = pb.Envelope()
    malformed.CopyFrom(old)
    malformed.header.version = 1
    malformed.updates[0].member.id = ""  # a subject without an id
    assert _deliver(cluster, target, malformed) == grpc.StatusCode.INVALID_ARGUMENT
    with cluster.channel(target, as_member="9") as ch:
        raw = ch.unary_unary("/swimfd.v1.FailureDetector/Deliver")
        with pytest.raises(grpc.RpcError) as info:
            raw(b"\x0a\xff\xff\xff", timeout=5)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    time.sleep(3 * fast_config().probe_interval)
    assert cluster.all_see(ids(1, 2, 3), pb.ALIVE)
    assert cluster.events("member_failed") == []


def test_tls_cluster_refuses_strangers_and_interoperates_with_go_diss(cluster: LocalCluster) -> None:
    # Formerly the keyed cluster's test: mutual TLS now refuses what a wrong key used to.
    members = cluster.members_list((1, 2, 3))
    for k in (1, 2, 3):
        cluster.start(k, "--members", members)
    wait_for(lambda: cluster.all_see(ids(1, 2, 3), pb.ALIVE), CONVERGE_S, "three alive members", state=cluster.views)
    env = pb.Envelope(header=pb.Header(version=1, cluster="itest", sender="9"), ping=pb.Ping(seq=1, target="1"))
    # No certificate at all:
    with grpc.insecure_channel(cluster.addr(1)) as ch, pytest.raises(grpc.RpcError) as info:
        swim_pb2_grpc.FailureDetectorStub(ch).Deliver(env, timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    # A certificate, but for another member:
    with cluster.channel(cluster.addr(1), as_member=8) as ch, pytest.raises(grpc.RpcError) as info:
        swim_pb2_grpc.FailureDetectorStub(ch).Deliver(env, timeout=5)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]

    cluster.nodes["3"].signal(signal.SIGKILL)
    bound = detection_bound(fast_config(), 3)
    wait_for(lambda: cluster.all_see(["3"], pb.DEAD, ids(1, 2)), bound + 5.0, "both survivors to list node 3 DEAD")

    # go-diss took our Report over mTLS, and its notices passed our identity check.
    def diss_logs() -> list[str]:
        return [(cluster.workdir / f"node{k}.diss.log").read_text() for k in (1, 2)]

    def logged(event: str) -> bool:
        return any(
            f'"event":"{event}"' in line and '"member":"3"' in line for t in diss_logs() for line in t.splitlines()
        )

    # Notices travel asynchronously, possibly after gossip already told everyone.
    # A peer's notice is logged as received, or as a duplicate when our own report came first.
    wait_for(
        lambda: logged("notice_broadcast") and (logged("notice_received") or logged("notice_duplicate")),
        10.0,
        "go-diss notices about node 3",
    )
    # No call was refused for its identity or its certificate. (A notice to the dead node 3 itself fails with
    # "connection refused": go-diss tells the accused too, and that is a delivery failure, not a refusal.)
    refusals = ('"event":"request_refused"', '"event":"identity_refused"', '"event":"handshake_refused"')
    assert not [line for text in diss_logs() for line in text.splitlines() if any(r in line for r in refusals)]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A node started by hand; plaintext (--insecure) because these tests are about other flags."""
    return subprocess.run(
        [sys.executable, str(ENTRY), *args, "--insecure"],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ([], {"NODE_ID": "1", "MEMBERS": "localhost:50051,nonsense"}, "MEMBERS: 'nonsense' is not host:port"),
        ([], {"NODE_ID": "7", "MEMBERS": "localhost:50051,localhost:50052"}, "NODE_ID: 7 is out of range 1-2"),
        (["--mode", "gossip"], {"NODE_ID": "1"}, "--mode: 'gossip' is not one of swim, heartbeat, hybrid"),
        (["--members"], {"NODE_ID": "1"}, "argument --members: expected one argument"),
    ],
)
def test_bad_flags_or_env_exit_nonzero_with_one_line(args: list[str], env: dict[str, str], message: str) -> None:
    p = _run(args, env)
    assert p.returncode != 0
    assert len(p.stderr.strip().splitlines()) == 1
    assert message in p.stderr


def test_port_in_use_exits_nonzero_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = _run(["--id", "1", "--bind", f"127.0.0.1:{port}", "--diss-addr", "127.0.0.1:1"], {})
    assert p.returncode == 1
    assert p.stderr.strip() == f"swimfd: error: cannot listen on 127.0.0.1:{port}: port {port} is already in use"
