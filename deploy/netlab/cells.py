"""The fault cells: each runs one fault on a started lab and measures what the detectors did.

A cell returns a CellResult with raw measurements; ``CellResult.failures`` is
the one place that decides whether the cell passed (tests assert it is empty,
the matrix prints it). Times are measured from the moment the fault began to
be applied to the ``ts`` of the member_failed line each observer logged (both
epoch seconds on this machine's clock), and checked against the bound derived
from the configuration (netlab.bounds), never against a wall-clock speed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from netlab import bounds
from netlab.lab import MEMBERLIST, Lab, wait_until
from swimfd.core.config import Config
from swimfd.pb import swim_pb2 as pb

WARMUP_TIMEOUT = 30.0  # every view shows every member alive (start-up on a busy machine)
SETTLE_PERIODS = 4  # live protocol periods before the fault
GRACE = 1.0  # after a bound expires, time to let the last log lines reach the files


@dataclass
class CellResult:
    cell: str
    mode: str
    n: int
    run_id: str
    bound_s: float | None = None  # every expected detection must come within this
    expected: int = 0  # (observer, subject) pairs that must log member_failed
    detected: int = 0
    first_s: float | None = None  # earliest detection after the fault
    all_s: float | None = None  # the last expected detection after the fault
    false_positives: list[str] = field(default_factory=list)  # "observer->subject +t"
    false_positives_after_heal: int = 0  # of those, logged after the cut healed (or the paused member resumed)
    converged: bool | None = None  # None: the cell has nothing to converge
    converge_s: float | None = None
    converge_bound_s: float | None = None
    problems: list[str] = field(default_factory=list)  # what went wrong outside the checks below
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def failures(self) -> list[str]:
        out = list(self.problems)
        if self.detected < self.expected:
            out.append(f"detected {self.detected} of {self.expected} expected failures")
        if self.bound_s is not None and self.all_s is not None and self.all_s > self.bound_s:
            out.append(f"last detection after {self.all_s:.2f}s > bound {self.bound_s:.2f}s")
        if self.false_positives:
            out.append(f"{len(self.false_positives)} false positives: {self.false_positives[:6]}")
        if self.converged is False:
            out.append(f"views did not converge within {self.converge_bound_s or 0:.1f}s")
        return out

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failures": self.failures, "passed": self.passed}

    def describe(self) -> str:
        return "\n".join(f"{k}: {v}" for k, v in self.as_dict().items())


def lab_config(lab: Lab) -> Config:
    """The configuration the bounds are derived from. memberlist runs DefaultLANConfig, which is swimfd's
    default SWIM configuration (probe 1 s, timeout 0.5 s, 3 indirect checks, suspicion multipliers 4 and 6,
    retransmit multiplier 4, awareness 8); it has no election and no re-probing of dead members, so its
    heal bound uses the period of its full-state exchange, PushPullInterval = 30 s, which is
    Config().dead_probe_interval too."""
    if lab.mode == MEMBERLIST:
        return Config(election=False)
    return Config(**lab.config).replace(mode=lab.mode)  # type: ignore[arg-type]


def _all_alive(lab: Lab, observers: Iterable[int], members: Iterable[int]) -> bool:
    want = {str(m) for m in members}
    for k in observers:
        v = lab.view(k)
        if v is None or any(v.get(m) != pb.ALIVE for m in want):
            return False
    return True


def _view_is(lab: Lab, k: int, alive: set[int], dead: set[int]) -> bool:
    v = lab.view(k)
    if v is None:
        return False
    gone = (pb.DEAD, pb.LEFT)
    return all(v.get(str(m)) == pb.ALIVE for m in alive) and all(v.get(str(m), pb.DEAD) in gone for m in dead)


def warm_up(lab: Lab, result: CellResult, first: int | None = None) -> bool:
    """Start every node (or nodes 1..first, with only them in the static list), wait until all see all
    alive, then let a few periods pass. False on failure."""
    if first is None:
        lab.start_all()
    else:
        for k in range(1, first + 1):
            lab.start(k, members=range(1, first + 1))
        lab.wait_started(range(1, first + 1))
    everyone = sorted(lab.nodes) if first is None else list(range(1, first + 1))
    if not wait_until(lambda: _all_alive(lab, everyone, everyone), WARMUP_TIMEOUT, poll=0.25):
        result.problems.append(f"no agreement on {len(everyone)} alive members at start: {lab.views()}")
        return False
    time.sleep(SETTLE_PERIODS * lab_config(lab).probe_interval)
    early = _failed(lab, everyone, everyone, 0.0)
    if early:
        result.problems.append(f"member_failed before any fault: {early}")
        return False
    return True


def _failed(lab: Lab, observers: Iterable[int], subjects: Iterable[int], since: float) -> dict[tuple[int, int], float]:
    """(observer, subject) -> ts of the observer's first member_failed about subject at or after ``since``."""
    want = {str(s) for s in subjects}
    out: dict[tuple[int, int], float] = {}
    for k in observers:
        for ev in lab.nodes[k].events("member_failed"):
            m = str(ev.get("member"))
            if m in want and ev.get("ts", 0.0) >= since and (k, int(m)) not in out:
                out[(k, int(m))] = float(ev["ts"])
    return out


