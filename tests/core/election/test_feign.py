"""FeignSchedule (pure) and the election under members that feign failure all the time."""

from __future__ import annotations

import random

import pytest
from bully_cluster import BullyCluster

from swimfd.core.config import Config
from swimfd.core.events import EventName
from swimfd.core.feign import FeignSchedule

CFG = Config(feign_after_max=10.0, feign_duration_min=1.0, feign_duration_max=4.0)


def test_windows_follow_the_configured_distributions() -> None:
    s = FeignSchedule(CFG, random.Random(3), 100.0)
    prev_end = 100.0
    for _ in range(200):
        start, end = s.window()
        assert prev_end <= start <= prev_end + CFG.feign_after_max
        assert CFG.feign_duration_min <= end - start <= CFG.feign_duration_max
        assert s.poll(start).down
        state = s.poll(end)
        assert not state.down and state.recovered
        prev_end = end


def test_schedule_depends_only_on_the_seed_not_on_polling() -> None:
    fine = FeignSchedule(CFG, random.Random(8), 0.0)
    coarse = FeignSchedule(CFG, random.Random(8), 0.0)
    fine_down = [fine.poll(t / 10).down for t in range(0, 1000)]
    coarse_down = [coarse.down(t / 10) for t in range(0, 1000, 7)]
    assert coarse_down == fine_down[::7]
    assert any(fine_down) and not all(fine_down)


def test_poll_reports_each_recovery_once_and_deadlines_mark_transitions() -> None:
    s = FeignSchedule(CFG, random.Random(1), 0.0)
    start, end = s.window()
    assert s.next_deadline() == start
    before = s.poll(start - 1e-9)
    assert not before.down and not before.recovered
    assert s.poll(start).down
    assert s.next_deadline() == end
    first = s.poll(end + 0.001)
    again = s.poll(end + 0.002)
    assert first.recovered and not first.down
    assert not again.recovered
    nxt_start, _ = s.window()
    assert s.next_deadline() == nxt_start > end


def test_a_poll_that_skips_a_whole_window_still_reports_the_recovery() -> None:
    s = FeignSchedule(CFG, random.Random(2), 0.0)
    _, end = s.window()
    state = s.poll(end + 0.0001)
    assert state.recovered


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_members_feigning_all_the_time_never_share_a_believed_term(seed: int) -> None:
    ids = [str(i) for i in range(1, 21)]
    cfg = Config(election_timeout=1.0, leader_wait_timeout=3.0, feign_after_max=5.0)
    c = BullyCluster(ids, cfg, seed=seed)
    c.start_all(0.0)
    c.feign_all(until=90.0)
    c.run(100.0)
    recoveries = [e for _, e in c.named(EventName.ELECTION_STARTED) if e.extra["reason"] == "recovered"]
    assert len(recoveries) > 100  # the chaos really happened
    # Checked after every single delivery and timer: no two members that are up (not feigning) ever believed
    # they led the same term, and no member's term went down.
    assert c.violations == []
    assert c.term_went_down == []
    # Once the chaos stops, the cluster settles on the highest member.
    assert len({v for v in c.leaders().values()}) == 1
    [(leader, _)] = {v for v in c.leaders().values()}
    assert leader == "20"
