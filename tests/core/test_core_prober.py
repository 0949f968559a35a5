"""Prober: round-robin order, probe phases, ping-req proxies and Lifeguard nacks."""

from __future__ import annotations

import random

import pytest

from swimfd.core.config import Config
from swimfd.core.health import LocalHealth
from swimfd.core.prober import Prober
from swimfd.pb import swim_pb2 as pb


def _prober(n: int, seed: int = 7, **cfg) -> tuple[Prober, LocalHealth]:
    health = LocalHealth(8)
    p = Prober(Config(**cfg), random.Random(seed), health, now=0.0)
    for i in range(n):
        p.add(f"m{i}")
    return p, health


def _run_periods(p: Prober, periods: int, ack: bool = True) -> list[str]:
    """Drive ``periods`` protocol periods, acking every ping at once; return targets in order."""
    targets = []
    t = 0.0
    for _ in range(periods):
        step = p.tick(t)
        for s in step.sends:
            if s.kind == "ping":
                targets.append(s.to)
                if ack:
                    p.on_ack(s.body.seq, t + 0.01)
        t = p.next_deadline()
    return targets


@pytest.mark.parametrize("seed", range(5))
def test_every_member_probed_within_2n_minus_1_periods(seed: int) -> None:
    n = 13
    p, _ = _prober(n, seed)
    targets = _run_periods(p, 10 * n)
    last: dict[str, int] = {}
    for period, m in enumerate(targets):
        gap = period - last.get(m, -1)
        assert gap <= 2 * n - 1, f"{m} waited {gap} periods"
        last[m] = period
    assert set(last) == {f"m{i}" for i in range(n)}
    # one probe per period and each pass is a permutation of the members
    for k in range(0, 10 * n, n):
        assert sorted(targets[k : k + n]) == sorted(last)


def test_newcomer_is_probed_within_the_current_or_next_pass() -> None:
    n = 10
    p, _ = _prober(n)
    targets = _run_periods(p, 3)
    p.add("new")
    targets = _run_periods(p, 2 * (n + 1))
    assert "new" in targets[: 2 * (n + 1) - 1]


def test_failed_probe_sends_ping_reqs_then_fails_at_period_end() -> None:
    p, health = _prober(5, indirect_checks=3, probe_recheck=False)
    step = p.tick(0.0)
    [ping] = [s for s in step.sends if s.kind == "ping"]
    assert p.next_deadline() == pytest.approx(0.5)  # probe timeout
    step = p.tick(0.5)
    reqs = [s for s in step.sends if s.kind == "ping_req"]
    assert len(reqs) == 3
    assert {r.to for r in reqs}.isdisjoint({ping.to})
    assert all(r.body.target == ping.to and r.body.seq == ping.body.seq for r in reqs)
    p.on_nack(ping.body.seq)  # one proxy vouches that our links work; two do not
    step = p.tick(1.0)
    assert step.failed == [ping.to]
    assert health.score == 2  # one point per missing nack


def _run_until_failed(p: Prober, start: float, end: float) -> tuple[list[str], list[str]]:
    """Tick every 0.1 s; the targets pinged and the targets reported failed."""
    pinged: list[str] = []
    failed: list[str] = []
    t = start
    while t <= end + 1e-9:
        step = p.tick(round(t, 1))
        pinged += [s.to for s in step.sends if s.kind == "ping"]
        failed += step.failed
        t += 0.1
    return pinged, failed


def test_a_failed_round_robin_probe_is_rechecked_at_once_before_the_target_fails() -> None:
    p, health = _prober(5, indirect_checks=3)
    [ping] = [s for s in p.tick(0.0).sends if s.kind == "ping"]
    p.tick(0.5)
    step = p.tick(1.0)
    assert step.failed == []  # one lost round is not yet a suspicion
    pings = [s for s in step.sends if s.kind == "ping"]
    assert ping.to in [s.to for s in pings] and len(pings) == 2  # the recheck, and the next period's probe
    recheck = next(s for s in pings if s.to == ping.to)
    assert recheck.body.seq != ping.body.seq
    failed: list[str] = []
    t = 1.1
    since: dict[str, float] = {}
    while t <= 1.0 + health.scale(1.0) + 1e-9:
        step = p.tick(round(t, 1))
        failed += step.failed
        since.update(step.failed_since)
        t += 0.1
    assert failed.count(ping.to) == 1  # the second silent round fails it...
    assert since[ping.to] == 1.0  # ... reported with the time the first round failed


def test_a_recheck_that_is_answered_clears_the_target() -> None:
    p, _ = _prober(5, indirect_checks=3)
    [ping] = [s for s in p.tick(0.0).sends if s.kind == "ping"]
    p.tick(0.5)
    step = p.tick(1.0)
    recheck = next(s for s in step.sends if s.kind == "ping" and s.to == ping.to)
    assert p.on_ack(recheck.body.seq, 1.2).acked == [ping.to]
    _, failed = _run_until_failed(p, 1.3, 6.0)
    assert ping.to not in failed