def _record_detection(
    result: CellResult, pairs: set[tuple[int, int]], seen: dict[tuple[int, int], float], t0: float
) -> None:
    result.expected = len(pairs)
    hits = [seen[p] - t0 for p in pairs if p in seen]
    result.detected = len(hits)
    if hits:
        result.first_s = round(min(hits), 3)
        result.all_s = round(max(hits), 3)


def _false_positives(
    lab: Lab, allowed: set[tuple[int, int]], allowed_until: float, t0: float, since: float = 0.0
) -> list[str]:
    """Every member_failed line from ``since`` on (not only the first per pair), except allowed pairs logged
    before ``allowed_until``; each as "observer->subject +seconds after t0"."""
    out = []
    for k in sorted(lab.nodes):
        for ev in lab.nodes[k].events("member_failed"):
            m, ts = int(ev.get("member", 0)), float(ev.get("ts", 0.0))
            if ts >= since and ((k, m) not in allowed or ts >= allowed_until):
                out.append(f"{k}->{m} {ts - t0:+.2f}s")
    return out


def _wait_detected(lab: Lab, pairs: set[tuple[int, int]], since: float, bound: float) -> dict[tuple[int, int], float]:
    observers = {o for o, _ in pairs}
    subjects = {s for _, s in pairs}
    wait_until(lambda: pairs <= _failed(lab, observers, subjects, since).keys(), bound - (time.time() - since))
    time.sleep(GRACE if not pairs <= _failed(lab, observers, subjects, since).keys() else 0.0)
    return _failed(lab, observers, subjects, since)


def _fail_and_detect(
    lab: Lab, result: CellResult, victims: Sequence[int], fault: Callable[[int], None]
) -> tuple[set[tuple[int, int]], dict[tuple[int, int], float], float]:
    """Apply ``fault`` to each victim, wait (within result.bound_s) until every survivor logged each failed,
    and record the detections: (the expected pairs, their first member_failed ts, when the fault began)."""
    survivors = set(lab.nodes) - set(victims)
    pairs = {(s, v) for s in survivors for v in victims}
    t0 = time.time()
    for v in victims:
        fault(v)
    assert result.bound_s is not None
    seen = _wait_detected(lab, pairs, t0, result.bound_s)
    _record_detection(result, pairs, seen, t0)
    return pairs, seen, t0


# --------------------------------------------------------------------- cells


def crash(lab: Lab, victims: Sequence[int]) -> CellResult:
    """SIGKILL ``victims``: every survivor logs member_failed for each within the bound; nobody else fails."""
    cfg = lab_config(lab)
    result = CellResult(f"crash {len(victims)}", lab.mode, lab.n, lab.run_id)
    result.bound_s = round(bounds.detection_bound_for(cfg, lab.n, len(victims)), 3)
    if not warm_up(lab, result):
        return result
    survivors = set(lab.nodes) - set(victims)
    pairs, _, t0 = _fail_and_detect(lab, result, victims, lab.crash)
    result.false_positives = _false_positives(lab, pairs, math.inf, t0)
    # A survivor that logged member_failed holds the victim DEAD at once; allow two periods for the view.
    result.converge_bound_s = round(2 * cfg.probe_interval, 3)
    t1 = time.time()
    ok = wait_until(
        lambda: all(_view_is(lab, s, survivors, set(victims)) for s in survivors), result.converge_bound_s, poll=0.2
    )
    _record_convergence(lab, result, ok, t1)
    return _one_leader(lab, result)


