import random
from pathlib import Path
from types import SimpleNamespace

from swimfd.bench.logparse import Event
from swimfd.bench.runner import FAILED, STABLE_S, Watch, _crash, _hang, _short_pause
from swimfd.bench.scenarios import plan, short_pause_s


def watch(members: list[str], tmp_path: Path) -> Watch:
    cluster = SimpleNamespace(members={m: SimpleNamespace(log=tmp_path / f"node-{m}.log") for m in members})
    return Watch(cluster, progress=lambda now: None)  # type: ignore[arg-type]


def joined(node: str, member: str, ts: float = 1.0) -> Event:
    return Event("member_joined", node, member, ts)


def test_ready_needs_every_member_started_long_enough_and_knowing_all_others(tmp_path: Path) -> None:
    w = watch(["1", "2", "3"], tmp_path)
    w.log.started.update({"1": 100.0, "2": 100.5})
    w.log.events += [joined(a, b) for a in "123" for b in "123" if a != b]
    assert not w.ready(["1", "2", "3"], now=200.0)  # 3 never logged node_started
    w.log.started["3"] = 101.0
    assert not w.ready(["1", "2", "3"], now=101.0 + STABLE_S - 0.1)  # not stable for long enough yet
    assert w.ready(["1", "2", "3"], now=101.0 + STABLE_S)


def test_knows_all_counts_alive_as_knowing_and_ignores_outsiders(tmp_path: Path) -> None:
    w = watch(["1", "2"], tmp_path)
    w.log.events += [joined("1", "2"), Event("member_alive", "2", "1", 2.0), joined("9", "1")]
    assert w.knows_all(["1", "2"])
    assert not w.knows_all(["1", "2", "3"])


def test_all_report_waits_for_every_observer_but_the_subject(tmp_path: Path) -> None:
    w = watch(["1", "2", "3"], tmp_path)
    w.log.events += [Event("member_failed", "1", "3", 10.0), Event("member_failed", "2", "3", 4.0)]
    assert not w.all_report(FAILED, "3", since=5.0, observers=["1", "2", "3"])  # 2's line predates the fault
    w.log.events.append(Event("member_failed", "2", "3", 11.0))
    assert w.all_report(FAILED, "3", since=5.0, observers=["1", "2", "3"])


def test_poll_reads_new_lines_from_member_logs(tmp_path: Path) -> None:
    w = watch(["1"], tmp_path)
    w.cluster.live = lambda: []  # type: ignore[attr-defined]
    w.cluster.monitor = SimpleNamespace(sample=lambda now, members: None)  # type: ignore[attr-defined]
    (tmp_path / "node-1.log").write_text(
        '{"event": "node_started", "node": "1", "ts": 5.0}\n'
        '{"event": "member_joined", "node": "1", "member": "2", "ts": 6.0}\n'
    )
    w.poll()
    assert w.log.started == {"1": 5.0}
    assert [(e.name, e.member) for e in w.log.events] == [("member_joined", "2")]


class FakeCluster:
    """Records the signals the scenario sends; members 1..n."""

    def __init__(self, n: int) -> None:
        self.members = {str(k): None for k in range(1, n + 1)}
        self.dead: set[str] = set()
        self.calls: list[tuple[str, str]] = []

    def live(self) -> list[str]:
        return [k for k in self.members if k not in self.dead]

    def kill(self, k: str, now: float) -> None:
        self.calls.append(("kill", k))
        self.dead.add(k)

    def stop(self, k: str, now: float) -> None:
        self.calls.append(("stop", k))

    def cont(self, k: str) -> None:
        self.calls.append(("cont", k))


class FakeWatch:
    """Every wait returns at once as if its condition held; records the timeouts it was given."""

    def __init__(self) -> None:
        self.timeouts: list[float] = []

    def wait(self, done, timeout: float) -> bool:
        self.timeouts.append(timeout)
        return True

    def all_report(self, names, member, since, observers) -> bool:
        return True


def _spec(scenario: str, n: int, repeats: int):
    (spec,) = plan(["swim"], [n], [scenario], seed=1, loss_duration_s=10, repeats=repeats)
    return spec


def test_crash_repeats_single_failures_before_the_group_crash() -> None:
    cluster, faults, row = FakeCluster(10), [], {}
    _crash(_spec("crash", 10, 3), cluster, FakeWatch(), random.Random(1), faults, row)  # type: ignore[arg-type]
    kills = [k for c, k in cluster.calls if c == "kill"]
    assert len(kills) == 3 + 3  # three singles, then 30% of n = 10 at once among the 7 left
    assert len(set(kills)) == len(kills) == len(faults)
    assert row["victims"].split() == kills


def test_hang_stops_each_victim_until_detected_then_kills_it() -> None:
    cluster, faults, row = FakeCluster(10), [], {}
    _hang(_spec("hang", 10, 3), cluster, FakeWatch(), random.Random(1), faults, row)  # type: ignore[arg-type]
    assert [c for c, _ in cluster.calls] == ["stop", "kill"] * 3
    victims = [k for c, k in cluster.calls if c == "stop"]
    assert [k for c, k in cluster.calls if c == "kill"] == victims and len(set(victims)) == 3
    assert [f.member for f in faults] == victims  # detection samples, one per hang


def test_short_pause_resumes_every_victim_and_records_no_fault() -> None:
    cluster, row, w = FakeCluster(5), {}, FakeWatch()
    _short_pause(_spec("short_pause", 5, 2), cluster, w, random.Random(1), row)  # type: ignore[arg-type]
    assert [c for c, _ in cluster.calls] == ["stop", "cont", "stop", "cont"]
    assert not cluster.dead and row["pause_s"] == short_pause_s(5) == 2.0
    # stopped for 2 s each (less than Min = 4 s), Min between them, then Max (24 s) for late false positives
    assert w.timeouts == [2.0, 4.0, 2.0, 4.0, 24.0]
