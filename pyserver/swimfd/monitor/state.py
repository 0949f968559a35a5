"""The monitor's model of the cluster: who thinks what about whom, and when it changed.

Pure: every method takes the monitor's receive time ``now`` (epoch seconds) from
the caller, so tests drive it with a fake clock. Inputs are ``Snapshot``s (one
observer's reply, already decoded) and lost-contact notices; outputs are the
timeline ``Event``s and a JSON-ready ``view()`` for the page.

Timings of a failure are measured from the last time the monitor heard from the
failed member itself (its own Members reply), so they over-estimate by at most
one poll interval; a member the monitor never reached is timed from the first
suspicion or failure anyone reported about it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

ALIVE, SUSPECT, DEAD, LEFT = "ALIVE", "SUSPECT", "DEAD", "LEFT"
GONE = frozenset({DEAD, LEFT})
MISSING = "MISSING"  # a live observer that has no entry for the subject

# state an observer moved a subject to -> timeline kind
KIND_OF_STATE = {SUSPECT: "suspected", DEAD: "failed", ALIVE: "alive", LEFT: "left"}
MONITOR = "monitor"  # observer name of events the monitor itself saw (lost or regained contact)


def id_key(member_id: str) -> tuple[int, int | str]:
    """Numeric ids sort numerically (2 before 10), others after them by name."""
    return (0, int(member_id)) if member_id.isdigit() else (1, member_id)


@dataclass(frozen=True)
class MemberObs:
    """One entry of one observer's view."""

    subject: str
    addr: str
    state: str
    incarnation: int
    last_change: float  # the observer's own clock
    detector: str = ""  # which detector decided, when the node reports it
    source: str = ""  # local, gossip or go-diss, when the node reports it


@dataclass(frozen=True)
class Snapshot:
    """One observer's whole view, as one Members reply carried it."""

    observer: str
    mode: str
    leader: str  # "" when the observer knows no leader
    term: int
    members: tuple[MemberObs, ...]


@dataclass(frozen=True)
class Event:
    seq: int
    at: float  # monitor receive time
    kind: str  # joined, suspected, failed, alive, left, removed, leader, unreachable, reachable
    observer: str
    subject: str
    state: str = ""
    incarnation: int = 0
    detector: str = ""
    source: str = ""
    term: int = 0


@dataclass
class Cell:
    state: str
    incarnation: int
    last_change: float
    since: float  # monitor time this observer was first seen holding this state
    detector: str = ""
    source: str = ""


@dataclass
class Row:
    observer: str
    addr: str
    mode: str = ""
    leader: str = ""
    term: int = 0
    reachable: bool = True
    polled_at: float = 0.0  # last successful poll
    error: str = ""
    cells: dict[str, Cell] = field(default_factory=dict)


@dataclass
class Failure:
    """One failure of one member, from the first observer that reported it to the last."""

    subject: str
    incarnation: int
    onset: float
    first_at: float
    first_observer: str
    knew: dict[str, float] = field(default_factory=dict)
    all_at: float | None = None
    refuted_at: float | None = None  # the member was seen alive again (a false positive or a restart)

    def summary(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "incarnation": self.incarnation,
            "onset": self.onset,
            "first_observer": self.first_observer,
            "first_after": self.first_at - self.onset,
            "all_after": None if self.all_at is None else self.all_at - self.onset,
            "knew": dict(self.knew),
            "refuted": self.refuted_at is not None,
        }


