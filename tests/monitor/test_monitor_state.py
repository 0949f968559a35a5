"""The monitor's pure model, driven by hand-built snapshots and a fake clock."""

from __future__ import annotations

from dataclasses import dataclass

from swimfd.monitor.state import MONITOR, MemberObs, MonitorState, Snapshot


@dataclass
class FakeClock:
    t: float = 1000.0

    def advance(self, dt: float) -> float:
        self.t += dt
        return self.t


def addr(k: str) -> str:
    return f"127.0.0.1:{50050 + int(k)}"


def snap(
    observer: str, states: dict[str, str], leader: str = "", term: int = 0, inc: int = 1, **extra: str
) -> Snapshot:
    members = tuple(MemberObs(s, addr(s), st, inc, 900.0, **extra) for s, st in states.items())
    return Snapshot(observer, "swim", leader, term, members)


def everyone(ids: list[str], state: str = "ALIVE") -> dict[str, str]:
    return dict.fromkeys(ids, state)


def baseline(m: MonitorState, clock: FakeClock, ids: list[str]) -> None:
    for o in ids:
        assert m.observe(addr(o), snap(o, everyone(ids)), clock.t) == []


def test_first_view_of_an_observer_is_a_baseline_and_ids_sort_numerically() -> None:
    m, clock = MonitorState(), FakeClock()
    ids = ["10", "2", "1"]
    baseline(m, clock, ids)
    view = m.view(clock.t)
    assert view["observers"] == ["1", "2", "10"]
    assert view["subjects"] == ["1", "2", "10"]
    assert view["events"] == [] and view["failures"] == [] and view["disputes"] == {}
    assert view["rows"]["2"]["cells"]["10"]["state"] == "ALIVE"


def test_changes_between_successive_views_become_timeline_events() -> None:
    m, clock = MonitorState(), FakeClock()
    baseline(m, clock, ["1", "2", "3"])
    t1 = clock.advance(0.5)
    evs = m.observe(addr("1"), snap("1", {"1": "ALIVE", "2": "SUSPECT", "3": "ALIVE", "4": "ALIVE"}), t1)
    assert [(e.kind, e.observer, e.subject, e.state, e.at) for e in evs] == [
        ("suspected", "1", "2", "SUSPECT", t1),
        ("joined", "1", "4", "ALIVE", t1),
    ]
    t2 = clock.advance(0.5)
    evs = m.observe(addr("1"), snap("1", {"1": "ALIVE", "2": "DEAD", "4": "LEFT"}, leader="4", term=3), t2)
    assert [(e.kind, e.subject) for e in evs] == [("failed", "2"), ("left", "4"), ("removed", "3"), ("leader", "4")]
    assert evs[-1].term == 3
    t3 = clock.advance(0.5)
    evs = m.observe(addr("1"), snap("1", {"1": "ALIVE", "2": "ALIVE", "4": "LEFT"}, leader="4", term=3, inc=2), t3)
    assert [(e.kind, e.subject, e.incarnation) for e in evs] == [("alive", "2", 2)]
    # Sequence numbers order the whole timeline.
    assert [e["seq"] for e in m.view(t3)["events"]] == [1, 2, 3, 4, 5, 6, 7]


def test_a_cell_keeps_the_time_its_state_was_first_seen() -> None:
    m, clock = MonitorState(), FakeClock()
    baseline(m, clock, ["1", "2"])
    t_suspect = clock.advance(1.0)
    m.observe(addr("1"), snap("1", {"1": "ALIVE", "2": "SUSPECT"}), t_suspect)
    m.observe(addr("1"), snap("1", {"1": "ALIVE", "2": "SUSPECT"}), clock.advance(1.0))
    cells = m.view(clock.t)["rows"]["1"]["cells"]
    assert cells["2"]["since"] == t_suspect
    assert cells["1"]["since"] == 1000.0


def test_detector_and_source_are_recorded_when_the_node_reports_them() -> None:
    m, clock = MonitorState(), FakeClock()
    baseline(m, clock, ["1", "2"])
    evs = m.observe(addr("1"), snap("1", {"1": "ALIVE", "2": "DEAD"}, detector="hybrid", source="go-diss"), clock.t)
    assert (evs[0].detector, evs[0].source) == ("hybrid", "go-diss")
    cell = m.view(clock.t)["rows"]["1"]["cells"]["2"]
    assert (cell["detector"], cell["source"]) == ("hybrid", "go-diss")


def test_failure_timings_run_from_the_last_reply_of_the_member_to_the_first_and_last_live_observer() -> None:
    m, clock = MonitorState(), FakeClock()
    ids = ["1", "2", "3", "4"]
    baseline(m, clock, ids)  # node 4 last answered at t = 1000
    lost = m.unreachable(addr("4"), clock.advance(0.5), "UNAVAILABLE")
    assert [(e.kind, e.observer, e.subject) for e in lost] == [("unreachable", MONITOR, "4")]
    assert m.unreachable(addr("4"), clock.advance(0.5), "UNAVAILABLE") == []  # reported once
    dead = {**everyone(ids), "4": "DEAD"}
    m.observe(addr("2"), snap("2", dead), clock.advance(2.0))  # t = 1003
    (f,) = m.view(clock.t)["failures"]
    assert (f["subject"], f["first_observer"], f["first_after"], f["all_after"]) == ("4", "2", 3.0, None)
    m.observe(addr("1"), snap("1", dead), clock.advance(0.5))
    m.observe(addr("3"), snap("3", dead), clock.advance(1.0))  # the last live observer knows at t = 1004.5
    (f,) = m.view(clock.t)["failures"]
    assert f["all_after"] == 4.5
    assert sorted(f["knew"]) == ["1", "2", "3"]
    assert not f["refuted"]


