"""derive_t_fail (van Renesse et al. 1998): rounds until a heartbeat increase reaches a member."""

from __future__ import annotations

import pytest
from hb_helpers import Lockstep, config

from swimfd.heartbeat import derive_t_fail


def test_small_case_computed_by_hand():
    # n = 3, fanout 1: q = 1/2; p0 = 2/3; p1 = 2/3 * (1/2)^(3 * 1/3) = 1/3;
    # p2 = 1/3 * (1/2)^(3 * 2/3) = 1/12 <= 0.1 -> r = 2, T_fail = (2 + 1) * interval.
    assert derive_t_fail(3, 0.5, 1, 0.1) == pytest.approx(1.5)
    assert derive_t_fail(3, 0.5, 1, 0.08) == pytest.approx(2.0)  # 1/12 > 0.08: one more round


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
