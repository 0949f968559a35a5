"""Run one RunSpec on a real cluster: start it, apply the scenario, compute the row of figures."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from swimfd.bench import metrics
from swimfd.bench.cluster import Cluster, ClusterError
from swimfd.bench.logparse import LogTail, ParsedLog
from swimfd.bench.scenarios import RunSpec, short_pause_s, suspicion_max_s, suspicion_min_s

POLL_S = 0.25
SAMPLE_S = 1.0
SETTLE_S = 2.0  # between the first crash being detected and the 30% crash
STABLE_S = 5.0  # warm-up: every member up and knowing every other for this long before any fault

Progress = Callable[[float], None]  # called with "now" while waiting


@dataclass(slots=True)
class Watch:
    """Follows every member's log while the harness waits; samples CPU and memory once a second."""

    cluster: Cluster
    progress: Progress
    log: ParsedLog = field(default_factory=ParsedLog)
    tails: list[LogTail] = field(default_factory=list)
    last_sample: float = 0.0

    def __post_init__(self) -> None:
        self.tails = [LogTail(m.log) for m in self.cluster.members.values()]

    def poll(self) -> float:
        for t in self.tails:
            self.log.extend(t.poll())
        now = time.time()
        if now - self.last_sample >= SAMPLE_S:
            self.cluster.monitor.sample(now, self.cluster.live())
            self.last_sample = now
        self.progress(now)
        return now

    def wait(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.time() + timeout
        while True:
            now = self.poll()
            if done():
                return True
            if now >= deadline:
                return False
            time.sleep(POLL_S)

    def finish(self) -> None:
        for t in self.tails:
            self.log.extend(t.flush())

    # ----- predicates over what has been logged so far -----

    def seen(self, names: frozenset[str], member: str, since: float) -> set[str]:
        return {e.node for e in self.log.events if e.name in names and e.member == member and e.ts >= since}

    def ready(self, members: list[str], now: float) -> bool:
        """Every member logged node_started at least STABLE_S ago and has seen every other member join."""
        started = self.log.started
        if not all(m in started for m in members) or now - max(started[m] for m in members) < STABLE_S:
            return False
        return self.knows_all(members)

    def knows_all(self, members: list[str]) -> bool:
        known: dict[str, set[str]] = {m: set() for m in members}
        for e in self.log.events:
            if e.name in metrics.RECOVERY_EVENTS and e.node in known:
                known[e.node].add(e.member)
        return all(known[m] >= set(members) - {m} for m in members)

    def all_report(self, names: frozenset[str], member: str, since: float, observers: list[str]) -> bool:
        return self.seen(names, member, since) >= set(observers) - {member}


FAILED = frozenset({"member_failed"})


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def run_one(
    spec: RunSpec,
    repo: Path,
    run_dir: Path,
    progress: Progress,
    swimfd_config: Path | None = None,
    stream_loss: bool = False,
) -> dict:
    """Run ``spec``; returns its CSV row. Never leaves a process behind."""
    rng = random.Random(f"{spec.seed}/{spec.n}/{spec.scenario.name}")  # same victims for every system
    cluster = Cluster(
        spec.system, spec.n, spec.scenario.loss, run_dir, repo, spec.seed, swimfd_config, stream_loss, spec.secure
    )
    started = time.time()
    row: dict = {"system": spec.system_label, "source": "real", "n": spec.n, "scenario": spec.scenario.name}
    row["loss"] = spec.scenario.loss
    faults: list[metrics.Fault] = []
    try:
        cluster.start(started)
        watch = Watch(cluster, progress)
        everyone = list(cluster.members)
        converged = watch.wait(lambda: watch.ready(everyone, time.time()) or bool(cluster.exited()), spec.warmup_s)
        if cluster.exited():
            k = cluster.exited()[0]
            raise ClusterError(
                f"member {k} exited during start-up: {_tail(cluster.members[k].log.with_suffix('.out'))}"
            )
        row["converged"] = converged
        measure_from = time.time()
        cluster.monitor.mark(measure_from)
        row["warmup_s"] = round(measure_from - started, 2)
        if spec.scenario.kind == "crash":
            _crash(spec, cluster, watch, rng, faults, row)
        elif spec.scenario.kind == "pause":
            _pause(spec, cluster, watch, rng, faults, row)
        elif spec.scenario.kind == "hang":
            _hang(spec, cluster, watch, rng, faults, row)
        elif spec.scenario.kind == "short_pause":
            _short_pause(spec, cluster, watch, rng, row)
        else:
            watch.wait(lambda: False, spec.loss_duration_s)
        end = time.time()
        unexpected = cluster.exited()
        cluster.shutdown(end)
        watch.finish()
        observers = cluster_survivors(cluster, faults)
        _figures(row, watch.log, faults, observers, measure_from, end, started, cluster)
        row["unexpected_exits"] = len(unexpected)
        row["bad_log_lines"] = watch.log.bad_lines
    except ClusterError as e:
        row["error"] = str(e)
    finally:
        cluster.shutdown(time.time())
    row["wall_s"] = round(time.time() - started, 1)
    row["params"] = json.dumps(spec.params(), sort_keys=True)
    return row


def cluster_survivors(cluster: Cluster, faults: list[metrics.Fault]) -> list[str]:
    """Observers for detection: members never faulted (a paused member resumed is still excluded)."""
    faulted = {f.member for f in faults}
    return [k for k in cluster.members if k not in faulted]


def _crash(spec: RunSpec, cluster: Cluster, watch: Watch, rng: random.Random, faults: list, row: dict) -> None:
    singles = []
    for _ in range(spec.single_failures()):
        first = rng.choice(sorted(cluster.live(), key=int))
        at = time.time()
        cluster.kill(first, at)
        faults.append(metrics.Fault(first, at))
        singles.append(first)
        watch.wait(lambda: watch.all_report(FAILED, first, at, cluster.live()), spec.detect_timeout_s)  # noqa: B023
        watch.wait(lambda: False, SETTLE_S)
    live = sorted(cluster.live(), key=int)
    victims = rng.sample(live, spec.crash_count(len(live)))
    at2 = time.time()
    for v in victims:
        cluster.kill(v, at2)
        faults.append(metrics.Fault(v, at2))
    watch.wait(
        lambda: all(watch.all_report(FAILED, v, at2, cluster.live()) for v in victims),
        spec.detect_timeout_s,
    )
    row["victims"] = " ".join([*singles, *victims])


def _hang(spec: RunSpec, cluster: Cluster, watch: Watch, rng: random.Random, faults: list, row: dict) -> None:
    """SIGSTOP held until every other member reported it failed; then SIGKILL, so the next sample starts clean."""
    victims = []
    for _ in range(spec.single_failures()):
        victim = rng.choice(sorted(cluster.live(), key=int))
        others = [k for k in cluster.live() if k != victim]
        at = time.time()
        cluster.stop(victim, at)
        faults.append(metrics.Fault(victim, at))
        victims.append(victim)
        watch.wait(lambda: watch.all_report(FAILED, victim, at, others), spec.detect_timeout_s)  # noqa: B023
        cluster.kill(victim, time.time())  # a stopped process dies on SIGKILL too
        watch.wait(lambda: False, SETTLE_S)
    row["victims"] = " ".join(victims)


def _short_pause(spec: RunSpec, cluster: Cluster, watch: Watch, rng: random.Random, row: dict) -> None:
    """Pauses shorter than Lifeguard's Min suspicion timeout: not faults, so any member_failed is a false positive."""
    hold = short_pause_s(spec.n)
    victims = []
    for _ in range(spec.repeats):
        victim = rng.choice(sorted(cluster.live(), key=int))
        victims.append(victim)
        cluster.stop(victim, time.time())
        watch.wait(lambda: False, hold)
        cluster.cont(victim)
        watch.wait(lambda: False, suspicion_min_s(spec.n))  # let its refutations spread before the next one
    watch.wait(lambda: False, suspicion_max_s(spec.n))  # the longest a suspicion raised during a pause could live
    row["victims"] = " ".join(victims)
    row["pause_s"] = hold


def _pause(spec: RunSpec, cluster: Cluster, watch: Watch, rng: random.Random, faults: list, row: dict) -> None:
    victim = rng.choice(sorted(cluster.live(), key=int))
    others = [k for k in cluster.live() if k != victim]
    at = time.time()
    cluster.stop(victim, at)
    faults.append(metrics.Fault(victim, at))
    watch.wait(lambda: watch.all_report(FAILED, victim, at, others), spec.detect_timeout_s)
    watch.wait(lambda: False, spec.hold_s)
    resumed = time.time()
    cluster.cont(victim)
    back = watch.wait(
        lambda: watch.all_report(metrics.RECOVERY_EVENTS, victim, resumed, others), spec.recover_timeout_s
    )
    row["victims"] = victim
    row["pause_s"] = round(resumed - at, 2)
    row["recovered"] = back
    first, every = metrics.recovery(watch.log.events, victim, resumed, others)
    row["recover_first_s"] = _r(first)
    row["recover_all_s"] = _r(every)


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def _figures(
    row: dict,
    log: ParsedLog,
    faults: list[metrics.Fault],
    observers: list[str],
    measure_from: float,
    end: float,
    started: float,
    cluster: Cluster,
) -> None:
    det = metrics.detection(log.events, faults, observers)
    first, every = metrics.Percentiles.of(det.first), metrics.Percentiles.of(det.all)
    if faults:
        for name, p in (("detect_first", first), ("detect_all", every)):
            row[f"{name}_p50_s"] = _r(p.p50)
            row[f"{name}_p95_s"] = _r(p.p95)
            row[f"{name}_max_s"] = _r(p.max)
        row["undetected"] = det.undetected
    fp = metrics.false_positives(log.events, faults, measure_from, end)
    row["false_positives"] = fp
    row["observed_s"] = round(end - measure_from, 1)
    row["fp_per_member_hour"] = _r(metrics.per_member_hour(fp, cluster.n, end - measure_from))
    window = (measure_from, end) if row["scenario"].startswith("loss") else (started, end)
    tr = metrics.traffic(log.stats, *window)
    row["msgs_per_member_s"] = _r(tr.msgs_per_member_s, 2)
    row["bytes_per_member_s"] = _r(tr.bytes_per_member_s, 1)
    usage = [cluster.monitor.usage(k) for k in cluster.members]
    cpu = [u.cpu_share for u in usage if u.cpu_share is not None]
    rss = [u.peak_rss_mb for u in usage if u.peak_rss_mb is not None]
    row["cpu_share_mean"] = _r(sum(cpu) / len(cpu), 4) if cpu else None
    row["cpu_share_max"] = _r(max(cpu), 4) if cpu else None
    row["peak_rss_mb_mean"] = _r(sum(rss) / len(rss), 1) if rss else None
    row["peak_rss_mb_max"] = _r(max(rss), 1) if rss else None
