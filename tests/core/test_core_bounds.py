"""bounds.detection_bound and dissemination_periods: the documented formulas, term by term."""

from __future__ import annotations

import pytest

from swimfd.core.bounds import detection_bound, dissemination_periods, first_probe_periods
from swimfd.core.config import Config


def test_dissemination_periods_is_the_retransmit_limit() -> None:
    cfg = Config()
    assert [dissemination_periods(cfg, n) for n in (5, 100, 10_000)] == [4, 12, 20]


def test_first_probe_periods_capped_by_round_robin_for_small_groups() -> None:
    assert [first_probe_periods(n) for n in (2, 5, 7, 8, 1000)] == [3, 9, 13, 14, 14]


def test_swim_bound_lan_n100() -> None:
    # (F + 1) * P + Max + D * P + 2 * P = 15 + 48 + 12 + 2
    assert detection_bound(Config(), 100) == pytest.approx(77.0)


def test_swim_bound_scales_with_the_probe_interval() -> None:
    fast = Config(probe_interval=0.5, probe_timeout=0.25)
    assert detection_bound(fast, 100) == pytest.approx(77.0 / 2)


def test_heartbeat_bound_uses_t_fail() -> None:
    cfg = Config(mode="heartbeat", t_fail=6.0)
    # spread to all (ceil(log2 100 + ln 100) = 12 rounds of 0.5 s) + T_fail + one round
    assert detection_bound(cfg, 100) == pytest.approx(6.0 + 6.0 + 0.5)


def test_hybrid_bound_adds_one_vetoed_round() -> None:
    cfg = Config(mode="hybrid", t_fail=6.0)
    # swim bound + stale_after (T_fail / 2) + Min
    assert detection_bound(cfg, 100) == pytest.approx(77.0 + 3.0 + 8.0)
