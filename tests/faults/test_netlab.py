"""The lab's machinery: names, loss arithmetic, building, faults as firewall rules, and cleanup in every case."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from netlab.cleanup import leftovers, netns_pids, sweep_stale
from netlab.lab import CUT_IN, LOSS_IN, Lab, wait_until
from netlab.names import IFNAMSIZ, MAX_NODES, RunNames, new_run_id, run_id_of
from netlab.shell import in_netns, run

REPO = Path(__file__).resolve().parents[2]


def test_every_name_of_a_run_carries_its_id_and_fits_the_interface_name_limit() -> None:
    names = RunNames(new_run_id(), 7)
    links = [names.bridge] + [f(k) for k in range(1, MAX_NODES + 1) for f in (names.host_veth, names.ns_veth)]
    assert max(len(n) for n in links) <= IFNAMSIZ
    for name in [*links, names.netns(1), names.netns(MAX_NODES)]:
        assert run_id_of(name) == names.run_id
    assert len({names.addr(k) for k in range(1, MAX_NODES + 1)} | {names.host_addr}) == MAX_NODES + 1
    for other in ("eth0", "lo", "sfdlab-probe123", "sfd12345", "docker0", "sfdabcdefx1"):
        assert run_id_of(other) is None
    with pytest.raises(ValueError):
        names.addr(MAX_NODES + 1)
    # A second address (a restart somewhere else) for the low node numbers, distinct from every first one.
    alts = {names.alt_addr(k) for k in range(1, 54)}
    assert len(alts) == 53 and not alts & ({names.addr(k) for k in range(1, MAX_NODES + 1)} | {names.host_addr})
    with pytest.raises(ValueError):
        names.alt_addr(54)


def _rules(lab: Lab, k: int) -> list[str]:
    return [ln for ln in run(in_netns(lab.nodes[k].netns, ["iptables", "-S"])).splitlines() if ln.startswith("-A")]


def _chain(lab: Lab, k: int, chain: str) -> list[str]:
    return [r for r in _rules(lab, k) if r.startswith(f"-A {chain} ")]


@pytest.mark.faults
def test_a_lab_builds_namespaces_on_its_bridge_and_close_removes_everything(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(3)
    nm = lab.names
    assert sorted(n for n in leftovers(nm) if n.startswith("sfdlab-")) == [nm.netns(k) for k in (1, 2, 3)]
    for k in (1, 2, 3):
        addrs = run(["ip", "-n", nm.netns(k), "-4", "-o", "addr", "show", "dev", nm.ns_veth(k)])
        assert f"{nm.addr(k)}/24" in addrs
        assert any(f"-j {CUT_IN}" in r for r in _rules(lab, k))
        assert any(f"! -s {nm.host_addr}/32" in r and f"-j {LOSS_IN}" in r for r in _rules(lab, k))
    assert nm.lock_file.exists()
    lab.close()
    assert leftovers(nm) == []
    assert not nm.lock_file.exists()
    lab.close()  # idempotent


@pytest.mark.faults
def test_faults_are_firewall_rules_and_link_states_that_heal_removes(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(3)
    nm = lab.names
    # Packets are dropped where they arrive, so each side drops what the other side sends it.
    lab.partition([{1}, {2, 3}])
    assert _chain(lab, 1, CUT_IN) == [f"-A {CUT_IN} -s {nm.addr(k)}/32 -j DROP" for k in (2, 3)]
    assert _chain(lab, 2, CUT_IN) == [f"-A {CUT_IN} -s {nm.addr(1)}/32 -j DROP"]
    assert _chain(lab, 3, CUT_IN) == [f"-A {CUT_IN} -s {nm.addr(1)}/32 -j DROP"]
    assert not any("OUTPUT" in r for k in (1, 2, 3) for r in _rules(lab, k))
    lab.heal()
    assert all(_chain(lab, k, CUT_IN) == [] for k in (1, 2, 3))
    lab.cut(1, 2)
    assert _chain(lab, 2, CUT_IN) == [f"-A {CUT_IN} -s {nm.addr(1)}/32 -j DROP"]
    assert _chain(lab, 1, CUT_IN) == [] and _chain(lab, 3, CUT_IN) == []
    lab.heal()
    lab.loss(0.1)
    for k in (1, 2, 3):
        (rule,) = _chain(lab, k, LOSS_IN)
        prob = float(rule.split("--probability ")[1].split()[0])
        assert math.isclose(prob, 0.1, abs_tol=1e-6) and rule.endswith("-j DROP")
    with pytest.raises(ValueError):
        lab.loss(1.0)
    lab.clear_loss()
    assert all(_chain(lab, k, LOSS_IN) == [] for k in (1, 2, 3))
    lab.link_down(2)
    assert "state DOWN" in run(["ip", "link", "show", nm.host_veth(2)])
    lab.link_up(2)
    assert "state DOWN" not in run(["ip", "link", "show", nm.host_veth(2)])
    with pytest.raises(ValueError):
        lab.partition([{1, 2}, {2, 3}])
    assert [e["fault"] for e in lab.fault_log][1:] == [
        "partition", "heal", "cut", "heal", "loss", "clear_loss", "link_down", "link_up",
    ]  # fmt: skip


@pytest.mark.faults
def test_a_moved_node_has_only_its_second_address_and_its_certificate_names_both(
    make_lab: Callable[..., Lab],
) -> None:
    from cryptography import x509

    lab = make_lab(2)
    nm = lab.names
    cert = x509.load_pem_x509_certificate((lab.tls_dir / "node-2.pem").read_bytes())
    ips = {
        str(ip)
        for ip in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.IPAddress
        )
    }
    assert {nm.addr(2), nm.alt_addr(2)} <= ips
    lab.move(2)
    addrs = run(["ip", "-n", nm.netns(2), "-4", "-o", "addr", "show", "dev", nm.ns_veth(2)])
    assert f"{nm.alt_addr(2)}/24" in addrs and f"{nm.addr(2)}/24" not in addrs
    assert lab.nodes[2].addr.startswith(f"{nm.alt_addr(2)}:")
    last = lab.fault_log[-1]
    assert (last["fault"], last["node"], last["old"], last["new"]) == ("move", 2, nm.addr(2), nm.alt_addr(2))


@pytest.mark.faults
def test_a_static_member_list_must_name_nodes_from_one_in_order(make_lab: Callable[..., Lab], go_diss: None) -> None:
    lab = make_lab(3)
    for members in ([2, 3], [1, 3], [2, 1]):
        with pytest.raises(ValueError, match=r"1\.\.m in order"):
            lab.start(1, members=members)
    assert not any(node.running() for node in lab.nodes.values())


def _fake_dead_run() -> tuple[RunNames, subprocess.Popen[bytes]]:
    """What a lab killed with SIGKILL leaves behind: a namespace with a process in it, a bridge, no lock."""
    nm = RunNames(new_run_id(), 1)
    run(["ip", "netns", "add", nm.netns(1)])
    run(["ip", "link", "add", nm.bridge, "type", "bridge"])
    proc = subprocess.Popen(in_netns(nm.netns(1), ["sleep", "60"]))
    assert wait_until(lambda: proc.pid in netns_pids(nm.netns(1)), 10)
    return nm, proc


@pytest.mark.faults
def test_sweep_removes_a_dead_runs_leftovers_and_never_a_live_lab(make_lab: Callable[..., Lab]) -> None:
    live = make_lab(2)
    dead, proc = _fake_dead_run()
    try:
        removed = sweep_stale()
        assert dead.run_id in removed and live.run_id not in removed
        assert leftovers(dead) == []
        assert proc.wait(timeout=10) == -signal.SIGKILL
        live_netns = sorted(n for n in leftovers(live.names) if n.startswith("sfdlab-"))
        assert live_netns == [live.names.netns(k) for k in (1, 2)]
    finally:
        proc.kill()
        sweep_stale()


CHILD = """
import sys, time
sys.path.insert(0, {deploy!r})
from netlab.lab import Lab
lab = Lab(2, {workdir!r})
lab.create()
print(lab.run_id, flush=True)
time.sleep(60)
"""


@pytest.mark.faults
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_lab_cleans_up_when_its_process_is_signalled(lab_host: None, tmp_path: Path, sig: int) -> None:
    code = CHILD.format(deploy=str(REPO / "deploy"), workdir=str(tmp_path / "lab"))
    env = {**os.environ, "PYTHONPATH": str(REPO / "pyserver")}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        names = RunNames(run_id, 1)
        assert leftovers(names), "the child did not build its lab"
        proc.send_signal(sig)
        proc.wait(timeout=30)
        assert leftovers(names) == []
        assert not names.lock_file.exists()
    finally:
        proc.kill()
        proc.wait(timeout=10)
        sweep_stale()


def test_a_lab_refuses_sizes_it_cannot_address() -> None:
    for n in (1, MAX_NODES + 1):
        with pytest.raises(ValueError):
            Lab(n, Path("/nonexistent"))
