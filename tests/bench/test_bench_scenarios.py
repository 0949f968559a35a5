import pytest

from swimfd.bench.scenarios import (
    SCENARIOS,
    SYSTEMS,
    default_detect_timeout,
    plan,
    short_pause_s,
    suspicion_max_s,
    suspicion_min_s,
)


def test_suspicion_max_follows_memberlist_scaling() -> None:
    assert suspicion_max_s(5) == 24.0  # 6 * 4 * 1 * 1 s: log10 floored at 1 below n = 10
    assert suspicion_max_s(100) == 48.0  # protocols.md: LAN n = 100 gives Max 48 s
    assert default_detect_timeout(100) == 106.0


def test_plan_puts_systems_side_by_side_for_each_scenario() -> None:
    runs = plan(list(SYSTEMS), [5, 10], ["crash", "loss10"], seed=3, loss_duration_s=30)
    assert len(runs) == 2 * 2 * 4
    assert [(r.n, r.scenario.name, r.system) for r in runs[:5]] == [
        (5, "crash", "swim"),
        (5, "crash", "heartbeat"),
        (5, "crash", "hybrid"),
        (5, "crash", "memberlist"),
        (5, "loss10", "swim"),
    ]
    assert all(r.seed == 3 and r.loss_duration_s == 30 for r in runs)
    assert runs[4].scenario.loss == 0.10


@pytest.mark.parametrize(
    ("systems", "sizes", "scenarios", "message"),
    [
        (["consul"], [5], ["crash"], "unknown system"),
        (["swim"], [5], ["flood"], "unknown scenario"),
        (["swim"], [2], ["crash"], "at least 3"),
    ],
)
def test_plan_rejects_bad_input(systems: list[str], sizes: list[int], scenarios: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan(systems, sizes, scenarios, seed=1, loss_duration_s=10)


@pytest.mark.parametrize(("n", "live", "want"), [(5, 4, 2), (10, 9, 3), (20, 19, 6), (40, 39, 12), (3, 2, 1)])
def test_second_crash_kills_thirty_percent_leaving_someone(n: int, live: int, want: int) -> None:
    (run,) = plan(["swim"], [n], ["crash"], seed=1, loss_duration_s=10)
    assert run.crash_count(live) == want


def test_estimates_are_positive_and_loss_runs_cover_their_duration() -> None:
    runs = plan(["swim"], [5], list(SCENARIOS), seed=1, loss_duration_s=100)
    assert all(r.estimate_s() > 0 for r in runs)
    assert all(r.estimate_s() >= 100 for r in runs if r.scenario.kind == "loss")


def test_new_scenarios_are_planned_with_repeats() -> None:
    runs = plan(["swim", "memberlist"], [10], ["hang", "short_pause"], seed=1, loss_duration_s=10, repeats=4)
    assert [(r.scenario.name, r.scenario.kind, r.system) for r in runs] == [
        ("hang", "hang", "swim"),
        ("hang", "hang", "memberlist"),
        ("short_pause", "short_pause", "swim"),
        ("short_pause", "short_pause", "memberlist"),
    ]
    assert all(r.repeats == 4 and r.estimate_s() > 0 for r in runs)
    with pytest.raises(ValueError, match="repeats"):
        plan(["swim"], [10], ["crash"], seed=1, loss_duration_s=10, repeats=0)


@pytest.mark.parametrize(("n", "repeats", "want"), [(10, 1, 1), (10, 3, 3), (10, 9, 4), (5, 5, 2), (3, 4, 1)])
def test_single_failures_leave_at_least_half_of_the_members_up(n: int, repeats: int, want: int) -> None:
    (run,) = plan(["swim"], [n], ["crash"], seed=1, loss_duration_s=10, repeats=repeats)
    assert run.single_failures() == want


def test_short_pause_is_half_of_lifeguards_min_suspicion() -> None:
    assert suspicion_min_s(5) == 4.0 and short_pause_s(5) == 2.0  # memberlist LAN: Min = 4 s below n = 10
    assert suspicion_min_s(100) == 8.0 and short_pause_s(100) == 4.0
    assert short_pause_s(40) < suspicion_min_s(40)


def test_plan_with_both_securities_runs_each_system_plain_then_secured() -> None:
    runs = plan(["swim", "memberlist"], [5], ["crash"], seed=1, loss_duration_s=30, security=(False, True))
    assert [r.system_label for r in runs] == ["swim", "memberlist", "swim+tls", "memberlist+keyring"]
    assert [r.label for r in runs][2] == "swim+tls n=5 crash"
    assert runs[3].params()["secure"] is True
