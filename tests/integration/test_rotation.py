"""CA rotation on a running cluster (docs/security.md, "Rotation"), without a restart.

Three nodes start on CA1. CA2 is added to every node's bundle and the nodes
reload (SIGHUP to the detector, which reloads and passes it on to its go-diss);
then each node's certificate is re-issued by CA2 and that node reloads, one at
a time; finally CA1 leaves the bundles. Throughout, every member stays ALIVE in
every view and nobody logs member_failed; at the end a CA1 certificate is
refused while CA2 ones are accepted.
"""

from __future__ import annotations

import signal
import time

import grpc
import pytest
from harness import LocalCluster, fast_config, wait_for

from swimfd.commands.certs import make_ca, make_client, make_node
from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc

pytestmark = pytest.mark.integration

CONVERGE_S = 20.0
IDS = ["1", "2", "3"]


def reload_all(cluster: LocalCluster, ks: list[str]) -> None:
    """SIGHUP the detectors of ``ks`` and wait until each detector and its go-diss reloaded once more."""
    before = {k: _reloads(cluster, k) for k in ks}
    for k in ks:
        cluster.nodes[k].signal(signal.SIGHUP, with_children=False)  # the detector forwards it to go-diss
    for k in ks:
        wait_for(
            lambda k=k: all(a > b for a, b in zip(_reloads(cluster, k), before[k], strict=True)),
            10.0,
            f"node {k} and its go-diss to reload their certificates",
        )


def _reloads(cluster: LocalCluster, k: str) -> tuple[int, int]:
    diss = cluster.workdir / f"node{k}.diss.log"
    text = diss.read_text() if diss.exists() else ""
    return len(cluster.nodes[k].events("tls_reloaded")), text.count('"event":"tls_reloaded"')


def steady(cluster: LocalCluster) -> None:
    """A few protocol periods later, everyone still sees everyone ALIVE and nobody failed anyone."""
    time.sleep(8 * fast_config().probe_interval)
    assert cluster.all_see(IDS, pb.ALIVE), cluster.views()
    assert cluster.events("member_failed") == []
    assert cluster.events("tls_reload_failed") == []


def members_call(cluster: LocalCluster, as_member: str) -> grpc.StatusCode:
    with cluster.channel(cluster.addr(1), as_member=as_member) as ch:
        try:
            swim_pb2_grpc.FailureDetectorStub(ch).Members(pb.MembersRequest(), timeout=5)
        except grpc.RpcError as e:
            return e.code()  # type: ignore[attr-defined, no-any-return]
    return grpc.StatusCode.OK


def test_rotating_to_a_new_ca_keeps_every_member_alive(cluster: LocalCluster) -> None:
    tls = cluster.tls_dir
    cluster.cert(9)  # an outsider's CA1 certificate, refused once CA1 is retired
    cluster.start_static(3)
    wait_for(lambda: cluster.all_see(IDS, pb.ALIVE), CONVERGE_S, "three alive members", state=cluster.views)
    steady(cluster)
    assert members_call(cluster, "9") == grpc.StatusCode.OK

    # 1. Trust CA2 beside CA1 everywhere.
    make_ca(tls, "ca2")
    reload_all(cluster, IDS)
    make_client(tls, ca="ca2", force=True)  # the test's own observer certificate moves to CA2 as well
    steady(cluster)

    # 2. Re-issue each node's certificate from CA2, one node at a time.
    for k in IDS:
        make_node(tls, k, ["127.0.0.1", "localhost"], ca="ca2", force=True)
        reload_all(cluster, [k])
        steady(cluster)

    # 3. Retire CA1: the bundle holds CA2 only.
    (tls / "ca-bundle.pem").write_bytes((tls / "ca2.pem").read_bytes())
    reload_all(cluster, IDS)
    steady(cluster)
    assert members_call(cluster, "9") == grpc.StatusCode.UNAVAILABLE  # CA1 is no longer trusted
    assert members_call(cluster, "3") == grpc.StatusCode.OK  # node 3's CA2 certificate is
    for k in IDS:
        assert cluster.nodes[k].proc.poll() is None
        assert len(cluster.nodes[k].events("node_started")) == 1  # never restarted
