"""Protocol scenarios on real cores (swimfd.node.Node) in the simulator, fixed seeds.

Each test states the property it checks; times are virtual seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from swimfd.core.bounds import detection_bound, dissemination_periods
from swimfd.core.config import Config
from swimfd.core.heartbeat import derive_t_fail
from swimfd.core.suspicion import suspicion_min_max
from swimfd.pb import swim_pb2 as pb
from swimfd.sim.engine import Simulator
from swimfd.sim.network import Network

WARMUP = 10.0


def failed_reports(sim: Simulator, member: str) -> dict[str, float]:
    """observer -> time of its first member_failed about member."""
    seen: dict[str, float] = {}
    for observer, ev in sim.events:
        if ev.name == "member_failed" and ev.member == member:
            seen.setdefault(observer, ev.at)
    return seen


def wrong_failures(sim: Simulator) -> list[tuple[str, str, float]]:
    return [
        (o, e.member, e.at) for o, e in sim.events if e.name == "member_failed" and sim.truth.alive_at(e.member, e.at)
    ]


@pytest.mark.parametrize(("mode", "seed"), [("swim", 11), ("heartbeat", 12), ("hybrid", 13)])
def test_one_crash_among_50_is_detected_by_every_survivor_within_the_bound(mode: str, seed: int) -> None:
    n = 50
    cfg = Config(mode=mode, election=False)
    bound = detection_bound(cfg, n)
    sim = Simulator(n, cfg, seed=seed)
    victim = "17"
    sim.crash(victim, at=WARMUP)
    sim.run(WARMUP + bound)
    reports = failed_reports(sim, victim)
    survivors = [m for m in sim.ids if m != victim]
    assert sorted(reports, key=int) == survivors
    latest = max(reports.values()) - WARMUP
    assert latest <= bound, f"{mode}: last survivor reported after {latest:.1f}s, bound {bound:.1f}s"
    assert wrong_failures(sim) == []
    result = sim.result()
    assert result["detected_by_all"] == 1 and result["detect_all_s"]["max"] == pytest.approx(latest)
    assert result["converged"]


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "n", "seed"), [("swim", 50, 21), ("hybrid", 30, 22)])
def test_no_false_positive_in_ten_minutes_at_ten_percent_loss(mode: str, n: int, seed: int) -> None:
    # hybrid at 30 members: its full-list heartbeat gossip makes each message O(n), and the suite has a time budget
    cfg = Config(mode=mode, election=False)
    sim = Simulator(n, cfg, seed=seed, network=Network(loss=0.10, seed=seed))
    sim.run(600.0)
    suspicions = sum(1 for _, e in sim.events if e.name == "member_suspected")
    assert suspicions > 0, "precondition: the loss makes probes fail and raises suspicions"
    assert wrong_failures(sim) == []
    assert sim.result()["converged"]


def test_member_paused_shorter_than_the_suspicion_timeout_refutes_and_is_never_failed() -> None:
    n = 20
    cfg = Config(mode="swim", election=False)
    min_timeout, _ = suspicion_min_max(cfg, n)
    pause = 0.75 * min_timeout  # a suspicion raised at the start of the pause cannot time out before it ends
    sim = Simulator(n, cfg, seed=31)
    sleeper = "5"
    sim.pause(sleeper, at=WARMUP, duration=pause)
    sim.run(WARMUP + pause + 60.0)
    suspected_by = {o for o, e in sim.events if e.name == "member_suspected" and e.member == sleeper}
    assert suspected_by, "precondition: the paused member was suspected while it slept"
    assert sim.nodes[sleeper].me.incarnation >= 1  # it refuted by raising its own incarnation
    assert wrong_failures(sim) == []
    for m in sim.ids:
        assert sim.view_of(m).get(sleeper) == pb.ALIVE, f"{m} does not see {sleeper} alive"
    assert sim.result()["converged"]


def test_heartbeat_member_paused_past_t_fail_is_failed_then_comes_back() -> None:
    # van Renesse gossip has no refutation of its own: the paused member must not declare everyone
    # failed when it resumes (its own silence explains theirs), and the first member that holds it
    # dead and hears its gossip tells it so, so that it restarts with a higher incarnation.
    n = 20
    cfg = Config(mode="heartbeat", election=False)
    sim = Simulator(n, cfg, seed=17)
    sleeper = "7"
    t_fail = derive_t_fail(n, cfg.gossip_interval, cfg.gossip_fanout, cfg.p_mistake)
    pause = 2 * t_fail
    sim.pause(sleeper, at=WARMUP, duration=pause)
    sim.run(WARMUP + pause)
    failed_by = set(failed_reports(sim, sleeper))
    assert failed_by == set(sim.ids) - {sleeper}, "precondition: everyone declared the sleeper failed"
    sim.run(WARMUP + pause + 2 * t_fail)
    assert [f for f in wrong_failures(sim) if f[1] != sleeper] == []  # nobody else, and not by the sleeper
    assert sim.nodes[sleeper].me.incarnation >= 1  # it learned it was declared dead and restarted
    revived_by = {o for o, e in sim.events if e.name == "member_alive" and e.member == sleeper}
    assert revived_by == failed_by
    for m in sim.ids:
        assert sim.view_of(m).get(sleeper) == pb.ALIVE, f"{m} does not see {sleeper} alive"
    assert sim.result()["converged"]


@pytest.mark.parametrize("mode", ["swim", "heartbeat", "hybrid"])
def test_partition_that_heals_converges_back_to_one_view(mode: str) -> None:
    n = 20
    cfg = Config(mode=mode, election=False)
    sim = Simulator(n, cfg, seed=41)
    minority = [str(k) for k in range(1, 8)]
    heal_at = WARMUP + 60.0
    sim.partition([minority], at=WARMUP, heal_at=heal_at)
    sim.run(heal_at)
    # each side has declared the other failed
    during = sim.result()
    assert not during["converged"]
    cut = {(o, e.member) for o, e in sim.events if e.name == "member_failed"}
    assert ("1", "20") in cut and ("20", "1") in cut
    # tombstones are re-probed every dead_probe_interval, so the halves find each other again
    sim.run(heal_at + 2 * cfg.dead_probe_interval + 30.0)
    after = sim.result()
    assert after["converged"], after["view_agreement"]
    for m in sim.ids:
        assert set(sim.view_of(m)) == set(sim.ids)


@pytest.mark.slow
def test_an_update_reaches_all_of_1000_members_within_c_log_n_periods() -> None:
    n = 1000
    cfg = Config(mode="swim", election=False)
    sim = Simulator(n, cfg, seed=51)
    joined_at = WARMUP
    sim.join("newcomer", at=joined_at, seed_id="1")
    periods = dissemination_periods(cfg, n)
    sim.run(joined_at + periods * cfg.probe_interval + 0.5)
    heard = {o: e.at for o, e in sim.events if e.name == "member_joined" and e.member == "newcomer"}
    missing = [m for m in sim.ids if m != "newcomer" and m not in heard]
    assert missing == [], f"{len(missing)} members never heard of the join within {periods} periods"
    spread = max(heard.values()) - joined_at
    assert spread <= periods * cfg.probe_interval + 0.5


def _simulate_json(env_hash_seed: str) -> dict:
    cmd = [sys.executable, "-m", "swimfd", "simulate", "--nodes", "30", "--mode", "hybrid", "--loss", "0.05"]
    cmd += ["--kill", "2", "--pause", "1:2", "--duration", "40", "--seed", "7", "--json"]
    env = {**os.environ, "PYTHONHASHSEED": env_hash_seed}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=True)
    result = json.loads(proc.stdout)
    for measured in ("wall_s", "peak_rss_mib", "preflight"):  # about the machine, not the simulation
        result.pop(measured)
    return result


def test_cli_run_is_identical_across_processes_with_different_hash_seeds() -> None:
    # string hashing differs per process, so any iteration over a set of ids would show up here
    first, second = _simulate_json("1"), _simulate_json("2")
    assert first == second
    assert first["killed"] == 2 and first["detected_by_all"] == 2
    assert first["false_positives"] == 0 and first["converged"] is True
    assert first["faults"] == {"killed": 2, "paused": 1, "partitioned": 0}
    assert first["messages"]["lost"] > 0 and first["msgs_per_node_s"] > 0


def test_go_diss_model_spreads_a_local_failure_and_a_leave_to_everyone_at_once() -> None:
    n = 30
    cfg = Config(mode="swim", election=False)
    sim = Simulator(n, cfg, seed=61, dissemination=True)
    sim.crash("9", at=WARMUP)
    sim.leave("4", at=WARMUP)
    sim.run(WARMUP + detection_bound(cfg, n))
    failed = [(o, e) for o, e in sim.events if e.name == "member_failed" and e.member == "9"]
    local = [e.at for _, e in failed if e.source == "local"]
    assert local, "some survivor's own detector decided"
    survivors = {m for m in sim.ids if m not in ("9", "4")}
    assert {o for o, _ in failed} == survivors
    # a notice is one reliable RPC away (delay <= 10 ms) from the first local decision
    assert all(e.at <= min(local) + 0.010 for _, e in failed)
    assert any(e.source == "notice" for _, e in failed)
    left: dict[str, float] = {}
    for o, e in sim.events:
        if e.name == "member_left" and e.member == "4" and o != "4":
            left.setdefault(o, e.at)
    assert set(left) == survivors
    assert max(left.values()) <= WARMUP + 0.010  # the LEFT_CLUSTER notice reached everyone within one delay
    # every go-diss that broadcast sent one notice to each member not known to be down
    assert sim.notices_sent > 0 and sim.notice_bytes > sim.notices_sent
    assert wrong_failures(sim) == []


def test_go_diss_model_notice_recipients_include_the_accused() -> None:
    sim = Simulator(5, Config(mode="swim", election=False), seed=3, dissemination=True)
    # every member not known to be down except the origin: the subject of a FAILED notice hears it too
    assert sim.notice_recipients("1") == ["2", "3", "4", "5"]
    sim.crash("4", at=1.0)
    sim.leave("5", at=1.0)
    sim.run(1.0 + sim.leave_grace + 0.1)
    assert sim.notice_recipients("1") == ["2", "3"]


def test_go_diss_model_spreads_an_admitted_join_from_the_seeds_report() -> None:
    n = 12
    cfg = Config(mode="swim", election=False)
    sim = Simulator(n, cfg, seed=17, dissemination=True)
    sim.run(WARMUP)
    sim.join("13", at=WARMUP, seed_id="2")
    sim.run(WARMUP + 0.1)
    joined = {o: e for o, e in sim.events if e.name == "member_joined" and e.member == "13"}
    assert joined["2"].source == "join"  # the seed admitted it ...
    others = {str(i) for i in range(1, n + 1)} - {"2"}
    assert {o for o, e in joined.items() if e.source == "notice"} == others  # ... and its report told everyone
    assert all(e.at <= WARMUP + 0.010 for e in joined.values())  # one notice delay after the join
