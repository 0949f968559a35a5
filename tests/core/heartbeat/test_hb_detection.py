"""Heartbeat merge, staleness detection, tombstones and cleanup (van Renesse et al. 1998)."""

from __future__ import annotations

import math

import pytest
from hb_helpers import advance, config, gossip, gossiper

from swimfd.core.heartbeat import derive_t_fail
from swimfd.core.heartbeat.shape import HeartbeatGossipError

EPS = 1e-6


def test_receiver_keeps_the_maximum_counter_and_reports_progress():
    g = gossiper("a", ["b", "c"])
    step = g.on_gossip("b", gossip([("b", 0, 5), ("c", 0, 2)]), 1.0)
    assert sorted(step.progressed) == ["b", "c"]
    step = g.on_gossip("c", gossip([("b", 0, 3), ("c", 0, 4)]), 2.0)
    assert step.progressed == ["c"]
    assert g.counter("b") == 5
    assert g.counter("c") == 4
    assert g.staleness("b", 3.0) == pytest.approx(2.0)
    assert g.staleness("c", 3.0) == pytest.approx(1.0)


def test_higher_incarnation_resets_and_lower_is_ignored():
    g = gossiper("a", ["b"])
    g.on_gossip("b", gossip([("b", 0, 50)]), 1.0)
    step = g.on_gossip("b", gossip([("b", 1, 2)]), 2.0)
    assert step.progressed == ["b"]
    assert (g.incarnation("b"), g.counter("b")) == (1, 2)
    step = g.on_gossip("c", gossip([("b", 0, 99)]), 3.0)
    assert step.progressed == []
    assert (g.incarnation("b"), g.counter("b")) == (1, 2)


def test_unknown_ids_are_reported_not_tracked():
    g = gossiper("a", ["b"])
    step = g.on_gossip("b", gossip([("b", 0, 1), ("zz", 0, 4)]), 1.0)
    assert step.unknown == ["zz"]
    assert g.counter("zz") is None


def test_gossip_about_self_never_overrides_own_entry():
    g = gossiper("a", ["b"])
    g.tick(1.0)
    g.on_gossip("b", gossip([("a", 9, 1000)]), 1.5)
    assert g.counter("a") == 1
    assert g.incarnation("a") == 0


def test_malformed_gossip_raises_and_leaves_state_unchanged():
    g = gossiper("a", ["b"])
    g.on_gossip("b", gossip([("b", 0, 3)]), 1.0)
    bad = gossip([("b", 0, 9)])
    bad.heartbeats.append(10)
    with pytest.raises(HeartbeatGossipError, match="differ in length"):
        g.on_gossip("b", bad, 2.0)
    assert g.counter("b") == 3
    assert g.staleness("b", 2.0) == pytest.approx(1.0)
    too_many = gossip([(f"m{i}", 0, 1) for i in range(5)])
    small = gossiper("a", ["b"], config(max_members=4))
    with pytest.raises(HeartbeatGossipError, match="max_members"):
        small.on_gossip("b", too_many, 1.0)


def test_tick_bumps_own_counter_once_per_round_and_sends_sorted_alive_list():
    g = gossiper("b", ["c", "a"], config(gossip_fanout=2))
    assert g.next_deadline() == 1.0
    step = g.tick(1.0)
    assert sorted(t for t, _ in step.gossip) == ["a", "c"]
    msg = step.gossip[0][1]
    assert list(msg.ids) == ["a", "b", "c"]
    assert list(msg.incarnations) == [0, 0, 0]
    assert list(msg.heartbeats) == [0, 1, 0]
    assert msg.round == 1
    assert g.tick(1.5).gossip == []  # same round: nothing new
    assert g.counter("b") == 1
    step = g.tick(2.0)
    assert list(step.gossip[0][1].heartbeats) == [0, 2, 0]
    assert step.gossip[0][1].round == 2


def test_failure_exactly_after_t_fail_and_reported_once():
    g = gossiper("a", ["b"])
    g.on_gossip("b", gossip([("b", 0, 3)]), 2.0)
    assert advance(g, 2.0 + 5.0 - EPS).failed == []
    assert g.next_deadline() == pytest.approx(7.0)
    assert advance(g, 7.0).failed == ["b"]
    assert g.is_tombstone("b")
    assert advance(g, 7.5).failed == []
    assert advance(g, 20.0).failed == []


