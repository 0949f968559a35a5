"""Figures of one run, computed from parsed logs and the times the harness acted.

Pure functions: the harness records when it killed, stopped or resumed a
member (epoch seconds, the same clock the nodes log with on one machine) and
which members stayed alive; everything else comes from the log lines.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from swimfd.bench.logparse import Event, StatsSample

RECOVERY_EVENTS = frozenset({"member_alive", "member_joined"})


@dataclass(frozen=True, slots=True)
class Fault:
    """A member made unresponsive (SIGKILL or SIGSTOP) at epoch time ``at``."""

    member: str
    at: float


@dataclass(frozen=True, slots=True)
class Percentiles:
    p50: float | None
    p95: float | None
    max: float | None

    @staticmethod
    def of(values: Sequence[float]) -> Percentiles:
        if not values:
            return Percentiles(None, None, None)
        xs = sorted(values)
        return Percentiles(quantile(xs, 0.5), quantile(xs, 0.95), xs[-1])


def quantile(sorted_xs: Sequence[float], q: float) -> float:
    """Nearest rank, as the simulator's metrics compute it, so real and simulated figures compare."""
    if not sorted_xs:
        raise ValueError("quantile of an empty sequence")
    return sorted_xs[max(0, math.ceil(q * len(sorted_xs)) - 1)]


@dataclass(frozen=True, slots=True)
class Detection:
    first: list[float]  # per fault: seconds until the first observer logged member_failed
    all: list[float]  # per fault that every observer detected: seconds until the last one did
    undetected: int  # faults that some observer never reported failed


def _earliest(
    events: Iterable[Event], names: frozenset[str], member: str, since: float, observers: set[str]
) -> dict[str, float]:
    """Per observer, the first matching line about ``member`` at or after ``since``."""
    seen: dict[str, float] = {}
    for e in events:
        if e.name in names and e.member == member and e.node in observers and e.ts >= since:
            seen[e.node] = min(e.ts, seen.get(e.node, e.ts))
    return seen


def detection(events: Sequence[Event], faults: Sequence[Fault], observers: Iterable[str]) -> Detection:
    """How long until the first and until every observer logged member_failed for each fault."""
    obs = set(observers)
    first: list[float] = []
    every: list[float] = []
    undetected = 0
    for f in faults:
        seen = _earliest(events, frozenset({"member_failed"}), f.member, f.at, obs - {f.member})
        if seen:
            first.append(min(seen.values()) - f.at)
        if obs - {f.member} and set(seen) >= obs - {f.member}:
            every.append(max(seen.values()) - f.at)
        else:
            undetected += 1
    return Detection(first, every, undetected)


def recovery(
    events: Sequence[Event], member: str, since: float, observers: Iterable[str]
) -> tuple[float | None, float | None]:
    """Seconds after ``since`` until the first and until every observer logged ``member`` alive again."""
    obs = set(observers) - {member}
    seen = _earliest(events, RECOVERY_EVENTS, member, since, obs)
    first = min(seen.values()) - since if seen else None
    every = max(seen.values()) - since if obs and set(seen) >= obs else None
    return first, every


def false_positives(events: Sequence[Event], faults: Sequence[Fault], start: float, end: float) -> int:
    """member_failed lines in [start, end] about members that were up: never faulted, or not yet."""
    fault_at = {f.member: f.at for f in faults}
    return sum(
        1
        for e in events
        if e.name == "member_failed"
        and start <= e.ts <= end
        and not (e.member in fault_at and e.ts >= fault_at[e.member])
    )


def per_member_hour(count: int, members: int, seconds: float) -> float | None:
    if members <= 0 or seconds <= 0:
        return None
    return count / (members * seconds / 3600.0)


@dataclass(frozen=True, slots=True)
class Traffic:
    msgs_per_member_s: float | None
    bytes_per_member_s: float | None
    members_measured: int


def traffic(stats: Sequence[StatsSample], start: float, end: float) -> Traffic:
    """Mean over members of the send rate between each member's first and last sample in [start, end].

    ``transport_stats`` counters are cumulative, so the rate of one member is
    (last - first) / (t_last - t_first); members with fewer than two samples
    in the window are left out.
    """
    by_node: dict[str, list[StatsSample]] = {}
    for s in stats:
        if start <= s.ts <= end:
            by_node.setdefault(s.node, []).append(s)
    msgs: list[float] = []
    byts: list[float] = []
    for samples in by_node.values():
        samples.sort(key=lambda s: s.ts)
        a, b = samples[0], samples[-1]
        dt = b.ts - a.ts
        if dt <= 0:
            continue
        msgs.append((b.msgs_sent - a.msgs_sent) / dt)
        byts.append((b.bytes_sent - a.bytes_sent) / dt)
    if not msgs:
        return Traffic(None, None, 0)
    return Traffic(sum(msgs) / len(msgs), sum(byts) / len(byts), len(msgs))