@dataclass
class MonitorState:
    max_events: int = 1000
    rows: dict[str, Row] = field(default_factory=dict)  # observer id -> its latest view
    observer_at: dict[str, str] = field(default_factory=dict)  # polled address -> observer id
    events: deque[Event] = field(init=False)
    failures: list[Failure] = field(default_factory=list)
    heard_from: dict[str, float] = field(default_factory=dict)  # member id -> last reply from it
    first_bad: dict[str, float] = field(default_factory=dict)  # member id -> first suspicion since last heard from
    member_addr: dict[str, str] = field(default_factory=dict)  # member id -> its detector address, as views say
    seq: int = 0

    def __post_init__(self) -> None:
        self.events = deque(maxlen=self.max_events)

    # ------------------------------------------------------------ inputs ----

    def observe(self, addr: str, snap: Snapshot, now: float) -> list[Event]:
        """Record ``snap`` (the reply polled from ``addr``); returns the new timeline events."""
        self.observer_at[addr] = snap.observer
        self.heard_from[snap.observer] = now
        self.first_bad.pop(snap.observer, None)
        self.member_addr.update((m.subject, m.addr) for m in snap.members if m.addr)
        row = self.rows.get(snap.observer)
        out: list[Event] = []
        if row is None:
            # The first view of an observer is a baseline, not a list of changes.
            row = self.rows[snap.observer] = Row(snap.observer, addr, leader=snap.leader, term=snap.term)
        else:
            if not row.reachable:
                out.append(self._event(now, "reachable", MONITOR, snap.observer))
            out += self._diff(row, snap, now)
        row.addr, row.mode, row.reachable, row.polled_at, row.error = addr, snap.mode, True, now, ""
        row.leader, row.term = snap.leader, snap.term
        row.cells = {m.subject: self._cell(row.cells.get(m.subject), m, now) for m in snap.members}
        for m in snap.members:
            if m.state in (SUSPECT, DEAD):
                self.first_bad.setdefault(m.subject, now)
        self._track_failures(snap.observer, row, now)
        self._settle(now)
        return out

    def unreachable(self, addr: str, now: float, error: str) -> list[Event]:
        """The poll of ``addr`` failed; its row (if any) is stale from now on."""
        observer = self.observer_at.get(addr)
        row = self.rows.get(observer) if observer is not None else None
        if row is None:
            return []
        row.error = error
        if not row.reachable:
            return []
        row.reachable = False
        out = [self._event(now, "unreachable", MONITOR, row.observer)]
        self._settle(now)
        return out

    # ----------------------------------------------------------- queries ----

    def addresses(self) -> set[str]:
        """Every detector address polled or mentioned in some view: the monitor follows them all."""
        return set(self.observer_at) | set(self.member_addr.values())

    def live_observers(self) -> list[str]:
        return sorted((o for o, r in self.rows.items() if r.reachable), key=id_key)

    def subjects(self) -> list[str]:
        ids = {s for r in self.rows.values() for s in r.cells} | set(self.rows)
        return sorted(ids, key=id_key)

    def disputes(self) -> dict[str, dict[str, list[str]]]:
        """subject -> state -> live observers holding it, for every subject live observers disagree on."""
        out: dict[str, dict[str, list[str]]] = {}
        live = self.live_observers()
        for subject in self.subjects():
            by_state: dict[str, list[str]] = {}
            for o in live:
                cell = self.rows[o].cells.get(subject)
                by_state.setdefault(cell.state if cell else MISSING, []).append(o)
            if len(by_state) > 1:
                out[subject] = by_state
        return out

    def view(self, now: float) -> dict[str, Any]:
        """Everything the page shows, JSON-ready."""
        return {
            "now": now,
            "observers": sorted(self.rows, key=id_key),
            "subjects": self.subjects(),
            "rows": {o: _row_json(r) for o, r in self.rows.items()},
            "events": [asdict(e) for e in self.events],
            "failures": [f.summary() for f in self.failures],
            "disputes": self.disputes(),
        }

    # ---------------------------------------------------------- internals ----

    def _event(self, now: float, kind: str, observer: str, subject: str, **extra: Any) -> Event:
        self.seq += 1
        ev = Event(self.seq, now, kind, observer, subject, **extra)
        self.events.append(ev)
        return ev

    def _diff(self, row: Row, snap: Snapshot, now: float) -> list[Event]:
        out: list[Event] = []
        seen = set()
        for m in snap.members:
            seen.add(m.subject)
            old = row.cells.get(m.subject)
            extra = {"state": m.state, "incarnation": m.incarnation, "detector": m.detector, "source": m.source}
            if old is None:
                kind = "joined" if m.state == ALIVE else KIND_OF_STATE.get(m.state, "joined")
                out.append(self._event(now, kind, snap.observer, m.subject, **extra))
            elif old.state != m.state:
                out.append(
                    self._event(now, KIND_OF_STATE.get(m.state, m.state.lower()), snap.observer, m.subject, **extra)
                )
        for subject in sorted(set(row.cells) - seen, key=id_key):
            out.append(self._event(now, "removed", snap.observer, subject, state=row.cells[subject].state))
        if (snap.leader, snap.term) != (row.leader, row.term):
            out.append(self._event(now, "leader", snap.observer, snap.leader, term=snap.term))
        return out

    @staticmethod
    def _cell(old: Cell | None, m: MemberObs, now: float) -> Cell:
        since = old.since if old is not None and old.state == m.state else now
        return Cell(m.state, m.incarnation, m.last_change, since, m.detector, m.source)

    def _open_failure(self, subject: str) -> Failure | None:
        for f in reversed(self.failures):
            if f.subject == subject:
                return f if f.refuted_at is None else None
        return None

    def _track_failures(self, observer: str, row: Row, now: float) -> None:
        for subject, cell in row.cells.items():
            f = self._open_failure(subject)
            if cell.state in GONE:
                if f is None and cell.state == DEAD:
                    onset = self.heard_from.get(subject, self.first_bad.get(subject, cell.since))
                    f = Failure(subject, cell.incarnation, onset, now, observer)
                    self.failures.append(f)
                if f is not None:
                    f.knew.setdefault(observer, now)
            elif cell.state == ALIVE and f is not None and cell.incarnation > f.incarnation:
                f.refuted_at = now
        # A member that answers the monitor itself is alive again.
        f = self._open_failure(observer)
        if f is not None:
            f.refuted_at = now

    def _settle(self, now: float) -> None:
        """Close 'all knew' for every open failure that every live observer now agrees on."""
        live = self.live_observers()
        for f in self.failures:
            if f.all_at is not None or f.refuted_at is not None:
                continue
            others = [o for o in live if o != f.subject]
            if others and all(o in f.knew for o in others):
                f.all_at = max(f.knew[o] for o in others)


def _row_json(row: Row) -> dict[str, Any]:
    return {
        "observer": row.observer,
        "addr": row.addr,
        "mode": row.mode,
        "leader": row.leader,
        "term": row.term,
        "reachable": row.reachable,
        "polled_at": row.polled_at,
        "error": row.error,
        "cells": {s: asdict(c) for s, c in row.cells.items()},
    }
