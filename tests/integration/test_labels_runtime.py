"""Labels changed at run time (`swimfd labels` -> SetLabels) on one real node are seen on another."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import FAST, GO_DISS, REPO, LocalCluster, wait_for
from test_labels import labels_seen

pytestmark = pytest.mark.integration

CONVERGE_S = 30.0
# Nothing here is about detection: protocol periods slow enough that a busy machine causes no false
# failures (a member held dead would come back with member_alive, not member_updated).
CALM = {**FAST, "probe_interval": 0.5, "probe_timeout": 0.25, "gossip_interval": 0.25}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    if not GO_DISS.exists():
        pytest.skip("bin/go-diss is not built (run `make build`)")
    c = LocalCluster(tmp_path, config=dict(CALM))
    try:
        yield c
    finally:
        c.close()


def swimfd_labels(cluster: LocalCluster, target: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`swimfd labels` as an operator runs it: with the cluster's client certificate (cluster.cli_tls())."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "pyserver")}
    argv = [sys.executable, "-m", "swimfd", "labels", *cluster.cli_tls(), "--target", target, *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30)


@pytest.mark.parametrize("mode", ["swim", "heartbeat"])
def test_a_label_set_on_node_1_at_run_time_is_seen_on_node_3(cluster: LocalCluster, mode: str) -> None:
    cluster.start_static(3, "--mode", mode, "--label", "zone=z1")
    wait_for(lambda: labels_seen(cluster, 3).get("1") == {"zone": "z1"}, CONVERGE_S, "node 3 to know node 1")

    done = swimfd_labels(cluster, cluster.addr(1), "set", "role=db", "zone=z2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("node 1 incarnation ")
    assert done.stdout.rstrip().endswith("labels role=db,zone=z2")
    wait_for(
        lambda: labels_seen(cluster, 3).get("1") == {"role": "db", "zone": "z2"},
        CONVERGE_S,
        "node 3 to see node 1's new labels",
        state=lambda: labels_seen(cluster, 3),
    )
    assert cluster.nodes["1"].events("labels_changed")
    wait_for(
        lambda: any(
            e["member"] == "1" and e.get("labels") == {"role": "db", "zone": "z2"}
            for e in cluster.nodes["3"].events("member_updated")
        ),
        CONVERGE_S,
        "node 3 to log member_updated for node 1",
    )
    # A new incarnation of a live member is news, not a suspicion.
    assert not [e for e in cluster.events("member_suspected") if e["member"] == "1"]

    done = swimfd_labels(cluster, cluster.addr(1), "unset", "role")
    assert done.returncode == 0, done.stderr
    wait_for(lambda: labels_seen(cluster, 2).get("1") == {"zone": "z2"}, CONVERGE_S, "node 2 to see the removal")
    shown = swimfd_labels(cluster, cluster.addr(1))
    assert shown.returncode == 0 and shown.stdout.rstrip().endswith("labels zone=z2")

    refused = swimfd_labels(cluster, cluster.addr(1), "set", "zone=" + "v" * 300)
    assert refused.returncode == 1
    assert "INVALID_ARGUMENT" in refused.stderr and "value of 'zone'" in refused.stderr
    assert labels_seen(cluster, 1).get("1") == {"zone": "z2"}