def pause(lab: Lab, victim: int) -> CellResult:
    """SIGSTOP ``victim`` (and its go-diss) until every survivor has logged it failed, then SIGCONT: it refutes
    and every view shows every member alive within heal_bound; the resumed member accuses nobody."""
    cfg = lab_config(lab)
    result = CellResult("pause", lab.mode, lab.n, lab.run_id)
    result.bound_s = round(bounds.crash_bound(cfg, lab.n), 3)
    if not warm_up(lab, result):
        return result
    _, seen, t0 = _fail_and_detect(lab, result, [victim], lab.pause)
    t1 = time.time()
    lab.resume(victim)
    result.notes["paused_s"] = round(t1 - t0, 3)
    # The kernel kept the paused member's TCP connections alive, so there is no retransmission stall.
    result.converge_bound_s = round(bounds.heal_bound(cfg, lab.n, 0.0), 3)
    everyone = sorted(lab.nodes)
    ok = wait_until(lambda: _all_alive(lab, everyone, everyone), result.converge_bound_s, poll=0.25)
    _record_convergence(lab, result, ok, t1)
    result.false_positives = _false_positives(lab, set(seen), t1, t0)
    result.false_positives_after_heal = len(_false_positives(lab, set(), math.inf, t1, since=t1))
    return _one_leader(lab, result)


def partition(lab: Lab, groups: Sequence[set[int]], settle_s: float | None = None) -> CellResult:
    """Cut the groups apart both ways (iptables DROP): each side logs the other side failed within the degraded
    bound and nobody on its own side; ``settle_s`` after the last detection (default bounds.settle) the cut
    heals, and every view then shows every member alive within heal_bound, with no member_failed anywhere."""
    label = "|".join(str(len(g)) for g in groups) + (" heal at once" if settle_s == 0 else "")
    return _split(lab, f"partition {label}", groups, lambda: lab.partition(groups), lab.heal, settle_s)


def vanish(lab: Lab, victim: int) -> CellResult:
    """The victim's link goes down (no reset, no answer): it and the rest see each other failed; after the
    link comes back every view shows every member alive within heal_bound."""
    rest = set(lab.nodes) - {victim}
    return _split(
        lab, "vanish", [rest, {victim}], lambda: lab.link_down(victim), lambda: lab.link_up(victim), settle_s=None
    )


def _split(
    lab: Lab,
    name: str,
    groups: Sequence[set[int]],
    cut: Callable[[], None],
    mend: Callable[[], None],
    settle_s: float | None,
) -> CellResult:
    cfg = lab_config(lab)
    settle = bounds.settle(cfg, lab.n) if settle_s is None else settle_s
    result = CellResult(name, lab.mode, lab.n, lab.run_id)
    result.bound_s = round(bounds.degraded_bound(cfg, lab.n), 3)
    result.notes["healthy_bound_s"] = round(bounds.crash_bound(cfg, lab.n), 3)
    if not warm_up(lab, result):
        return result
    side = {k: i for i, g in enumerate(groups) for k in g}
    pairs = {(a, b) for a in lab.nodes for b in lab.nodes if side[a] != side[b]}
    t0 = time.time()
    cut()
    seen = _wait_detected(lab, pairs, t0, result.bound_s)
    _record_detection(result, pairs, seen, t0)
    result.notes["settle_s"] = round(settle, 3)
    time.sleep(settle)
    t1 = time.time()
    mend()
    cut_s = t1 - t0
    result.notes["cut_s"] = round(cut_s, 3)
    result.converge_bound_s = round(bounds.heal_bound(cfg, lab.n, cut_s), 3)
    everyone = sorted(lab.nodes)
    ok = wait_until(lambda: _all_alive(lab, everyone, everyone), result.converge_bound_s, poll=0.25)
    _record_convergence(lab, result, ok, t1)
    # Only the far side may fail, and only while cut: anything after the heal is a false positive.
    result.false_positives = _false_positives(lab, set(seen), t1, t0)
    result.false_positives_after_heal = len(_false_positives(lab, set(), math.inf, t1, since=t1))
    revived = sum(1 for k in lab.nodes for ev in lab.nodes[k].events("member_alive") if ev.get("ts", 0) >= t1)
    result.notes["member_alive_after_heal"] = revived
    return _one_leader(lab, result)


