"""Metrics on hand-built event logs, so each figure is checked by hand."""

from __future__ import annotations

import math

from swimfd.core.events import EventName, MembershipEvent, Source
from swimfd.sim.metrics import (
    Truth,
    convergence,
    detections,
    false_positives,
    live_node_seconds,
    percentiles,
)

FAILED = EventName.MEMBER_FAILED
SUSPECTED = EventName.MEMBER_SUSPECTED


def ev(name: EventName, member: str, at: float) -> MembershipEvent:
    return MembershipEvent(name, member, 0, at, Source.LOCAL, "swim" if name == FAILED else None)


def truth(**kw: object) -> Truth:
    t = Truth(started={m: 0.0 for m in "abcde"}, end=100.0)
    for k, v in kw.items():
        setattr(t, k, v)
    return t


def test_percentiles_nearest_rank() -> None:
    assert percentiles([]) == {"p50": None, "p95": None, "max": None}
    assert percentiles([3.0]) == {"p50": 3.0, "p95": 3.0, "max": 3.0}
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentiles(values) == {"p50": 10.0, "p95": 19.0, "max": 20.0}
    assert percentiles([5.0, 1.0, 3.0]) == {"p50": 3.0, "p95": 5.0, "max": 5.0}


def test_detection_first_and_all() -> None:
    t = truth(crashed={"e": 10.0})
    log = [
        ("a", ev(SUSPECTED, "e", 11.0)),  # suspicion is not detection
        ("b", ev(FAILED, "e", 13.0)),
        ("a", ev(FAILED, "e", 14.5)),
        ("c", ev(FAILED, "e", 15.0)),
        ("c", ev(FAILED, "e", 16.0)),  # a repeat does not move c's first report
        ("d", ev(FAILED, "e", 17.0)),
    ]
    [d] = detections(log, t)
    assert (d.member, d.crashed_at, d.first_s, d.all_s, d.missing) == ("e", 10.0, 3.0, 7.0, 0)


def test_detection_missing_observer_and_ignored_reports() -> None:
    # d crashed later, so it need not report; c never reports; a report before the crash is no detection
    t = truth(crashed={"e": 10.0, "d": 12.0})
    log = [
        ("a", ev(FAILED, "e", 9.0)),
        ("b", ev(FAILED, "e", 12.0)),
        ("a", ev(FAILED, "e", 13.0)),
    ]
    det = {d.member: d for d in detections(log, t)}
    assert det["e"].first_s == 2.0 and det["e"].all_s is None and det["e"].missing == 1
    assert det["d"].first_s is None and det["d"].all_s is None and det["d"].missing == 3


def test_detection_ignores_left_members_and_late_joiners() -> None:
    t = truth(crashed={"e": 10.0}, left={"d": 5.0})
    t.started["f"] = 20.0  # joined after the crash
    log = [("a", ev(FAILED, "e", 11.0)), ("b", ev(FAILED, "e", 12.0)), ("c", ev(FAILED, "e", 13.0))]
    [d] = detections(log, t)
    assert d.all_s == 3.0 and d.missing == 0


def test_false_positives_count_reports_about_live_members() -> None:
    t = truth(crashed={"e": 10.0}, left={"d": 20.0})
    log = [
        ("a", ev(FAILED, "e", 9.0)),  # before the crash: false
        ("a", ev(FAILED, "e", 11.0)),  # after: true detection
        ("b", ev(FAILED, "c", 30.0)),  # c never failed: false
        ("a", ev(FAILED, "c", 31.0)),  # false, same member
        ("a", ev(FAILED, "d", 25.0)),  # d had left: not counted
        ("b", ev(SUSPECTED, "a", 5.0)),  # suspicion only
    ]
    fp = false_positives(log, t)
    assert (fp.count, fp.members, fp.observers) == (3, 2, 2)


def test_truth_alive_at() -> None:
    t = truth(crashed={"e": 10.0})
    t.started["f"] = 20.0
    assert t.alive_at("e", 9.9) and not t.alive_at("e", 10.0)
    assert not t.alive_at("f", 19.0) and t.alive_at("f", 20.0)
    assert t.gone_at("a") == math.inf
    assert sorted(t.live_at_end()) == ["a", "b", "c", "d", "f"]


def test_live_node_seconds() -> None:
    t = Truth(started={"a": 0.0, "b": 5.0, "c": 0.0}, crashed={"c": 20.0}, end=30.0)
    # window [10, 30]: a 20 s, b 20 s, c 10 s
    assert live_node_seconds(t, 10.0, 30.0) == 50.0
    assert live_node_seconds(t, 0.0, 30.0) == 30.0 + 25.0 + 20.0


def test_convergence() -> None:
    alive, suspect = 1, 2
    same = {"a": alive, "b": alive}
    conv = convergence([("a", same), ("b", dict(same))], ["a", "b"])
    assert conv.converged and conv.agreeing == 2 and conv.matches_truth
    # all agree, but on a member that is really dead: not converged
    stale = {"a": alive, "b": alive, "x": alive}
    conv = convergence([("a", stale), ("b", dict(stale))], ["a", "b"])
    assert not conv.converged and conv.agreeing == 2 and not conv.matches_truth
    # one observer disagrees on a state
    conv = convergence([("a", same), ("b", {"a": suspect, "b": alive}), ("c", same)], ["a", "b"])
    assert not conv.converged and conv.agreeing == 2 and conv.total == 3 and conv.matches_truth
