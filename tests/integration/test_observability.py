"""Metrics, Watch and --on-event on real detectors and go-diss children: a SIGKILL moves them all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from harness import GO_DISS, REPO, LocalCluster, pick_base, wait_for
from prometheus_client.parser import text_string_to_metric_families

from swimfd.core.config import PROTOCOL_VERSION
from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc
from swimfd.runtime.watch import from_watch_event

pytestmark = pytest.mark.integration

METRICS_OFFSET = 40  # node k's detector metrics on base + 40 + 2k, its go-diss on the next port
DETECT_S = 30.0  # generous on a shared 2-core machine


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    if not GO_DISS.exists():
        pytest.skip("bin/go-diss is not built (run `make build`)")
    c = LocalCluster(tmp_path, base=pick_base(slots=METRICS_OFFSET + 10))
    try:
        yield c
    finally:
        c.close()


def metrics_addr(c: LocalCluster, k: int) -> str:
    return f"127.0.0.1:{c.base + METRICS_OFFSET + 2 * k}"


def diss_metrics_addr(c: LocalCluster, k: int) -> str:
    return f"127.0.0.1:{c.base + METRICS_OFFSET + 2 * k + 1}"


def scrape(addr: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
    """Every sample at http://addr/metrics as (name, sorted labels) -> value; None when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://{addr}/metrics", timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(addr: str, name: str, **labels: str) -> float | None:
    samples = scrape(addr)
    if samples is None:
        return None
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class WatchStream:
    """Follows a node's Watch stream in a thread, keeping every message as a payload dict."""

    def __init__(self, cluster: LocalCluster, addr: str) -> None:
        self.messages: list[dict[str, object]] = []
        self._channel = cluster.channel(addr)
        req = pb.WatchRequest(header=pb.Header(version=PROTOCOL_VERSION, sender="test"))
        self._stream = swim_pb2_grpc.FailureDetectorStub(self._channel).Watch(req, timeout=120)
        self.snapshot: pb.MembersReply | None = None
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            for we in self._stream:
                if we.event == "snapshot":
                    self.snapshot = we.snapshot
                self.messages.append(from_watch_event(we))
        except grpc.RpcError:
            pass

    def close(self) -> None:
        self._stream.cancel()
        self._channel.close()


def test_a_kill_moves_metrics_watch_and_event_handlers(cluster: LocalCluster, tmp_path: Path) -> None:
    out = tmp_path / "handled.jsonl"
    handler = tmp_path / "handler.sh"
    handler.write_text(f'#!/bin/sh\nread -r line\necho "$SWIMFD_EVENT $SWIMFD_MEMBER $line" >> {out}\n')
    handler.chmod(0o755)
    members = cluster.members_list(range(1, 4))
    for k in range(1, 4):
        args = ["--members", members, "--metrics-addr", metrics_addr(cluster, k)]
        if k == 1:
            args += ["--on-event", f"member_failed={handler}", "--on-event", "member_failed=echo broken >&2; exit 3"]
        cluster.start(k, *args)
    for k in range(1, 4):
        wait_for(
            lambda k=k: sample(metrics_addr(cluster, k), "swimfd_members", state="alive") == 3,
            DETECT_S,
            f"node {k}'s /metrics to show 3 alive members",
        )
        # go-diss serves its own /metrics on the detector's metrics port + 1 by default.
        wait_for(
            lambda k=k: sample(diss_metrics_addr(cluster, k), "godiss_calls_in_flight") is not None,
            DETECT_S,
            f"go-diss {k}'s /metrics",
        )
    wait_for(
        lambda: (sample(metrics_addr(cluster, 1), "swimfd_probes_total", result="ack") or 0) > 0,
        DETECT_S,
        "node 1 to count an acked probe",
    )
    before = scrape(metrics_addr(cluster, 1))
    assert before is not None
    assert before[("swimfd_members", (("state", "dead"),))] == 0
    assert before[("swimfd_probes_total", (("result", "ack"),))] > 0
    assert before[("swimfd_messages_total", (("direction", "out"), ("type", "ping")))] > 0
    confirmed_before = sum(
        sample(metrics_addr(cluster, k), "swimfd_suspicions_total", outcome="confirmed") or 0 for k in (1, 2)
    )

    watch = WatchStream(cluster, cluster.addr(1))
    # The command-line follower, on another node, as an operator would run it.
    cli_out = tmp_path / "watch.jsonl"
    with open(cli_out, "wb") as sink:
        cli = subprocess.Popen(
            [
                *[sys.executable, "-m", "swimfd", "members", *cluster.cli_tls()],
                *["--target", cluster.addr(2), "--watch", "--json"],
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO / "pyserver")},
        )
    cluster.extra_pids.append(cli)

    def cli_lines() -> list[dict[str, object]]:
        return [json.loads(line) for line in cli_out.read_text().splitlines() if line.startswith("{")]

    try:
        wait_for(lambda: len(cli_lines()) >= 1, 20, "members --watch to print the snapshot", state=cli_out.read_text)
        wait_for(lambda: watch.snapshot is not None, 10, "the Watch snapshot")
        assert watch.snapshot is not None
        assert {mv.member.id for mv in watch.snapshot.members} == {"1", "2", "3"}

        cluster.nodes["3"].signal(signal.SIGKILL)
        for k in (1, 2):
            wait_for(
                lambda k=k: sample(metrics_addr(cluster, k), "swimfd_members", state="dead") == 1,
                DETECT_S,
                f"node {k}'s swimfd_members{{state='dead'}} to reach 1",
                state=cluster.views,
            )
        confirmed_after = sum(
            sample(metrics_addr(cluster, k), "swimfd_suspicions_total", outcome="confirmed") or 0 for k in (1, 2)
        )
        assert confirmed_after > confirmed_before
        # Somebody's go-diss broadcast the failure.
        wait_for(
            lambda: (
                sum(
                    sample(diss_metrics_addr(cluster, k), "godiss_notices_broadcast_total", kind="failed") or 0
                    for k in (1, 2)
                )
                >= 1
            ),
            DETECT_S,
            "a go-diss to count the failure notice it broadcast",
        )

        wait_for(
            lambda: any(m["event"] == "member_failed" and m.get("member") == "3" for m in watch.messages),
            DETECT_S,
            "member_failed of 3 on the Watch stream",
            state=lambda: watch.messages,
        )
        wait_for(
            lambda: any(m["event"] == "member_failed" and m.get("member") == "3" for m in cli_lines()),
            DETECT_S,
            "member_failed of 3 from members --watch",
            state=cli_out.read_text,
        )
    finally:
        watch.close()
        cli.terminate()
    assert cli_lines()[0]["event"] == "snapshot" and cli_lines()[0]["node"] == "2"
    (failed,) = [m for m in watch.messages if m["event"] == "member_failed"]
    assert (
        failed["node"] == "1"
        and failed["detector"] in ("swim", "hybrid")
        and failed["source"]
        in (
            "local",
            "gossip",
            "notice",
        )
    )
    assert watch.messages[0]["event"] == "snapshot"

    wait_for(lambda: out.exists() and out.read_text().strip() != "", DETECT_S, "the event handler to run")
    event, member, line = out.read_text().strip().split(" ", 2)
    assert (event, member) == ("member_failed", "3")
    assert json.loads(line)["member"] == "3"
    node1 = cluster.nodes["1"]
    wait_for(lambda: bool(node1.events("event_handler_failed")), 10, "the failing handler to be logged")
    (bad,) = node1.events("event_handler_failed")
    assert bad["exit_code"] == 3 and "broken" in bad["stderr"] and bad["on"] == "member_failed"
