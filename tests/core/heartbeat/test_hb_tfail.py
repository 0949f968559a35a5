"""derive_t_fail (van Renesse et al. 1998): rounds until a heartbeat increase reaches a member."""

from __future__ import annotations

import pytest
from hb_helpers import Lockstep, config

from swimfd.core.heartbeat import derive_t_fail, rounds_to_reach


def test_small_case_computed_by_hand():
    # n = 3, fanout 1: q = 1/2; p0 = 2/3; p1 = 2/3 * (1/2)^(3 * 1/3) = 1/3;
    # p2 = 1/3 * (1/2)^(3 * 2/3) = 1/12 <= 0.1 -> r = 2.
    assert rounds_to_reach(3, 1, 0.1) == 2
    assert rounds_to_reach(3, 1, 0.08) == 3  # 1/12 > 0.08: one more round
    # derive_t_fail spreads p_mistake over the n (n - 1) = 6 ordered pairs: 0.6 / 6 = 0.1 per pair,
    # so T_fail = (2 + 1) * interval; 0.48 / 6 = 0.08 needs one round more.
    assert derive_t_fail(3, 0.5, 1, 0.6) == pytest.approx(1.5)
    assert derive_t_fail(3, 0.5, 1, 0.48) == pytest.approx(2.0)


def test_monotone_in_n():
    values = [derive_t_fail(n, 1.0, 1, 1e-6) for n in (1, 2, 3, 5, 10, 30, 100, 300, 1000, 3000, 10_000, 100_000)]
    assert values == sorted(values)
    assert values[-1] > values[4] > values[1]


def test_monotone_in_one_over_p_mistake():
    values = [derive_t_fail(100, 1.0, 1, 10.0**-k) for k in range(1, 16)]
    assert values == sorted(values)
    assert values[-1] > values[0]


def test_more_fanout_never_needs_more_time_and_interval_scales_linearly():
    by_fanout = [derive_t_fail(500, 1.0, m, 1e-6) for m in (1, 2, 3, 5, 10)]
    assert by_fanout == sorted(by_fanout, reverse=True)
    assert by_fanout[0] > by_fanout[-1]
    assert derive_t_fail(500, 0.2, 2, 1e-6) == pytest.approx(0.2 * derive_t_fail(500, 1.0, 2, 1e-6))


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, 1.0, 1, 0.1), "n"),
        ((5, 0.0, 1, 0.1), "gossip_interval"),
        ((5, 1.0, 0, 0.1), "fanout"),
        ((5, 1.0, 1, 1.0), "p_mistake"),
    ],
)
def test_invalid_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        derive_t_fail(*args)


def test_no_false_failures_with_the_derived_timeout_under_random_gossip():
    ids = [f"m{i:02d}" for i in range(12)]
    cfg = config(t_fail=None, p_mistake=1e-3, gossip_target="random")
    cluster = Lockstep(ids, cfg)  # member k draws targets from random.Random(k)
    for r in range(1, 200):
        cluster.round(r)
    assert all(not step.failed for steps in cluster.steps.values() for step in steps)


def test_p_mistake_bounds_the_whole_groups_false_failures_per_round():
    # p_mistake is per round for the whole group, so over R rounds the expected number of false
    # failures is at most p_mistake * R. Bounding each (observer, subject) pair by p_mistake instead
    # (T_fail 9 s here, not 16 s) gave 865 false failures in this run: every wrong tombstone stops a
    # member relaying the subject's heartbeat, and the misses cascade.
    ids = [f"m{i:02d}" for i in range(30)]
    p_mistake, rounds = 0.05, 1000
    cfg = config(t_fail=None, p_mistake=p_mistake, gossip_target="random")
    cluster = Lockstep(ids, cfg)
    for r in range(1, rounds + 1):
        cluster.round(r)
    false_failures = sum(len(step.failed) for steps in cluster.steps.values() for step in steps)
    assert false_failures <= p_mistake * rounds
