import pytest

from swimfd.bench.logparse import Event, StatsSample
from swimfd.bench.metrics import (
    Fault,
    Percentiles,
    detection,
    false_positives,
    per_member_hour,
    quantile,
    recovery,
    traffic,
)


def failed(node: str, member: str, ts: float) -> Event:
    return Event("member_failed", node, member, ts)


def test_quantile_is_nearest_rank() -> None:
    xs = [1.0, 2.0, 3.0, 4.0]
    assert quantile(xs, 0.5) == 2.0
    assert quantile(xs, 0.95) == 4.0
    assert quantile([7.0], 0.5) == 7.0
    with pytest.raises(ValueError):
        quantile([], 0.5)


def test_percentiles_of_nothing_are_none() -> None:
    assert Percentiles.of([]) == Percentiles(None, None, None)
    assert Percentiles.of([3.0, 1.0, 2.0]) == Percentiles(2.0, 3.0, 3.0)


def test_detection_first_and_all_per_fault() -> None:
    faults = [Fault("5", 100.0), Fault("4", 200.0)]
    events = [
        failed("1", "5", 104.0),
        failed("2", "5", 103.0),
        failed("3", "5", 106.0),
        failed("3", "5", 109.0),  # a repeat counts from the first one
        failed("1", "4", 210.0),
        failed("2", "4", 205.0),  # 3 never reports 4
        failed("9", "4", 201.0),  # not an observer
    ]
    d = detection(events, faults, observers=["1", "2", "3"])
    assert d.first == [3.0, 5.0]
    assert d.all == [6.0]
    assert d.undetected == 1


def test_detection_ignores_reports_from_before_the_fault() -> None:
    d = detection([failed("1", "5", 99.0), failed("2", "5", 101.0)], [Fault("5", 100.0)], ["1", "2"])
    assert d.first == [1.0]
    assert d.all == []
    assert d.undetected == 1


def test_recovery_needs_a_report_after_resume_from_every_observer() -> None:
    events = [
        Event("member_alive", "1", "3", 50.0),  # before resume: ignored
        Event("member_alive", "1", "3", 61.0),
        Event("member_joined", "2", "3", 62.5),
    ]
    assert recovery(events, "3", 60.0, ["1", "2", "3"]) == (1.0, 2.5)
    assert recovery(events[:2], "3", 60.0, ["1", "2"]) == (1.0, None)
    assert recovery([], "3", 60.0, ["1", "2"]) == (None, None)


def test_false_positives_exclude_faulted_members_after_their_fault_only() -> None:
    faults = [Fault("3", 100.0)]
    events = [
        failed("1", "2", 50.0),  # member 2 was never faulted
        failed("1", "3", 90.0),  # member 3 accused before its fault
        failed("1", "3", 101.0),  # a correct detection
        failed("2", "1", 5.0),  # outside the window
        Event("member_suspected", "1", "2", 60.0),  # a suspicion is not a failure
    ]
    assert false_positives(events, faults, start=10.0, end=200.0) == 2


def test_per_member_hour() -> None:
    assert per_member_hour(3, 10, 1800.0) == pytest.approx(0.6)
    assert per_member_hour(0, 10, 60.0) == 0.0
    assert per_member_hour(1, 0, 60.0) is None
    assert per_member_hour(1, 5, 0.0) is None


def test_traffic_is_mean_of_per_member_rates_within_the_window() -> None:
    stats = [
        StatsSample("1", 0.0, 0, 0, 0, 0),  # before the window
        StatsSample("1", 10.0, 100, 10_000, 0, 0),
        StatsSample("1", 20.0, 200, 30_000, 0, 0),
        StatsSample("2", 12.0, 50, 1_000, 0, 0),
        StatsSample("2", 17.0, 100, 2_000, 0, 0),
        StatsSample("3", 15.0, 9, 9, 0, 0),  # one sample: no rate
    ]
    t = traffic(stats, 5.0, 25.0)
    assert t.members_measured == 2
    assert t.msgs_per_member_s == pytest.approx((10.0 + 10.0) / 2)
    assert t.bytes_per_member_s == pytest.approx((2000.0 + 200.0) / 2)


def test_traffic_without_two_samples_is_unknown() -> None:
    t = traffic([StatsSample("1", 1.0, 1, 1, 1, 1)], 0.0, 10.0)
    assert (t.msgs_per_member_s, t.bytes_per_member_s, t.members_measured) == (None, None, 0)
