from pathlib import Path
from types import SimpleNamespace

from swimfd.bench.logparse import Event
from swimfd.bench.runner import FAILED, STABLE_S, Watch


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