def test_tombstone_is_not_gossiped_and_stale_gossip_cannot_revive_it():
    g = gossiper("a", ["b", "c"])
    g.on_gossip("c", gossip([("b", 0, 3), ("c", 0, 1)]), 1.0)
    g.on_gossip("c", gossip([("c", 0, 2)]), 4.0)  # c stays fresh; b last moved at 1.0
    assert advance(g, 6.0).failed == ["b"]
    step = g.on_gossip("c", gossip([("b", 0, 1000), ("c", 0, 3)]), 6.5)
    assert step.progressed == ["c"]
    assert g.counter("b") == 3
    assert g.is_tombstone("b")
    assert g.tracked() == ["a", "c"]
    sent = advance(g, 7.0).gossip
    assert [list(msg.ids) for _, msg in sent] == [["a", "c"]]


def test_tombstone_expires_at_t_cleanup_then_member_is_unknown():
    g = gossiper("a", ["b"])
    assert g.t_cleanup == 10.0  # default 2 * t_fail
    assert advance(g, 5.0).failed == ["b"]  # tracked at 0, never heard
    assert advance(g, 15.0 - EPS).removed == []
    assert g.next_deadline() == pytest.approx(15.0)
    assert advance(g, 15.0).removed == ["b"]
    assert g.counter("b") is None
    assert g.on_gossip("c", gossip([("b", 0, 1000)]), 15.5).unknown == ["b"]
    assert advance(g, 100.0).removed == []


def test_explicit_t_cleanup():
    g = gossiper("a", ["b"], config(t_cleanup=7.0))
    assert advance(g, 5.0).failed == ["b"]
    assert advance(g, 12.0 - EPS).removed == []
    assert advance(g, 12.0).removed == ["b"]


def test_higher_incarnation_revives_a_tombstone_which_can_fail_again():
    g = gossiper("a", ["b"])
    assert advance(g, 5.0).failed == ["b"]
    step = g.on_gossip("b", gossip([("b", 1, 0)]), 6.0)
    assert step.progressed == ["b"]
    assert not g.is_tombstone("b")
    assert "b" in g.tracked()
    assert advance(g, 7.0).gossip[0][1].ids[:] == ["a", "b"]
    assert advance(g, 11.0 - EPS).failed == []
    assert advance(g, 11.0).failed == ["b"]


def test_mark_dead_makes_a_silent_tombstone():
    g = gossiper("a", ["b", "c"])
    g.on_gossip("b", gossip([("b", 0, 4)]), 1.0)
    g.mark_dead("b", 0, 2.0)
    assert g.is_tombstone("b")
    assert g.on_gossip("c", gossip([("b", 0, 9)]), 3.0).progressed == []
    reported = [m for t in (4.0, 5.0, 6.0, 7.0, 8.0) for m in g.tick(t).failed]
    assert "b" not in reported
    assert g.tick(12.0 - EPS).removed == []
    assert "b" in g.tick(12.0).removed


def test_mark_dead_of_an_older_incarnation_is_ignored_and_track_restarts():
    g = gossiper("a", ["b"])
    g.track("b", 2, 1.0)
    g.mark_dead("b", 1, 2.0)
    assert not g.is_tombstone("b")
    g.mark_dead("b", 2, 3.0)
    assert g.is_tombstone("b")
    g.track("b", 2, 4.0)  # same incarnation: a tombstone stays a tombstone
    assert g.is_tombstone("b")
    g.track("b", 3, 4.0)
    assert not g.is_tombstone("b")
    assert (g.incarnation("b"), g.counter("b"), g.staleness("b", 4.0)) == (3, 0, 0.0)


def test_mark_dead_of_an_unknown_member_blocks_its_gossip():
    g = gossiper("a", [])
    g.mark_dead("x", 4, 1.0)
    assert g.on_gossip("b", gossip([("x", 4, 10)]), 2.0).progressed == []
    assert g.on_gossip("b", gossip([("x", 5, 0)]), 2.0).progressed == ["x"]


def test_forget_drops_the_member_and_keeps_other_entries_intact():
    ids = [f"m{i}" for i in range(6)]
    g = gossiper("m0", ids)
    full = gossip([(m, 0, 10 + k) for k, m in enumerate(ids)])
    g.on_gossip("m1", full, 1.0)
    g.forget("m2")  # moves the last slot into the hole
    assert g.counter("m2") is None
    assert g.tracked() == ["m0", "m1", "m3", "m4", "m5"]
    step = g.on_gossip("m1", gossip([(m, 0, 20 + k) for k, m in enumerate(ids)]), 2.0)
    assert step.unknown == ["m2"]
    assert [g.counter(m) for m in ("m1", "m3", "m4", "m5")] == [21, 23, 24, 25]
    g.forget("m0")  # self cannot be forgotten
    assert g.counter("m0") == 0


