"""Lifeguard suspicion timeout formula (arXiv 1707.00788; memberlist's LAN numbers)."""

from __future__ import annotations

import pytest

from swimfd.core.config import Config
from swimfd.core.suspicion import Suspicion, expected_confirmations, suspicion_min_max, suspicion_timeout


def test_lan_n100_min_max_and_confirmations() -> None:
    cfg = Config()
    lo, hi = suspicion_min_max(cfg, 100)
    assert (lo, hi) == pytest.approx((8.0, 48.0))
    k = expected_confirmations(cfg, 100)
    assert k == 2
    assert suspicion_timeout(lo, hi, k, 0) == pytest.approx(48.0)
    assert suspicion_timeout(lo, hi, k, 1) == pytest.approx(48 - 40 * 0.6309297535714574)  # 22.76 s
    assert suspicion_timeout(lo, hi, k, 1) == pytest.approx(22.8, abs=0.05)
    assert suspicion_timeout(lo, hi, k, 2) == pytest.approx(8.0)
    assert suspicion_timeout(lo, hi, k, 5) == pytest.approx(8.0)  # never below Min


@pytest.mark.parametrize(("n", "lo"), [(1, 4.0), (10, 4.0), (100, 8.0), (1000, 12.0)])
def test_min_scales_with_log10_n_but_not_below_1x(n: int, lo: float) -> None:
    assert suspicion_min_max(Config(), n)[0] == pytest.approx(lo)


@pytest.mark.parametrize(("n", "k"), [(2, 0), (3, 0), (4, 2), (100, 2)])
def test_k_is_zero_below_k_plus_2_members(n: int, k: int) -> None:
    assert expected_confirmations(Config(), n) == k


def test_k_zero_means_min_at_once() -> None:
    assert suspicion_timeout(4.0, 24.0, 0, 0) == 4.0


def test_distinct_confirmers_only_and_originator_excluded() -> None:
    s = Suspicion("x", 3, start=10.0, lo=8.0, hi=48.0, k=2, origin="a")
    assert s.deadline() == pytest.approx(58.0)
    assert not s.confirm("a")  # the originator is not a confirmer
    assert s.confirm("b")
    assert not s.confirm("b")  # duplicates do not count
    assert s.deadline() == pytest.approx(10.0 + 22.76, abs=0.01)
    assert s.confirm("c")
    assert s.deadline() == pytest.approx(18.0)


def test_corroboration_counts_as_k_confirmations() -> None:
    s = Suspicion("x", 0, start=0.0, lo=8.0, hi=48.0, k=2, origin="a", corroborated=True)
    assert s.timeout() == pytest.approx(8.0)
