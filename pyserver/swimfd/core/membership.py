"""The member table and its merge (precedence) rule.

Precedence follows SWIM (Das, Gupta, Motivala, DSN 2002) as written in
swim.proto: Alive(i) beats Suspect(j)/Alive(j) when i > j; Suspect(i) beats
Suspect(j) when i > j and Alive(j) when i >= j; Dead beats Alive/Suspect at the
same or lower incarnation. We extend this to a *total* order on
``(incarnation, rank)`` with rank ALIVE < SUSPECT < DEAD < LEFT, so that the
merge is a join on a lattice: applying any set of updates in any order, with
duplicates, yields the same view. LEFT outranks DEAD at equal incarnation
because the member's own word that it left is the better evidence (and a left
member must never be reported failed). A higher incarnation beats any state,
which is how a restarted member (same id, possibly a new address) comes back.

DEAD and LEFT records are kept as tombstones so stale gossip cannot resurrect
them; only the heartbeat detector's T_cleanup removes them (van Renesse 1998).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

from swimfd.pb import swim_pb2 as pb

T = TypeVar("T")

ALIVE = pb.ALIVE
SUSPECT = pb.SUSPECT
DEAD = pb.DEAD
LEFT = pb.LEFT
LIVE_STATES = frozenset((ALIVE, SUSPECT))
KNOWN_STATES = frozenset((ALIVE, SUSPECT, DEAD, LEFT))
RANK = {ALIVE: 0, SUSPECT: 1, DEAD: 2, LEFT: 3}  # precedence within one incarnation
NO_LABELS: Mapping[str, str] = MappingProxyType({})  # shared by the many members without labels
STATE_NAMES = {ALIVE: "alive", SUSPECT: "suspect", DEAD: "dead", LEFT: "left"}


def supersedes(new_incarnation: int, new_state: int, old_incarnation: int, old_state: int) -> bool:
    """True when the assertion (new_incarnation, new_state) overrides the recorded one."""
    return (new_incarnation, RANK[new_state]) > (old_incarnation, RANK[old_state])


@dataclass(slots=True)
class Record:
    """What one node believes about one member (including itself)."""

    id: str
    addr: str
    diss_addr: str
    incarnation: int
    state: int
    last_change: float
    priority: int = 0
    labels: Mapping[str, str] = field(default_factory=lambda: NO_LABELS)  # replaced, never mutated
    heartbeat: int = 0
    detector: str = ""  # for DEAD: which detector decided
    last_ack: float = -math.inf  # when this member last answered one of our probes (first-hand evidence)

    @classmethod
    def from_member(cls, m: pb.Member, state: int, now: float, detector: str = "") -> Record:
        # Interned strings: a simulator holds thousands of views of the same members.
        return cls(
            id=sys.intern(m.id),
            addr=sys.intern(m.addr),
            diss_addr=sys.intern(m.diss_addr),
            incarnation=m.incarnation,
            state=state,
            last_change=now,
            priority=m.priority,
            labels=dict(m.labels) if m.labels else NO_LABELS,
            detector=detector,
        )

    def to_member(self) -> pb.Member:
        m = pb.Member(
            id=self.id,
            addr=self.addr,
            diss_addr=self.diss_addr,
            incarnation=self.incarnation,
            state=self.state,
            heartbeat=self.heartbeat,
            priority=self.priority,
        )
        if self.labels:  # most members have none; skipping the map copy halves the cost
            m.labels.update(self.labels)
        return m


@dataclass(frozen=True, slots=True)
class Change:
    """The result of a merge that changed the table."""

    id: str
    old_state: int | None  # None: the member was unknown
    new_state: int
    incarnation: int
    addr_changed: bool
    old_incarnation: int = -1
    labels_changed: bool = False  # a newer life brought other labels (Node.set_labels on the member)


class SharedView:
    """An immutable member table that many nodes share as the base of their views.

    A simulator of n members with a static list holds n views of n members: n^2 records. Nodes
    bootstrapped from one SharedView (``Node.bootstrap_shared``) keep only the records that
    changed in their own view (copy-on-write), so memory grows with churn, not with n^2.
    Records in here are never mutated.
    """

    def __init__(self, members: Iterable[pb.Member], now: float) -> None:
        recs: dict[str, Record] = {}
        for m in members:
            if not m.id or m.id in recs:
                continue
            state = m.state if m.state in KNOWN_STATES else ALIVE
            rec = Record.from_member(m, state, now)
            recs[rec.id] = rec
        self._records = recs
        self.live_ids: tuple[str, ...] = tuple(r.id for r in recs.values() if r.state in LIVE_STATES)
        self._derived: dict[str, object] = {}

    def derived(self, key: str, build: Callable[[], T]) -> T:
        """A structure derived from this view, built once and shared by every node using the view
        (the heartbeat detector's id index, swimfd.core.heartbeat.HeartbeatBase)."""
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, member_id: str) -> bool:
        return member_id in self._records

    def get(self, member_id: str) -> Record | None:
        return self._records.get(member_id)

    def values(self) -> Iterable[Record]:
        return self._records.values()