def test_out_of_turn_probes_are_not_rechecked() -> None:
    """A requested probe (a suspicion we heard, a stale heartbeat) already has other evidence."""
    p, _ = _prober(5, indirect_checks=3)
    p.tick(0.0)
    target = next(m for m in p.order if m != p.in_flight_target())
    p.request_probe(target)
    assert [s.to for s in p.tick(0.1).sends if s.kind == "ping"] == [target]
    _, failed = _run_until_failed(p, 0.2, 1.1)
    assert target in failed


def test_ack_via_proxy_counts_and_lowers_health() -> None:
    p, health = _prober(5)
    health.apply(3)
    step = p.tick(0.0)
    [ping] = [s for s in step.sends if s.kind == "ping"]
    p.tick(0.5)
    assert p.on_ack(ping.body.seq, 0.7).acked == [ping.to]
    step = p.tick(1.0)
    assert step.failed == []
    assert health.score == 2


def test_probe_interval_scales_with_health() -> None:
    p, health = _prober(3)
    health.apply(2)  # multiplier 3
    p.tick(0.0)
    assert p.next_deadline() == pytest.approx(1.5)  # scaled probe timeout 0.5 * 3
    p.tick(1.5)
    assert p.next_deadline() == pytest.approx(3.0)  # scaled period 1.0 * 3


def test_proxy_relays_ack_or_nacks_at_fraction_of_timeout() -> None:
    p, _ = _prober(3)
    req = pb.PingReq(seq=77, target="t")
    step = p.on_ping_req("r", "r:1", req, "t:1", now=10.0)
    [ping] = step.sends
    assert (ping.to, ping.addr, ping.kind) == ("t", "t:1", "ping")
    nack_step = p.tick(10.0 + 0.8 * 0.5)
    [nack] = [s for s in nack_step.sends if s.kind == "nack"]
    assert (nack.to, nack.addr, nack.body.seq, nack.body.subject) == ("r", "r:1", 77, "t")
    # a late ack (before the proxy entry expires) is still relayed with the requester's seq
    relay = p.on_ack(ping.body.seq, 10.45)
    [ack] = relay.sends
    assert (ack.to, ack.kind, ack.body.seq, ack.body.subject) == ("r", "ack", 77, "t")


def test_dead_members_are_reprobed_at_a_low_rate() -> None:
    p, _ = _prober(0, dead_probe_interval=30.0)
    p.add_dead("d")
    assert p.tick(1.0).sends == []
    pings = [s for s in p.tick(30.0).sends if s.kind == "ping"]
    assert [s.to for s in pings] == ["d"]
    later = []
    while (t := p.next_deadline()) <= 60.0:
        later += [s.to for s in p.tick(t).sends if s.kind == "ping"]
    assert later == ["d"]  # exactly one more, at t = 60


def test_urgent_probe_runs_out_of_turn() -> None:
    p, _ = _prober(20)
    p.tick(0.0)
    rr = p.in_flight_target()
    other = next(m for m in p.order if m != rr)
    p.request_probe(other)
    pings = [s.to for s in p.tick(0.1).sends if s.kind == "ping"]
    assert pings == [other]


def test_overrun_period_blames_our_health_not_the_target() -> None:
    p, health = _prober(5)
    p.tick(0.0)
    step = p.tick(5.0)  # we were paused for seconds: the probe's silence says nothing about the target
    assert step.failed == []
    assert health.score == 1


def test_results_count_each_probe_outcome_once() -> None:
    p, _ = _prober(5, indirect_checks=3)
    assert p.results() == {"ack": 0, "indirect_ack": 0, "nack": 0, "timeout": 0}
    _run_periods(p, 3)  # three direct acks
    t = p.next_deadline()
    # An ack after the ping-reqs went out counts as indirect.
    [ping] = [s for s in p.tick(t).sends if s.kind == "ping"]
    p.tick(t + 0.5)
    p.on_ack(ping.body.seq, t + 0.6)
    p.on_ack(ping.body.seq, t + 0.7)  # a second ack for the same probe is not a second outcome
    # A probe that only gets nacks times out; the nacks are counted as they arrive.
    t = p.next_deadline()
    [ping] = [s for s in p.tick(t).sends if s.kind == "ping"]
    p.tick(t + 0.5)
    p.on_nack(ping.body.seq)
    p.on_nack(ping.body.seq)
    p.tick(t + 1.0)
    assert p.results() == {"ack": 3, "indirect_ack": 1, "nack": 2, "timeout": 1}
    p.results()["ack"] = 99  # a copy: callers cannot change the counts
    assert p.results()["ack"] == 3