def one_way(lab: Lab, src: int, dst: int, window_s: float | None = None) -> CellResult:
    """Packets from ``src`` never reach ``dst`` for a window: both stay reachable through the others (ping-req),
    so nobody may be declared failed, and all views stay all alive."""
    return _degraded_links(lab, f"one-way {src}->{dst}", lambda: lab.cut(src, dst), lab.heal, window_s)


def loss(lab: Lab, p: float, window_s: float | None = None) -> CellResult:
    """Packet loss ``p`` on every link for a window: no member_failed at all, and all alive once it clears."""
    return _degraded_links(lab, f"loss {round(p * 100)}%", lambda: lab.loss(p), lab.clear_loss, window_s)


def _degraded_links(
    lab: Lab, name: str, apply: Callable[[], None], clear: Callable[[], None], window_s: float | None
) -> CellResult:
    cfg = lab_config(lab)
    result = CellResult(name, lab.mode, lab.n, lab.run_id)
    window = window_s if window_s is not None else bounds.loss_window(cfg, lab.n)
    result.notes["window_s"] = round(window, 3)
    if not warm_up(lab, result):
        return result
    t0 = time.time()
    apply()
    time.sleep(window)
    counters = lab.loss_counters()
    suspected = [ev for k in lab.nodes for ev in lab.nodes[k].events("member_suspected") if ev.get("ts", 0) >= t0]
    not_alive = {k: v for k, v in lab.views().items() if v is None or set(v.values()) != {"ALIVE"}}
    clear()
    if counters["seen"]:
        result.notes["link_loss_measured"] = round(counters["dropped"] / counters["seen"], 4)
        result.notes["packets"] = counters
    result.notes["suspicions"] = len(suspected)
    result.notes["views_not_all_alive_at_end"] = not_alive
    if any(v is None or "DEAD" in v.values() for v in not_alive.values()):
        result.problems.append(f"views with a DEAD member (or no answer) at the end of the window: {not_alive}")
    result.false_positives = _false_positives(lab, set(), math.inf, t0)
    result.converge_bound_s = round(bounds.crash_bound(cfg, lab.n), 3)
    t1 = time.time()
    everyone = sorted(lab.nodes)
    ok = wait_until(lambda: _all_alive(lab, everyone, everyone), result.converge_bound_s, poll=0.25)
    _record_convergence(lab, result, ok, t1)
    return _one_leader(lab, result)


def restart_same_id(lab: Lab, victim: int, move: bool = False) -> CellResult:
    """SIGKILL ``victim``; once every survivor logged it failed, start it again with the same id (a new
    incarnation from its clock), at the same address or, with ``move``, at a new one: every view shows
    every member alive within rejoin_bound (and, moved, records the new address), and nobody fails anyone
    else."""
    cfg = lab_config(lab)
    result = CellResult("restart-new-address" if move else "restart-same-id", lab.mode, lab.n, lab.run_id)
    result.bound_s = round(bounds.crash_bound(cfg, lab.n), 3)
    if not warm_up(lab, result):
        return result
    pairs, _, t0 = _fail_and_detect(lab, result, [victim], lab.crash)
    if move:
        lab.move(victim)
    t1 = time.time()
    lab.start(victim)
    lab.wait_started([victim])
    result.notes["restart_s"] = round(time.time() - t1, 3)
    result.converge_bound_s = round(bounds.rejoin_bound(cfg, lab.n), 3)
    t2 = time.time()
    everyone = sorted(lab.nodes)
    where = lab.nodes[victim].addr

    def rejoined() -> bool:
        return _all_alive(lab, everyone, everyone) and all(
            (lab.addrs(s) or {}).get(str(victim)) == where for s in everyone
        )

    ok = wait_until(rejoined, result.converge_bound_s, poll=0.2)
    _record_convergence(lab, result, ok, t2)
    if not ok:
        result.notes["addrs_of_victim"] = {s: (lab.addrs(s) or {}).get(str(victim)) for s in everyone}
    result.false_positives = _false_positives(lab, pairs, t1, t0)
    return _one_leader(lab, result)


