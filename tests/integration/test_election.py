"""Bully election across real detector processes: 5 nodes, SIGKILL the leader, every survivor agrees.

Timing is checked against the protocol's own bound (detection_bound for the fast test configuration plus
the election's timeouts; docs/election.md derives it), never against the machine's speed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import FAST, GO_DISS, REPO, LocalCluster, wait_for

from swimfd.core.bounds import detection_bound
from swimfd.core.config import Config
from swimfd.pb import swim_pb2 as pb

pytestmark = pytest.mark.integration

ELECTION = {
    **FAST,
    "election": True,
    "election_timeout": 0.5,
    "leader_wait_timeout": 1.5,
    "leader_probe_min": 0.2,
    "leader_probe_max": 1.0,
}
CONVERGE_S = 20.0  # generous start-up allowance on a shared 2-core machine


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    if not GO_DISS.exists():
        pytest.skip("bin/go-diss is not built (run `make build`)")
    c = LocalCluster(tmp_path, config=dict(ELECTION))
    try:
        yield c
    finally:
        c.close()


def last_leader(c: LocalCluster, k: str) -> dict[str, Any] | None:
    evs = c.nodes[k].events("leader_elected")
    return evs[-1] if evs else None


def members_json(c: LocalCluster, k: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "swimfd", "members", *c.cli_tls(), "--target", c.addr(int(k)), "--json"],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO / "pyserver")},
        check=True,
    )
    return json.loads(out.stdout)


def test_killed_leader_is_replaced_and_every_survivor_logs_the_same_new_leader(cluster: LocalCluster) -> None:
    cluster.start_static(5)
    everyone = [str(k) for k in range(1, 6)]

    def all_follow(ids: list[str], leader: str) -> bool:
        return all((e := last_leader(cluster, k)) is not None and e["leader"] == leader for k in ids)

    wait_for(lambda: all_follow(everyone, "5"), CONVERGE_S, "every node to log leader 5", state=cluster.views)
    terms = {last_leader(cluster, k)["term"] for k in everyone}  # type: ignore[index]
    assert len(terms) == 1
    [term] = terms
    shown = members_json(cluster, "1")["leader"]
    assert shown is not None and (shown["id"], shown["term"]) == ("5", term)

    crashed_at = time.time()
    cluster.nodes["5"].signal(signal.SIGKILL)
    cfg = Config(**ELECTION)  # type: ignore[arg-type]
    # Every survivor declares 5 failed within detection_bound; 4 then has nobody above it and claims at once,
    # the others accept the claim on arrival, and 4 believes it after one election_timeout.
    bound = detection_bound(cfg, 5) + cfg.election_timeout + cfg.probe_interval
    survivors = ["1", "2", "3", "4"]
    wait_for(lambda: all_follow(survivors, "4"), bound + 5.0, "every survivor to log leader 4", state=cluster.views)
    news = {k: last_leader(cluster, k) for k in survivors}
    assert {e["term"] for e in news.values()} == {term + 1}, news  # type: ignore[index]
    for k, e in news.items():
        assert e is not None and e["node"] == k and e["member"] == "4"
        assert e["ts"] - crashed_at <= bound, f"node {k} took {e['ts'] - crashed_at:.2f}s > {bound:.2f}s"
    shown = members_json(cluster, "2")["leader"]
    assert shown is not None and (shown["id"], shown["term"]) == ("4", term + 1)
    wait_for(lambda: cluster.all_see(["5"], pb.DEAD, survivors), 5.0, "every survivor to list node 5 DEAD")
