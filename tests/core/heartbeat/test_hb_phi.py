"""Phi accrual (Hayashibara et al., SRDS 2004) and the heartbeat gossiper's phi mode."""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pytest
from hb_helpers import config, gossip, gossiper

from swimfd.core.phi import MIN_SAMPLES, PhiWindows, phi, threshold_z


def test_phi_at_the_mean_is_log10_2_and_grows_with_silence():
    assert phi(1.0, 1.0, 0.2) == pytest.approx(math.log10(2))
    values = [phi(t, 1.0, 0.2) for t in np.linspace(0.0, 3.0, 31)]
    assert all(b > a for a, b in itertools.pairwise(values))
    assert phi(50.0, 1.0, 0.2) == math.inf


@pytest.mark.parametrize("threshold", [1.0, 3.0, 8.0, 12.0])
def test_threshold_z_is_where_phi_crosses_the_threshold(threshold):
    z = threshold_z(threshold)
    assert phi(2.0 + z * 0.5, 2.0, 0.5) == pytest.approx(threshold, rel=1e-6)
    assert phi(2.0 + (z - 0.01) * 0.5, 2.0, 0.5) < threshold < phi(2.0 + (z + 0.01) * 0.5, 2.0, 0.5)


def test_invalid_phi_arguments():
    with pytest.raises(ValueError):
        phi(1.0, 1.0, 0.0)
    with pytest.raises(ValueError):
        threshold_z(0.0)
    with pytest.raises(ValueError):
        PhiWindows(1, 0.1, 4)


def test_windows_fit_the_last_samples_only():
    w = PhiWindows(window=4, min_std=1e-9, capacity=3)
    samples = [1.0, 2.0, 4.0, 3.0, 10.0, 6.0]
    for s in samples:
        w.add(np.array([1]), np.array([s]))
    mean, std = w.mean_std(np.array([1]))
    assert mean[0] == pytest.approx(statistics.mean(samples[-4:]))
    assert std[0] == pytest.approx(statistics.pstdev(samples[-4:]))
    assert w.count(1) == 4
    assert w.count(0) == 0
    w.grow(10)
    w.move(1, 7)
    assert w.mean_std(np.array([7]))[0][0] == pytest.approx(mean[0])
    w.reset(7)
    assert w.count(7) == 0


def test_std_is_floored_and_the_acceptable_pause_is_added_to_the_mean():
    w = PhiWindows(window=16, min_std=0.25, capacity=1, acceptable_pause=3.0)
    for _ in range(MIN_SAMPLES):
        w.add(np.array([0]), np.array([1.0]))
    mean, std = w.mean_std(np.array([0]))
    assert (mean[0], std[0]) == (4.0, 0.25)
    assert w.timeouts(np.array([0]), 2.0)[0] == pytest.approx(4.5)
    assert w.phi(0, 4.0) == pytest.approx(math.log10(2))
    with pytest.raises(ValueError):
        PhiWindows(4, 0.1, 1, acceptable_pause=-1.0)


def feed_regular(g, member: str, period: float, count: int) -> float:
    now = 0.0
    for k in range(1, count + 1):
        now = k * period
        g.on_gossip(member, gossip([(member, 0, k)]), now)
    return now


def phi_config(**overrides):
    base = {"heartbeat_detector": "phi", "t_fail": 100.0, "gossip_interval": 50.0, "phi_acceptable_pause": 0.0}
    base.update(overrides)
    return config(**base)


def test_gossiper_phi_grows_with_silence_and_crosses_the_threshold():
    g = gossiper("a", ["b"], phi_config(phi_threshold=8.0, phi_min_std=0.1))
    last = feed_regular(g, "b", 1.0, MIN_SAMPLES + 5)  # intervals 1.0 s, std floored to 0.1 s
    assert g.phi("b", last + 0.5) < g.phi("b", last + 1.0) < g.phi("b", last + 1.3) < 8.0
    crossing = last + 1.0 + threshold_z(8.0) * 0.1  # about 1.56 s of silence
    assert g.phi("b", crossing + 0.01) > 8.0
    assert g.tick(crossing - 1e-6).failed == []
    assert g.next_deadline() == pytest.approx(crossing)
    assert g.tick(crossing).failed == ["b"]


def test_acceptable_pause_delays_the_crossing_by_exactly_the_pause():
    g = gossiper("a", ["b"], phi_config(phi_min_std=0.1, phi_acceptable_pause=3.0))
    last = feed_regular(g, "b", 1.0, MIN_SAMPLES + 5)
    crossing = last + 1.0 + 3.0 + threshold_z(8.0) * 0.1
    assert g.tick(crossing - 1e-6).failed == []
    assert g.tick(crossing).failed == ["b"]


def test_gossiper_phi_uses_fixed_t_fail_until_enough_samples():
    g = gossiper("a", ["b"], phi_config(t_fail=16.0, gossip_interval=15.0))
    last = feed_regular(g, "b", 1.0, MIN_SAMPLES)  # MIN_SAMPLES increases give MIN_SAMPLES - 1 intervals
    assert g.phi("b", last + 1.0) is None
    assert g.tick(last + 16.0 - 1e-6).failed == []
    assert g.tick(last + 16.0).failed == ["b"]


def test_gossiper_phi_adapts_to_irregular_arrivals():
    cfg = phi_config(phi_min_std=0.01)
    steady, jittery = gossiper("a", ["b"], cfg), gossiper("a", ["b"], cfg)
    feed_regular(steady, "b", 1.0, 21)
    now = 0.0
    for k, gap in enumerate([0.5, 1.5] * 10 + [1.0], start=1):
        now += gap
        jittery.on_gossip("b", gossip([("b", 0, k)]), now)
    # Same mean interval (1 s) but a wider spread: the jittery member is given longer.
    assert jittery.phi("b", now + 2.0) < steady.phi("b", 21.0 + 2.0)


def test_restart_resets_the_window():
    g = gossiper("a", ["b"], phi_config())
    last = feed_regular(g, "b", 1.0, MIN_SAMPLES + 1)
    assert g.phi("b", last + 1.0) is not None
    g.on_gossip("b", gossip([("b", 1, 0)]), last + 0.5)
    assert g.phi("b", last + 1.0) is None