class Membership:
    """The member table. Merge is the only way a record changes state.

    Optionally layered over a SharedView: records are copied into this table the first time
    they change (or are ``own``ed), and removals of shared records are remembered in ``_gone``.
    """

    def __init__(self, max_members: int) -> None:
        self._records: dict[str, Record] = {}  # this view's own records
        self._max_members = max_members
        self._live = 0  # ALIVE + SUSPECT records, kept current so no caller scans the table
        self._base: SharedView | None = None
        self._gone: set[str] = set()  # shared ids removed from this view
        self._shadowed = 0  # own records whose id is also in the base

    def attach_base(self, base: SharedView) -> None:
        """Layer this table over ``base``; allowed while the table holds at most this node's own record."""
        if self._base is not None or len(self._records) > 1:
            raise ValueError("a shared base can only be attached to a fresh table")
        self._base = base
        for mid in self._records:
            shared = base.get(mid)
            if shared is not None:
                self._shadowed += 1
                self._live -= shared.state in LIVE_STATES
        self._live += len(base.live_ids)

    def __len__(self) -> int:
        base = 0 if self._base is None else len(self._base) - self._shadowed - len(self._gone)
        return len(self._records) + base

    def __contains__(self, member_id: str) -> bool:
        return self.get(member_id) is not None

    def __iter__(self) -> Iterator[Record]:
        yield from self._records.values()
        if self._base is not None:
            own, gone = self._records, self._gone
            for rec in self._base.values():
                if rec.id not in own and rec.id not in gone:
                    yield rec

    def get(self, member_id: str) -> Record | None:
        """The record (read-only: mutate only through merge, remove or ``own``)."""
        rec = self._records.get(member_id)
        if rec is None and self._base is not None and member_id not in self._gone:
            rec = self._base.get(member_id)
        return rec

    def own(self, member_id: str) -> Record | None:
        """The record, copied out of the shared base first if need be, so that it may be mutated."""
        rec = self._records.get(member_id)
        if rec is not None or self._base is None or member_id in self._gone:
            return rec
        shared = self._base.get(member_id)
        if shared is None:
            return None
        rec = dataclasses.replace(shared)
        self._records[member_id] = rec
        self._shadowed += 1
        return rec

    @property
    def live_count(self) -> int:
        """Members believed alive or suspect (including self when it is live)."""
        return self._live

    def merge(self, member: pb.Member, state: int, now: float, detector: str = "") -> Change | None:
        """Apply one assertion about ``member``; return the change, or None when it is stale.

        ``state`` is the asserted state (callers have already mapped "DEAD from
        the subject itself" to LEFT). Unknown members are added, including as
        tombstones, so that the result does not depend on arrival order; a new
        member beyond ``max_members`` is refused (None).
        """
        rec = self.get(member.id)
        if rec is None:
            if len(self) >= self._max_members:
                return None
            rec = Record.from_member(member, state, now, detector if state == DEAD else "")
            self._records[rec.id] = rec
            if rec.id in self._gone:  # a shared record removed earlier comes back as our own
                self._gone.discard(rec.id)
                self._shadowed += 1
            if state in LIVE_STATES:
                self._live += 1
            return Change(member.id, None, state, member.incarnation, False)
        if not supersedes(member.incarnation, state, rec.incarnation, rec.state):
            return None
        rec = self.own(member.id) or rec
        old_state = rec.state
        old_incarnation = rec.incarnation
        addr_changed = labels_changed = False
        # Each life (incarnation) of a member has one set of addresses and metadata, carried by every
        # assertion about it; they change only with a newer life, so a same-incarnation assertion
        # (say, a forged or stale suspicion) cannot move a member and arrival order does not matter.
        if member.incarnation > rec.incarnation or not rec.addr:
            if member.addr:
                addr_changed = member.addr != rec.addr
                rec.addr = sys.intern(member.addr)
            if member.diss_addr:
                rec.diss_addr = sys.intern(member.diss_addr)
            if member.incarnation > rec.incarnation:
                rec.priority = member.priority
                labels_changed = dict(member.labels) != dict(rec.labels)
                rec.labels = dict(member.labels) if member.labels else NO_LABELS
        rec.incarnation = member.incarnation
        if old_state != state:
            rec.last_change = now
            self._live += (state in LIVE_STATES) - (old_state in LIVE_STATES)
        rec.state = state
        rec.detector = detector if state == DEAD else ""
        return Change(member.id, old_state, state, member.incarnation, addr_changed, old_incarnation, labels_changed)

    def remove(self, member_id: str) -> Record | None:
        """Forget a record entirely (tombstone cleanup)."""
        rec = self.get(member_id)
        if rec is None:
            return None
        if self._records.pop(member_id, None) is not None and self._base is not None and member_id in self._base:
            self._shadowed -= 1
        if self._base is not None and member_id in self._base:
            self._gone.add(member_id)
        if rec.state in LIVE_STATES:
            self._live -= 1
        return rec