def churn(lab: Lab, per_round: int = 3, every_s: float = 10.0, for_s: float = 60.0) -> CellResult:
    """Every ``every_s`` for ``for_s``, SIGKILL ``per_round`` members and start them again at once (same id,
    same address, a new incarnation; node 1 is never restarted). No member that was never restarted is
    failed, no life that is still running is failed, and within churn_bound of the last restart every
    view shows every member alive. Failing a life that was killed is allowed (it did die), not required."""
    cfg = lab_config(lab)
    result = CellResult("churn", lab.mode, lab.n, lab.run_id)
    if not warm_up(lab, result):
        return result
    pool = sorted(lab.nodes)[1:]
    rounds = max(1, math.floor(for_s / every_s))
    t0 = time.time()
    restarted: set[int] = set()
    last = t0
    for r in range(rounds):
        time.sleep(max(0.0, t0 + r * every_s - time.time()))
        chosen = [pool[(r * per_round + i) % len(pool)] for i in range(min(per_round, len(pool)))]
        last = time.time()
        for k in chosen:
            lab.crash(k)
        for k in chosen:
            lab.start(k)
        lab.wait_started(chosen)
        restarted |= set(chosen)
    result.notes.update(
        rounds=rounds, restarted=sorted(restarted), restarts=sum(lab.nodes[k].starts - 1 for k in lab.nodes)
    )
    result.converge_bound_s = round(bounds.churn_bound(cfg, lab.n), 3)
    everyone = sorted(lab.nodes)
    left = result.converge_bound_s - (time.time() - last)
    ok = wait_until(lambda: _all_alive(lab, everyone, everyone), left, poll=0.25)
    _record_convergence(lab, result, ok, last)
    time.sleep(max(0.0, t0 + for_s - time.time()))  # the rest of the window still counts for false positives
    # A verdict is about the life (incarnation) it names; lives begin at their node_started incarnation.
    current = {k: max(int(ev.get("incarnation", 0)) for ev in lab.nodes[k].events("node_started")) for k in everyone}
    dead_lives = 0
    for k in everyone:
        for ev in lab.nodes[k].events("member_failed"):
            m, ts, inc = int(ev.get("member", 0)), float(ev.get("ts", 0.0)), int(ev.get("incarnation", 0))
            if ts < t0:
                continue
            if m in restarted and inc < current[m]:
                dead_lives += 1
            else:
                result.false_positives.append(f"{k}->{m}@{inc} {ts - t0:+.2f}s")
    result.notes["killed_lives_failed"] = dead_lives
    return _one_leader(lab, result)


