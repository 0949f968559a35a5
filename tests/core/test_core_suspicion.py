"""Lifeguard suspicion timeout formula (arXiv 1707.00788; memberlist's LAN numbers) and the
Suspicions step API: start, confirm, expire, final check and the hybrid rules acting on timers."""

from __future__ import annotations

import math

import pytest
from hybrid_fakes import FakeHeartbeat

from swimfd.core.config import Config
from swimfd.core.health import LocalHealth
from swimfd.core.hybrid import HybridRule
from swimfd.core.membership import SUSPECT, Record
from swimfd.core.suspicion import (
    Confirmed,
    Suspicion,
    Suspicions,
    SuspicionStep,
    expected_confirmations,
    suspicion_min_max,
    suspicion_timeout,
)
from swimfd.pb import swim_pb2 as pb


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


# ---------------------------------------------------------------- Suspicions: the step API


# n = 3 members: Min = 4 * 1 * 1 s = 4 s, K = 0 (so the timeout is Min at once); probe_interval 1 s.
N = 3


def _suspicions(
    mode: str = "swim", hb: FakeHeartbeat | None = None
) -> tuple[Suspicions, dict[str, Record], LocalHealth]:
    cfg = Config(mode=mode, election=False, hybrid_stale_after=5.0 if mode == "hybrid" else None)
    table: dict[str, Record] = {"x": Record.from_member(pb.Member(id="x", incarnation=2), SUSPECT, 0.0)}
    health = LocalHealth(cfg.awareness_max_multiplier)
    hybrid = HybridRule(cfg, hb) if hb is not None else None
    return Suspicions(cfg, "me", health, table.get, hybrid), table, health


def test_own_suspicion_is_confirmed_at_its_deadline() -> None:
    s, _, _ = _suspicions()
    s.start("x", 2, origin="me", live_count=N, now=10.0)
    assert s.next_deadline() == pytest.approx(14.0)
    assert s.expire(13.9) == SuspicionStep()
    assert s.expire(14.0) == SuspicionStep(confirmed=[Confirmed("x", 2, "swim")])
    assert s.get("x") is None and s.next_deadline() == math.inf
    assert s.expire(100.0) == SuspicionStep()  # decided once


def test_an_own_suspicion_counts_from_the_evidence_a_recheck_confirmed() -> None:
    s, _, _ = _suspicions()
    s.start("x", 2, origin="me", live_count=N, now=11.0)  # raised when the recheck failed...
    s.backdate("x", 2, since=10.0)  # ...one period after the first failed probe
    assert s.next_deadline() == pytest.approx(14.0)
    s.backdate("x", 2, since=12.0)  # never later
    s.backdate("x", 1, since=5.0)  # nor for another incarnation
    assert s.next_deadline() == pytest.approx(14.0)
    assert s.expire(14.0).confirmed == [Confirmed("x", 2, "swim")]


def test_only_our_own_suspicion_is_backdated() -> None:
    s, _, _ = _suspicions()
    s.start("x", 2, origin="b", live_count=N, now=11.0)  # heard from b
    s.backdate("x", 2, since=10.0)
    assert s.next_deadline() == pytest.approx(15.0)


def test_confirmations_shorten_the_timer_and_count_once() -> None:
    s, _, _ = _suspicions()
    s.start("x", 2, origin="me", live_count=100, now=0.0)  # Min 8 s, Max 48 s, K = 2
    assert s.next_deadline() == pytest.approx(48.0)
    assert not s.confirm("x", 2, "me")  # the originator does not confirm
    assert not s.confirm("x", 1, "b")  # another incarnation's suspicion
    assert s.confirm("x", 2, "b") and not s.confirm("x", 2, "b")
    assert s.confirm("x", 2, "c")
    assert s.next_deadline() == pytest.approx(8.0)  # K confirmations: Min
    assert s.expire(8.0).confirmed == [Confirmed("x", 2, "swim")]


def test_second_hand_suspicion_probes_once_before_confirming() -> None:
    s, _, health = _suspicions()
    health.apply(1)  # the final check waits one health-scaled probe interval: 2 s
    s.start("x", 2, origin="b", live_count=N, now=0.0)
    assert s.expire(4.0) == SuspicionStep(probe=["x"])
    assert s.next_deadline() == pytest.approx(6.0)
    assert s.expire(5.9) == SuspicionStep()
    assert s.expire(6.0) == SuspicionStep(confirmed=[Confirmed("x", 2, "swim")])


def test_final_check_holds_when_heap_entries_share_a_deadline() -> None:
    # With K = 0 a confirmation leaves the deadline where it was, so the heap holds two entries
    # for the same suspicion at 4 s. The first to pop sends the final-check probe; the second
    # must not confirm at once: the probe gets its full (health-scaled) interval to be answered.
    s, _, health = _suspicions()
    health.apply(1)  # final-check wait: 2 s
    s.start("x", 2, origin="b", live_count=N, now=0.0)
    assert s.confirm("x", 2, "c")  # a distinct confirmer, but not us: still second-hand
    assert s.confirm("x", 2, "d")
    assert s.expire(4.0) == SuspicionStep(probe=["x"])
    assert s.next_deadline() == pytest.approx(6.0)
    assert s.expire(5.9) == SuspicionStep()
    assert s.expire(6.0) == SuspicionStep(confirmed=[Confirmed("x", 2, "swim")])


