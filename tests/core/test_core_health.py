"""Lifeguard local health multiplier."""

from __future__ import annotations

from swimfd.core.health import LocalHealth


def test_score_is_clamped_to_0_and_max_minus_1() -> None:
    h = LocalHealth(max_multiplier=8)
    assert h.apply(-1) == 0
    for _ in range(20):
        h.apply(1)
    assert h.score == 7
    assert h.multiplier == 8
    assert h.scale(1.0) == 8.0
    for _ in range(7):
        h.apply(-1)
    assert h.score == 0 and h.scale(0.5) == 0.5


def test_failed_probe_penalty_counts_missing_nacks() -> None:
    assert LocalHealth.failed_probe_delta(expected_nacks=0, received_nacks=0) == 1  # no proxy could vouch
    assert LocalHealth.failed_probe_delta(expected_nacks=3, received_nacks=0) == 3
    assert LocalHealth.failed_probe_delta(expected_nacks=3, received_nacks=2) == 1
    assert LocalHealth.failed_probe_delta(expected_nacks=3, received_nacks=3) == 0  # our links work: target is down