def test_all_knew_only_waits_for_observers_the_monitor_can_still_reach() -> None:
    m, clock = MonitorState(), FakeClock()
    ids = ["1", "2", "3", "4"]
    baseline(m, clock, ids)
    m.unreachable(addr("4"), clock.advance(0.5), "UNAVAILABLE")
    dead = {**everyone(ids), "4": "DEAD"}
    m.observe(addr("1"), snap("1", dead), clock.advance(1.0))
    m.observe(addr("2"), snap("2", dead), clock.advance(1.0))
    assert m.view(clock.t)["failures"][0]["all_after"] is None  # 3 still has not reported it
    m.unreachable(addr("3"), clock.advance(1.0), "DEADLINE_EXCEEDED")
    # With 3 gone too, everyone left knew since 2 reported it (t = 1002.5).
    assert m.view(clock.t)["failures"][0]["all_after"] == 2.5


def test_a_member_that_answers_again_closes_its_failure_and_a_new_one_is_timed_afresh() -> None:
    m, clock = MonitorState(), FakeClock()
    ids = ["1", "2", "3"]
    baseline(m, clock, ids)
    m.unreachable(addr("3"), clock.advance(0.5), "UNAVAILABLE")
    m.observe(addr("1"), snap("1", {**everyone(ids), "3": "DEAD"}), clock.advance(1.0))
    back = m.observe(addr("3"), snap("3", everyone(ids), inc=2), clock.advance(5.0))
    assert [(e.kind, e.subject) for e in back] == [("reachable", "3")]
    assert m.view(clock.t)["failures"][0]["refuted"]
    restart = clock.t
    m.unreachable(addr("3"), clock.advance(0.5), "UNAVAILABLE")
    m.observe(addr("1"), snap("1", {**everyone(ids), "3": "DEAD"}, inc=2), clock.advance(2.0))
    second = m.view(clock.t)["failures"][1]
    assert (second["first_after"], second["refuted"]) == (clock.t - restart, False)


def test_an_alive_view_at_a_higher_incarnation_refutes_the_failure() -> None:
    m, clock = MonitorState(), FakeClock()
    ids = ["1", "2", "3"]
    baseline(m, clock, ids)
    m.observe(addr("1"), snap("1", {**everyone(ids), "3": "DEAD"}), clock.advance(1.0))
    m.observe(addr("2"), snap("2", everyone(ids), inc=1), clock.advance(0.5))  # same incarnation: stale, not a refute
    assert not m.view(clock.t)["failures"][0]["refuted"]
    m.observe(addr("2"), snap("2", everyone(ids), inc=2), clock.advance(0.5))
    assert m.view(clock.t)["failures"][0]["refuted"]


def test_a_member_never_reached_is_timed_from_the_first_suspicion() -> None:
    m, clock = MonitorState(), FakeClock()
    baseline(m, clock, ["1", "2"])
    t_suspect = clock.advance(1.0)
    m.observe(addr("1"), snap("1", {"1": "ALIVE", "2": "ALIVE", "9": "SUSPECT"}), t_suspect)
    m.observe(addr("1"), snap("1", {"1": "ALIVE", "2": "ALIVE", "9": "DEAD"}), clock.advance(2.0))
    assert m.view(clock.t)["failures"][0]["first_after"] == 2.0


def test_disputes_list_live_observers_that_disagree_and_ignore_unreachable_rows() -> None:
    m, clock = MonitorState(), FakeClock()
    ids = ["1", "2", "3"]
    baseline(m, clock, ids)
    m.observe(addr("1"), snap("1", {"1": "ALIVE", "2": "ALIVE", "3": "SUSPECT"}), clock.advance(0.5))
    m.observe(addr("2"), snap("2", {"1": "ALIVE", "2": "ALIVE"}), clock.t)
    assert m.disputes() == {"3": {"SUSPECT": ["1"], "MISSING": ["2"], "ALIVE": ["3"]}}
    m.unreachable(addr("3"), clock.advance(0.5), "UNAVAILABLE")
    m.observe(addr("2"), snap("2", {"1": "ALIVE", "2": "ALIVE", "3": "SUSPECT"}), clock.t)
    assert m.disputes() == {}


def test_the_monitor_follows_every_address_any_view_mentions() -> None:
    m, clock = MonitorState(), FakeClock()
    m.observe("seed:1", snap("1", {"1": "ALIVE", "7": "ALIVE", "12": "DEAD"}), clock.t)
    assert m.addresses() == {"seed:1", addr("1"), addr("7"), addr("12")}
    assert m.unreachable("never-answered:1", clock.t, "UNAVAILABLE") == []  # no row, no event


def test_the_timeline_keeps_only_the_newest_events() -> None:
    m, clock = MonitorState(max_events=3), FakeClock()
    baseline(m, clock, ["1", "2"])
    for i in range(4):
        m.observe(addr("1"), snap("1", {"1": "ALIVE", "2": "SUSPECT" if i % 2 == 0 else "ALIVE"}), clock.advance(1))
    assert [e["seq"] for e in m.view(clock.t)["events"]] == [2, 3, 4]
