"""Labels set on one real node (flags and config file) are seen by the others and printed by `members`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import grpc
import pytest
from harness import REPO, LocalCluster, wait_for

from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc

pytestmark = pytest.mark.integration

CONVERGE_S = 30.0


def labels_seen(cluster: LocalCluster, observer: int) -> dict[str, dict[str, str]]:
    """member id -> labels in ``observer``'s view ({} when it does not answer)."""
    try:
        with cluster.channel(cluster.addr(observer)) as ch:
            reply = swim_pb2_grpc.FailureDetectorStub(ch).Members(pb.MembersRequest(), timeout=2.0)
    except grpc.RpcError:
        return {}
    return {mv.member.id: dict(mv.member.labels) for mv in reply.members}


def test_labels_from_flags_and_config_file_spread_to_static_and_joined_members(cluster: LocalCluster) -> None:
    labelled = cluster.workdir / "labelled.json"
    labelled.write_text(json.dumps({**cluster.config, "labels": {"team": "infra", "zone": "z0"}}))
    members = cluster.members_list([1, 2])
    # --config comes after the harness's own, so it is the one that counts.
    cluster.start(1, "--members", members, "--config", str(labelled), "--label", "zone=eu-1", "--label", "rack=r7")
    cluster.start(2, "--members", members)
    want1 = {"team": "infra", "zone": "eu-1", "rack": "r7"}
    wait_for(lambda: labels_seen(cluster, 2).get("1") == want1, CONVERGE_S, "node 2 to see node 1's labels")
    assert labels_seen(cluster, 2).get("2") == {}

    # A member that joins through a seed brings its labels along.
    cluster.start(3, "--join", cluster.addr(1), "--label", "role=joiner")
    wait_for(
        lambda: labels_seen(cluster, 2).get("3") == {"role": "joiner"},
        CONVERGE_S,
        "node 2 to see the joiner's labels",
        state=lambda: labels_seen(cluster, 2),
    )
    assert labels_seen(cluster, 3).get("1") == want1

    env = {**os.environ, "PYTHONPATH": str(REPO / "pyserver")}
    out = subprocess.run(
        [sys.executable, "-m", "swimfd", "members", *cluster.cli_tls(), "--target", cluster.addr(2)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=True,
    ).stdout
    rows = {line.split()[0]: line.split()[-1] for line in out.splitlines()[1:]}
    assert rows["id"] == "labels"
    assert rows["1"] == "rack=r7,team=infra,zone=eu-1"
    assert rows["2"] == "-"
    assert rows["3"] == "role=joiner"