def test_merge_paths_agree_same_view_foreign_view_and_after_slot_moves():
    ids = [f"m{i:02d}" for i in range(20)]
    g = gossiper("m00", ids)
    same = gossip([(m, 0, 5) for m in ids])  # exactly the receiver's ring: cached mapping
    g.on_gossip("m01", same, 1.0)
    assert all(g.counter(m) == 5 for m in ids[1:])
    other = [*ids[3:], "new1"]  # a different view, seen twice (second time from the cache)
    for round_no, hb in ((1, 6), (2, 7)):
        step = g.on_gossip("m05", gossip([(m, 0, hb + k) for k, m in enumerate(other)], round_no), 1.0 + round_no)
        assert step.unknown == ["new1"]
        assert [g.counter(m) for m in other[:-1]] == [hb + k for k in range(len(other) - 1)]
    g.forget("m04")
    g.forget("m10")
    step = g.on_gossip("m05", gossip([(m, 0, 100 + k) for k, m in enumerate(other)]), 5.0)
    assert sorted(step.unknown) == ["m04", "m10", "new1"]
    expected = {m: 100 + k for k, m in enumerate(other) if m not in ("m04", "m10", "new1")}
    assert {m: g.counter(m) for m in expected} == expected
    assert [g.counter(m) for m in ("m01", "m02")] == [5, 5]


def test_derived_t_fail_follows_membership_size():
    cfg = config(t_fail=None, gossip_interval=0.5, p_mistake=1e-4)
    g = gossiper("a", [], cfg)
    assert g.t_fail == derive_t_fail(1, 0.5, 1, 1e-4)
    for k in range(99):
        g.track(f"m{k}", 0, 0.0)
    assert g.t_fail == derive_t_fail(100, 0.5, 1, 1e-4)
    assert g.t_cleanup == 2 * g.t_fail
    assert g.t_fail > derive_t_fail(10, 0.5, 1, 1e-4)
    g.mark_dead("m0", 0, 1.0)
    assert g.t_fail == derive_t_fail(100, 0.5, 1, 1e-4)  # a tombstone counts until cleanup
    g.forget("m0")
    assert g.t_fail == derive_t_fail(99, 0.5, 1, 1e-4)


def test_t_fail_does_not_shrink_when_members_are_declared_failed():
    # Five members, T_fail 7.5 s at n = 5. d and e are never heard and are declared failed at 7.5;
    # b and c were last heard at 1.5. Had T_fail been re-derived for the 3 live members (5.0 s) at
    # that instant, b and c, silent for 6 s, would have been declared failed with them.
    cfg = config(t_fail=None, gossip_interval=0.5, p_mistake=1e-6)
    g = gossiper("a", ["b", "c", "d", "e"], cfg)
    assert g.t_fail == derive_t_fail(5, 0.5, 1, 1e-6) == 7.5
    g.on_gossip("b", gossip([("b", 0, 1), ("c", 0, 1)]), 1.5)
    assert sorted(advance(g, 7.5).failed) == ["d", "e"]
    assert g.t_fail == 7.5
    assert advance(g, 9.0 - EPS).failed == []  # b and c silent for 7.5 - EPS s, not failed
    assert sorted(advance(g, 9.0).failed) == ["b", "c"]
    assert g.t_fail == 7.5
    assert sorted(advance(g, 7.5 + g.t_cleanup).removed) == ["d", "e"]
    assert g.t_fail == derive_t_fail(3, 0.5, 1, 1e-6)


def test_next_deadline_is_the_earliest_of_gossip_failure_and_cleanup():
    g = gossiper("a", [], config(gossip_interval=10.0, t_fail=11.0))
    assert g.next_deadline() == 10.0
    g.track("b", 0, 0.5)
    assert g.next_deadline() == 10.0
    g.tick(10.0)
    assert g.next_deadline() == pytest.approx(11.5)
    g.tick(11.5)
    assert g.next_deadline() == 20.0  # b is a tombstone until 11.5 + 22.0
    g.tick(20.0)
    assert g.next_deadline() == 30.0
    g.tick(30.0)
    assert g.next_deadline() == pytest.approx(33.5)
    assert g.tick(33.5).removed == ["b"]
    assert math.isfinite(g.next_deadline())


def test_invalid_incarnation_is_rejected():
    g = gossiper("a", [])
    with pytest.raises(ValueError, match="incarnation"):
        g.track("b", -1, 0.0)
    with pytest.raises(ValueError, match="incarnation"):
        g.mark_dead("b", 2**64, 0.0)