def seed_down_join(lab: Lab, joiners: int = 2) -> CellResult:
    """Nodes 1..n-joiners run with a static list; the seed (node 1) is SIGKILLed, and the joiners start with
    ``--join`` naming node 1 first and node 2: every static survivor fails node 1 within the crash bound,
    the joiners are ALIVE in every live view within join_bound, and node 1, restarted with ``--join`` node 2,
    is back everywhere within rejoin_bound. Nobody else is failed."""
    cfg = lab_config(lab)
    n = lab.n
    first = n - joiners
    result = CellResult("seed-down-join", lab.mode, n, lab.run_id)
    result.bound_s = round(bounds.crash_bound(cfg, n), 3)
    if first < 3:
        result.problems.append(f"seed-down-join needs at least 3 static members, got {first} of {n}")
        return result
    if not warm_up(lab, result, first=first):
        return result
    seed, joining = 1, list(range(first + 1, n + 1))
    t0 = time.time()
    lab.crash(seed)
    for k in joining:
        lab.start(k, join=[seed, 2])
    lab.wait_started(joining)
    bound = bounds.join_bound(cfg, n, seeds_down=1)
    result.notes["join_bound_s"] = round(bound, 3)
    up = [k for k in lab.nodes if k != seed]
    joined = wait_until(lambda: _all_alive(lab, up, up), bound - (time.time() - t0), poll=0.2)
    result.notes["joined_s"] = round(time.time() - t0, 3) if joined else None
    if not joined:
        result.problems.append(f"joiners {joining} not ALIVE in every live view within {bound:.1f}s: {lab.views(up)}")
    pairs = {(s, seed) for s in range(2, first + 1)}
    seen = _wait_detected(lab, pairs, t0, result.bound_s)
    _record_detection(result, pairs, seen, t0)
    t1 = time.time()
    lab.start(seed, join=[2])
    lab.wait_started([seed])
    result.converge_bound_s = round(bounds.join_bound(cfg, n, seeds_down=0), 3)
    t2 = time.time()
    everyone = sorted(lab.nodes)
    ok = wait_until(lambda: _all_alive(lab, everyone, everyone), result.converge_bound_s, poll=0.2)
    _record_convergence(lab, result, ok, t2)
    # Joiners may fail the dead seed too (it was in the list they were given): allowed until its restart.
    allowed = {(k, seed) for k in lab.nodes if k != seed}
    result.false_positives = _false_positives(lab, allowed, t1, t0)
    return _one_leader(lab, result)


def godiss_killed(lab: Lab, killed: Sequence[int], victim: int) -> CellResult:
    """SIGKILL go-diss on ``killed`` (detectors stay up); after diss_restart_bound crash ``victim``: every
    survivor logs it failed within the crash bound, and nobody fails anyone else."""
    cfg = lab_config(lab)
    result = CellResult(f"godiss-killed {len(killed)}", lab.mode, lab.n, lab.run_id)
    result.bound_s = round(bounds.crash_bound(cfg, lab.n), 3)
    if not warm_up(lab, result):
        return result
    t0 = time.time()
    for k in killed:
        lab.kill_diss(k)
    restart = bounds.diss_restart_bound(cfg)
    result.notes["diss_restart_bound_s"] = round(restart, 3)
    back = wait_until(lambda: all(len(lab.nodes[k].pids()) > 1 for k in killed), restart, poll=0.1)
    result.notes["diss_back_s"] = round(time.time() - t0, 3) if back else None
    if not back:
        result.problems.append(f"go-diss not restarted within {restart:.2f}s on {sorted(killed)}")
    pairs, _, _ = _fail_and_detect(lab, result, [victim], lab.crash)
    result.false_positives = _false_positives(lab, pairs, math.inf, t0)
    return _one_leader(lab, result)


def _live(lab: Lab) -> list[int]:
    return [k for k in sorted(lab.nodes) if lab.nodes[k].running()]


def _one_leader(lab: Lab, result: CellResult) -> CellResult:
    """With the election on, every live member names the same live leader and term within leader_bound
    (measured once the cell's own checks are done); recorded in notes, a problem otherwise."""
    cfg = lab_config(lab)
    if not cfg.election or result.problems:
        return result  # a cell that could not even start has nothing to elect
    live = _live(lab)
    ids = {str(k) for k in live}
    seen: dict[int, tuple[str, int] | None] = {}

    def agreed() -> bool:
        seen.clear()
        seen.update({k: lab.leader(k) for k in live})
        beliefs = set(seen.values())
        return len(beliefs) == 1 and None not in beliefs and next(iter(beliefs))[0] in ids

    bound = bounds.leader_bound(cfg)
    t = time.time()
    if wait_until(agreed, bound, poll=0.25):
        leader, term = next(iter(seen.values()))  # type: ignore[misc]
        result.notes["leader"] = {"id": leader, "term": term, "agreed_after_s": round(time.time() - t, 3)}
    else:
        result.problems.append(f"no single live leader within {bound:.1f}s: {seen}")
    return result


def _record_convergence(lab: Lab, result: CellResult, ok: bool, since: float) -> None:
    result.converged = ok
    result.converge_s = round(time.time() - since, 3) if ok else None
    if not ok:
        result.notes["views"] = lab.views()