def test_second_hand_suspicion_starts_over_when_the_subject_answered_us() -> None:
    s, table, _ = _suspicions()
    s.start("x", 2, origin="b", live_count=N, now=0.0)
    table["x"].last_ack = 1.0  # x acked one of our probes after the suspicion began
    assert s.expire(4.0) == SuspicionStep()
    assert s.next_deadline() == pytest.approx(8.0)  # restarted at 4 s
    assert s.expire(8.0) == SuspicionStep(probe=["x"])  # then the final check as usual


def test_confirming_it_ourselves_is_first_hand_evidence() -> None:
    s, _, _ = _suspicions()
    s.start("x", 2, origin="b", live_count=N, now=0.0)
    assert s.confirm("x", 2, "me")
    assert s.expire(4.0).confirmed == [Confirmed("x", 2, "swim")]


def test_refuted_cancelled_and_heartbeat_mode_suspicions_confirm_nothing() -> None:
    s, table, _ = _suspicions()
    s.start("x", 2, origin="me", live_count=N, now=0.0)
    table["x"].incarnation = 3  # refuted: the table moved on without telling us
    assert s.expire(10.0) == SuspicionStep() and s.get("x") is None
    s.start("x", 3, origin="me", live_count=N, now=10.0)
    s.cancel("x")
    assert s.expire(20.0) == SuspicionStep()
    hb_only, _, _ = _suspicions(mode="heartbeat")
    hb_only.start("x", 2, origin="me", live_count=N, now=0.0)  # only T_fail decides in heartbeat mode
    assert hb_only.get("x") is None and hb_only.next_deadline() == math.inf


def test_hybrid_stale_at_the_start_corroborates_and_labels_the_failure_hybrid() -> None:
    hb = FakeHeartbeat()
    s, _, _ = _suspicions("hybrid", hb)
    hb.last["x"] = 0.0
    s.start("x", 2, origin="me", live_count=100, now=6.0)  # already stale (5 s): rule (b), Min = 8 s
    assert s.next_deadline() == -math.inf  # the first stale scan is due at once
    assert s.stale_scan(6.0) == SuspicionStep(probe=["x"])  # rule (a): probe the stale member now
    assert s.expire(14.0) == SuspicionStep(confirmed=[Confirmed("x", 2, "hybrid")])


def test_hybrid_staleness_during_a_suspicion_brings_its_expiry_into_the_same_step() -> None:
    hb = FakeHeartbeat()
    s, _, _ = _suspicions("hybrid", hb)
    hb.last["x"] = 0.0
    s.start("x", 2, origin="me", live_count=100, now=1.0)  # fresh heartbeat: Max = 48 s
    assert s.stale_scan(1.0) == SuspicionStep()
    # Stale since 5 s: (a) probes it, (b) makes the timeout Min, and start + Min = 9 s has passed.
    assert s.stale_scan(10.0) == SuspicionStep(probe=["x"], confirmed=[Confirmed("x", 2, "hybrid")])


def test_hybrid_veto_restarts_a_heartbeating_member_and_probes_it() -> None:
    hb = FakeHeartbeat()
    s, _, _ = _suspicions("hybrid", hb)
    hb.last["x"] = 0.0
    s.start("x", 2, origin="me", live_count=N, now=1.0)  # Min = 4 s, not stale
    hb.last["x"] = 3.0  # its counter moved after the suspicion began
    assert s.expire(5.0) == SuspicionStep(probe=["x"])  # rule (c): no confirmation; the ping carries it
    assert s.get("x").start == 5.0 and s.expire(8.9) == SuspicionStep()  # restarted: due at 5 + 4 s
    # It stops heartbeating: by 9 s it is stale (6 s) and the counter has not moved since the restart.
    assert s.expire(9.0) == SuspicionStep(confirmed=[Confirmed("x", 2, "hybrid")])


def test_hybrid_veto_window_is_gossip_spread_capped_at_half_of_min() -> None:
    rule = HybridRule(Config(mode="hybrid"), FakeHeartbeat())
    assert rule.veto_window(3, 4.0) == pytest.approx(1.5)  # 3 rounds of 0.5 s, under Min / 2 = 2 s
    assert rule.veto_window(100, 8.0) == pytest.approx(4.0)  # 12 rounds = 6 s, capped at Min / 2
    assert rule.veto_window(1000, 12.0) == pytest.approx(6.0)  # 17 rounds = 8.5 s, capped at Min / 2


def test_hybrid_veto_ignores_heartbeats_in_flight_when_the_suspicion_began() -> None:
    # x crashed just before it was suspected: its last heartbeats reach us 1 s into the suspicion,
    # inside the 1.5 s window (N = 3), so they are progress generated before it and veto nothing.
    hb = FakeHeartbeat()
    s, _, _ = _suspicions("hybrid", hb)
    hb.last["x"] = 0.0
    s.start("x", 2, origin="me", live_count=N, now=1.0)  # Min = 4 s, not stale
    assert s.get("x").veto_window == pytest.approx(1.5)
    hb.last["x"] = 2.5  # exactly at the end of the window: still in flight
    assert s.expire(5.0) == SuspicionStep(confirmed=[Confirmed("x", 2, "swim")])


def test_hybrid_veto_counts_progress_after_the_window() -> None:
    hb = FakeHeartbeat()
    s, _, _ = _suspicions("hybrid", hb)
    hb.last["x"] = 0.0
    s.start("x", 2, origin="me", live_count=N, now=1.0)
    hb.last["x"] = 2.6  # generated after the suspicion began: a live member
    assert s.expire(5.0) == SuspicionStep(probe=["x"])
    assert s.get("x").start == 5.0 and s.get("x").veto_window == pytest.approx(1.5)  # the restart keeps the window