def test_hybrid_expiry_is_evidence_member_stays_tracked_and_can_expire_again():
    g = gossiper("a", ["b"], config(mode="hybrid"))
    assert advance(g, 5.0).failed == ["b"]
    assert not g.is_tombstone("b")
    assert advance(g, 5.5).failed == []  # once per staleness episode
    assert list(advance(g, 6.0).gossip[0][1].ids) == ["a", "b"]
    assert g.on_gossip("b", gossip([("b", 0, 1)]), 7.0).progressed == ["b"]
    assert advance(g, 12.0 - EPS).failed == []
    assert advance(g, 12.0).failed == ["b"]
    g.mark_dead("b", 0, 13.0)  # SWIM confirmed it
    assert g.is_tombstone("b")
    assert g.on_gossip("c", gossip([("b", 0, 2)]), 14.0).progressed == []


def test_batched_tracking_keeps_the_highest_incarnation_and_honours_forget():
    g = gossiper("a", [])
    g.track("c", 1, 0.0)
    g.track("b", 0, 0.0)
    g.track("c", 3, 0.5)
    g.track("c", 2, 0.7)
    g.track("d", 0, 0.0)
    g.forget("d")
    assert g.tracked() == ["a", "b", "c"]
    assert (g.incarnation("c"), g.staleness("c", 1.0)) == (3, 0.5)
    g.track("e", 0, 1.0)
    g.mark_dead("e", 0, 1.0)
    assert g.is_tombstone("e")


def test_stale_members_lists_alive_members_without_progress():
    g = gossiper("a", ["b", "c", "d"], config(mode="hybrid"))
    g.on_gossip("b", gossip([("b", 0, 1)]), 2.0)
    g.mark_dead("d", 0, 2.0)
    assert g.stale_members(1.5, 3.0) == ["c"]
    assert sorted(g.stale_members(1.0, 3.0)) == ["b", "c"]


def test_driving_by_next_deadline_gossips_once_per_round_despite_float_rounding():
    g = gossiper("a", ["b"], config(gossip_interval=0.1, t_fail=1000.0))
    rounds = []
    for _ in range(500):
        step = g.tick(g.next_deadline())
        rounds.extend(msg.round for _, msg in step.gossip)
    assert rounds == list(range(1, 501))
    assert g.counter("a") == 500


def test_duplicate_entries_in_one_message_never_move_a_counter_backwards():
    g = gossiper("a", ["b"])
    g.on_gossip("b", gossip([("b", 0, 3)]), 1.0)
    g.on_gossip("c", gossip([("b", 0, 10), ("b", 0, 5)]), 2.0)
    assert g.counter("b") in (5, 10)
    before = g.counter("b")
    g.on_gossip("c", gossip([("b", 0, 4), ("b", 0, 2)]), 3.0)
    assert g.counter("b") == before
    assert g.staleness("b", 3.0) == pytest.approx(1.0)


def test_a_restart_listed_twice_revives_once():
    g = gossiper("a", ["b"])
    assert advance(g, 5.0).failed == ["b"]
    g.on_gossip("c", gossip([("b", 1, 0), ("b", 1, 0)]), 6.0)
    assert g.tracked() == ["a", "b"]
    assert advance(g, 11.0).failed == ["b"]
    assert g.tracked() == ["a"]
    assert [list(msg.ids) for _, msg in advance(g, 12.0).gossip] == []  # alone: nobody to gossip to


def test_a_late_tick_excuses_the_time_we_were_not_running():
    # b's counter last moved at 2.0; then this process stops (no tick from 2.0 until 20.0, far
    # past T_fail = 5). Our own silence explains the missing increases: b keeps the time it had
    # left (T_fail - 0 s at the pause, less the one interval a tick may legitimately wait).
    g = gossiper("a", ["b"])
    advance(g, 2.0)
    g.on_gossip("b", gossip([("b", 0, 3)]), 2.0)
    step = g.tick(20.0)
    assert step.failed == []
    assert not g.is_tombstone("b")
    assert g.staleness("b", 20.0) == pytest.approx(1.0)  # 18 s gap, one interval of it counted
    assert advance(g, 24.0 - EPS).failed == []
    assert advance(g, 24.0).failed == ["b"]  # silent while we ran again: failed T_fail later


def test_a_tick_up_to_two_intervals_late_is_not_excused():
    g = gossiper("a", ["b"])
    g.on_gossip("b", gossip([("b", 0, 3)]), 0.0)
    advance(g, 3.0)
    assert g.tick(5.0).failed == ["b"]  # 2 s since the last tick = 2 intervals: normal lag
