"""Metrics over a simulation's event log and ground truth.

Pure functions over plain data, so they can be checked on hand-built logs:

* detection latency per crashed member: seconds from the crash until the first
  live member, and until every live member, reported ``member_failed`` about it;
* false positives: ``member_failed`` reports about a member that was neither
  crashed nor gone (left) at that moment. A paused member is alive, so a report
  about it counts;
* load: messages and bytes per live member per second over a window;
* convergence: whether every live member holds the same view, and whether that
  view is the truth (exactly the live members, none dead or left).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from swimfd.core.events import EventName, MembershipEvent

FAILED = EventName.MEMBER_FAILED.value
_MAX_DISTINCT_VIEWS = 64  # enough to find the majority view after a heal


@dataclass(slots=True)
class Truth:
    """What really happened to each member (simulator bookkeeping)."""

    started: dict[str, float] = field(default_factory=dict)  # member -> time its process started
    crashed: dict[str, float] = field(default_factory=dict)  # member -> crash time
    left: dict[str, float] = field(default_factory=dict)  # member -> time it called leave
    end: float = 0.0

    def gone_at(self, member: str) -> float:
        """Time the member stopped being a live member (inf if it never did)."""
        return min(self.crashed.get(member, math.inf), self.left.get(member, math.inf))

    def alive_at(self, member: str, t: float) -> bool:
        return self.started.get(member, math.inf) <= t < self.gone_at(member)

    def live_at_end(self) -> list[str]:
        return [m for m in self.started if self.gone_at(m) > self.end]


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50, p95 and max by nearest rank; all None for an empty sample."""
    if not values:
        return {"p50": None, "p95": None, "max": None}
    s = sorted(values)

    def rank(p: float) -> float:
        return s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]

    return {"p50": rank(50), "p95": rank(95), "max": s[-1]}


@dataclass(frozen=True, slots=True)
class Detection:
    member: str
    crashed_at: float
    first_s: float | None  # None: nobody reported it
    all_s: float | None  # None: some live member never reported it
    missing: int  # live members that never reported it


def detections(events: Iterable[tuple[str, MembershipEvent]], truth: Truth) -> list[Detection]:
    """One Detection per crashed member, in crash order.

    Observers that must report a crash: members live at the end of the run that
    had started by the crash time (a later joiner learns the member is dead from
    its join reply and has no reason to report a failure).
    """
    seen: dict[str, dict[str, float]] = {m: {} for m in truth.crashed}
    for observer, ev in events:
        if ev.name != FAILED:
            continue
        per_observer = seen.get(ev.member)
        if per_observer is None or ev.at < truth.crashed[ev.member]:
            continue
        if observer not in per_observer:
            per_observer[observer] = ev.at
    live = truth.live_at_end()
    result = []
    for member, crashed_at in sorted(truth.crashed.items(), key=lambda kv: (kv[1], kv[0])):
        reports = seen[member]
        required = [o for o in live if o != member and truth.started.get(o, math.inf) <= crashed_at]
        missing = sum(1 for o in required if o not in reports)
        first = min(reports.values()) - crashed_at if reports else None
        every = None
        if required and missing == 0:
            every = max(reports[o] for o in required) - crashed_at
        result.append(Detection(member, crashed_at, first, every, missing))
    return result


@dataclass(frozen=True, slots=True)
class FalsePositives:
    count: int  # member_failed reports about members that were alive at the time
    members: int  # distinct members wrongly reported
    observers: int  # distinct members that made a wrong report


def false_positives(events: Iterable[tuple[str, MembershipEvent]], truth: Truth) -> FalsePositives:
    count = 0
    members: set[str] = set()
    observers: set[str] = set()
    for observer, ev in events:
        if ev.name == FAILED and ev.at < truth.gone_at(ev.member):
            count += 1
            members.add(ev.member)
            observers.add(observer)
    return FalsePositives(count, len(members), len(observers))


def live_node_seconds(truth: Truth, start: float, end: float) -> float:
    """Sum over members of the time each was running within [start, end]."""
    total = 0.0
    for member, s in truth.started.items():
        a = max(s, start)
        b = min(truth.gone_at(member), end)
        if b > a:
            total += b - a
    return total


@dataclass(frozen=True, slots=True)
class Convergence:
    converged: bool  # all live members agree, and the agreed view is exactly the live set
    agreeing: int  # live members holding the most common view
    total: int  # live members
    matches_truth: bool  # the most common view lists exactly the live members


def convergence(views: Iterable[tuple[str, Collection[str]]], live: Collection[str]) -> Convergence:
    """views: (observer, view) for every live observer; a view is a set of
    member ids (or a {member id: state} map, to compare states too) of the
    members the observer considers in the group, tombstones left out by the
    caller. Converged means every live observer has an equal view and it names
    exactly the live members.

    Views are compared by equality against a few representatives, so 10,000
    views of 10,000 members need no sorting.
    """
    reps: list[list] = []  # [view, count]; at most _MAX_DISTINCT_VIEWS kept
    total = 0
    for _observer, view in views:
        total += 1
        for rep in reps:
            if rep[0] == view:
                rep[1] += 1
                break
        else:
            if len(reps) < _MAX_DISTINCT_VIEWS:
                reps.append([view, 1])
    if total == 0:
        return Convergence(True, 0, 0, True)
    best, agreeing = max(reps, key=lambda r: r[1])
    live_set = set(live)
    matches = set(best) == live_set
    return Convergence(agreeing == total and matches, agreeing, total, matches)
