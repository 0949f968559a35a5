"""grpc.health.v1 and server reflection on real detectors and their go-diss children."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from harness import REPO, LocalCluster, NodeProc, wait_for

pytestmark = pytest.mark.integration

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
START_S = 30.0  # generous start-up allowance on a shared 2-core machine


def status(cluster: LocalCluster, addr: str, service: str = "") -> int | None:
    """The health status at ``addr``, or None when it does not answer."""
    with cluster.channel(addr) as ch:
        try:
            return (
                health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=service), timeout=1.0).status
            )
        except grpc.RpcError:
            return None


def reflected_services(cluster: LocalCluster, addr: str) -> set[str]:
    with cluster.channel(addr) as ch:
        stub = reflection_pb2_grpc.ServerReflectionStub(ch)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
        return {s.name for reply in replies for s in reply.list_services_response.service}


def start_alone(cluster: LocalCluster, k: int = 1) -> NodeProc:
    node = cluster.start(k, "--members", cluster.addr(k))
    wait_for(lambda: status(cluster, node.addr) == SERVING, START_S, f"node {k} to report SERVING", state=node.events)
    return node


def health_events(node: NodeProc) -> list[tuple[str, str]]:
    return [(e["status"], e["reason"]) for e in node.events("health_changed")]


class Watcher:
    """Follows a Watch stream in a thread and records every status it sends until the stream ends."""

    def __init__(self, cluster: LocalCluster, addr: str) -> None:
        self.statuses: list[int] = []
        self._channel = cluster.channel(addr)
        self._stream = health_pb2_grpc.HealthStub(self._channel).Watch(health_pb2.HealthCheckRequest(), timeout=60)
        self.ended = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            for reply in self._stream:
                self.statuses.append(reply.status)
        except grpc.RpcError:
            pass
        finally:
            self.ended.set()

    def close(self) -> None:
        self._stream.cancel()
        self._channel.close()


def test_serving_after_start_and_not_serving_while_leaving_on_sigterm(cluster: LocalCluster) -> None:
    node = start_alone(cluster)
    assert status(cluster, node.addr, "swimfd.v1.FailureDetector") == SERVING
    watcher = Watcher(cluster, node.addr)
    try:
        wait_for(lambda: watcher.statuses == [SERVING], 10, "the Watch stream to report SERVING")
        node.signal(signal.SIGTERM, with_children=False)
        assert node.proc.wait(timeout=20) == 0
        assert watcher.ended.wait(10), "the Watch stream outlived the process"
    finally:
        watcher.close()
    # The stream saw NOT_SERVING while the process was still up, then the process left and exited.
    assert watcher.statuses == [SERVING, NOT_SERVING]
    events = node.events()
    names = [e["event"] for e in events]
    not_serving = next(
        i for i, e in enumerate(events) if e["event"] == "health_changed" and e["status"] == "NOT_SERVING"
    )
    assert not_serving < names.index("node_leaving") < names.index("node_stopped")
    assert health_events(node) == [("SERVING", "ready"), ("NOT_SERVING", "leaving")]


def test_killed_go_diss_turns_the_detector_not_serving_until_it_is_restarted(cluster: LocalCluster) -> None:
    node = start_alone(cluster)
    assert status(cluster, cluster.diss_addr(1)) == SERVING
    (child,) = node.children()
    os.kill(child, signal.SIGKILL)
    wait_for(
        lambda: status(cluster, node.addr) == NOT_SERVING, 10, "NOT_SERVING after go-diss was killed", state=node.events
    )
    (down,) = [e for e in node.events("health_changed") if e["status"] == "NOT_SERVING"]
    assert down["reason"] == "dissemination_down" and cluster.diss_addr(1) in down["detail"]
    # The supervisor restarts go-diss; the detector serves again once the new one does.
    wait_for(lambda: status(cluster, node.addr) == SERVING, 20, "SERVING after the restart", state=node.events)
    assert len(node.events("dissemination_started")) == 2
    assert health_events(node) == [("SERVING", "ready"), ("NOT_SERVING", "dissemination_down"), ("SERVING", "ready")]


def test_joining_node_serves_only_once_a_seed_lets_it_in(cluster: LocalCluster) -> None:
    joiner = cluster.start(2, "--join", cluster.addr(1))
    wait_for(lambda: bool(joiner.events("join_failed")), START_S, "a failed join while the seed is down")
    assert status(cluster, joiner.addr) == NOT_SERVING
    start_alone(cluster, 1)
    wait_for(
        lambda: status(cluster, joiner.addr) == SERVING, START_S, "the joiner to report SERVING", state=joiner.events
    )
    assert joiner.events("joined")


def test_go_diss_health_and_reflection_on_both_processes(cluster: LocalCluster) -> None:
    node = start_alone(cluster)
    diss = cluster.diss_addr(1)
    assert status(cluster, diss) == SERVING
    assert status(cluster, diss, "swimfd.v1.Dissemination") == SERVING
    assert status(cluster, node.addr, "no.such.Service") is None  # NOT_FOUND, as the health protocol says
    assert {"swimfd.v1.FailureDetector", "grpc.health.v1.Health"} <= reflected_services(cluster, node.addr)
    assert {"swimfd.v1.Dissemination", "grpc.health.v1.Health"} <= reflected_services(cluster, diss)


def test_health_command_waits_for_serving_and_fails_on_a_dead_target(cluster: LocalCluster) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "pyserver")}
    node = cluster.start(1, "--members", cluster.addr(1))
    ok = subprocess.run(
        [sys.executable, "-m", "swimfd", "health", *cluster.cli_tls(), "--target", node.addr, "--wait", str(START_S)],
        capture_output=True,
        text=True,
        env=env,
        timeout=START_S + 15,
    )
    assert (ok.returncode, ok.stdout) == (0, f"{node.addr}: SERVING\n")
    diss = subprocess.run(
        [sys.executable, "-m", "swimfd", "health", *cluster.cli_tls(), "--target", cluster.diss_addr(1)],
        capture_output=True,
        text=True,
        env=env,
        timeout=15,
    )
    assert (diss.returncode, diss.stdout) == (0, f"{cluster.diss_addr(1)}: SERVING\n")
    dead = cluster.addr(9)  # nothing listens there
    bad = subprocess.run(
        [sys.executable, "-m", "swimfd", "health", "--target", dead, "--wait", "0.5", "--timeout", "0.3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=15,
    )
    assert bad.returncode == 1 and bad.stdout.startswith(f"{dead}: UNREACHABLE")
