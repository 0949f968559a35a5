"""Per-member heartbeat state in parallel numpy arrays indexed by *slot*.

At 10,000 members a merge must stay in C, so every per-member field is one array and a merge is
a dozen vector operations. Member ids sit in a parallel object array (vectorised fancy indexing)
and an id -> slot dict.

Members bootstrapped from one static list share it as a :class:`HeartbeatBase`: its sorted ids,
their id -> slot index and the read-only arrays every table starts from. A table attached to a
base holds the base members in slots ``0 .. base_n - 1`` (base order, never moved) and copies a
shared array only when it first writes to it (copy-on-write), so n gossipers of n members do not
hold n id indexes: in a simulator of 10,000 members that index alone was about 1 MB per member.
A base member removed from the table keeps its slot, marked ``FREE``. Members outside the base
(joiners) take slots from ``base_n`` on, indexed in the table's own ``index``; removing one moves
the last such slot into the hole. New members wait in ``pending`` and enter the arrays in one
vectorised batch at the next use (``flush``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from swimfd.core.heartbeat.encoding import base_digest, ids_field
from swimfd.core.phi import PhiWindows

ALIVE = 0
DEAD = 1  # tombstone
FREE = 2  # a base member no longer tracked (its slot stays reserved)
INITIAL_CAPACITY = 16

# One int object per slot number, shared by every table in the process: a simulator holding
# 10,000 gossipers of 10,000 members would otherwise spend 28 bytes per entry on equal ints.
_SHARED_INTS: tuple[int, ...] = tuple(range(1 << 16))


def _shared_int(i: int) -> int:
    return _SHARED_INTS[i] if i < len(_SHARED_INTS) else i


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False  # a write to a shared array is a bug: own() it first
    return a


class HeartbeatBase:
    """A static member list shared, read-only, by every gossiper bootstrapped from it."""

    __slots__ = ("digest", "ids", "ids_arr", "index", "ones_i8", "ring_slots", "zeros_b", "zeros_f64", "zeros_u64")

    def __init__(self, ids: Iterable[str]) -> None:
        self.ids: tuple[str, ...] = tuple(sorted(set(ids)))
        n = len(self.ids)
        self.index: dict[str, int] = dict(zip(self.ids, range(n), strict=True))
        arr = np.empty(n, dtype=object)
        arr[:] = self.ids
        self.ids_arr = _frozen(arr)
        self.digest = base_digest(ids_field(list(self.ids))) if n else 0
        self.zeros_u64 = _frozen(np.zeros(n, dtype=np.uint64))
        self.zeros_f64 = _frozen(np.zeros(n, dtype=np.float64))
        self.zeros_b = _frozen(np.zeros(n, dtype=bool))
        self.ones_i8 = _frozen(np.full(n, ALIVE, dtype=np.int8))  # every base member starts alive
        self.ring_slots = _frozen(np.arange(n, dtype=np.int32))  # base order is id order

    def __len__(self) -> int:
        return len(self.ids)


_EMPTY_BASE = HeartbeatBase(())
_COW = ("ids", "inc", "state", "reported")  # arrays shared with the base until first written


class SlotTable:
    """The arrays; ``n`` slots (0 .. n-1) in use. ``phi`` (optional) is kept slot-aligned."""

    __slots__ = (
        "base",
        "base_n",
        "dead_at",
        "hb",
        "heard",
        "ids",
        "inc",
        "index",
        "last",
        "n",
        "n_free",
        "pending",
        "phi",
        "reported",
        "shared",
        "state",
    )

    def __init__(
        self,
        phi: PhiWindows | None = None,
        cap: int = INITIAL_CAPACITY,
        base: HeartbeatBase | None = None,
        now: float = 0.0,
    ) -> None:
        self.base = base or _EMPTY_BASE
        self.base_n = k = len(self.base)
        self.n = k
        self.n_free = 0
        self.index: dict[str, int] = {}  # members outside the base only
        self.pending: dict[str, tuple[int, float]] = {}  # member id -> (incarnation, tracked at)
        self.dead_at: dict[int, float] = {}  # slot -> when its tombstone was made
        self.phi = phi
        if k:
            self.ids = self.base.ids_arr
            self.inc = self.base.zeros_u64
            self.state = self.base.ones_i8
            self.reported = self.base.zeros_b
            self.shared: set[str] = set(_COW)
            self.hb = np.zeros(k, dtype=np.uint64)
            self.last = np.full(k, now, dtype=np.float64)  # local time of the last increase
            self.heard = np.zeros(k, dtype=bool)
            if phi is not None:
                phi.grow(k)
                phi.reset(slice(0, k))
            return
        self.shared = set()
        self.ids = np.empty(cap, dtype=object)  # member id per slot
        self.inc = np.zeros(cap, dtype=np.uint64)
        self.hb = np.zeros(cap, dtype=np.uint64)
        self.last = np.zeros(cap, dtype=np.float64)
        self.state = np.zeros(cap, dtype=np.int8)
        self.reported = np.zeros(cap, dtype=bool)  # failure already reported by this detector
        self.heard = np.zeros(cap, dtype=bool)  # an increase arrived since tracking: the next one is an interval

    # ------------------------------------------------------------------ lookups

    def slot(self, member_id: str) -> int | None:
        """The slot tracking ``member_id`` (alive or tombstone), None when not tracked."""
        s = self.base.index.get(member_id)
        if s is not None:
            return None if self.state[s] == FREE else s
        return self.index.get(member_id)

    def slots_of(self, ids: Iterable[str], count: int) -> np.ndarray:
        """Slot per id (-1 when not tracked), vectorised over a received id list."""
        get_base, get_own = self.base.index.get, self.index.get
        slots = np.fromiter((get_base(i, get_own(i, -1)) for i in ids), dtype=np.int64, count=count)
        if self.n_free:
            b = slots[(slots >= 0) & (slots < self.base_n)]
            if len(b) and (self.state[b] == FREE).any():
                inb = (slots >= 0) & (slots < self.base_n)
                free = np.zeros(len(slots), dtype=bool)
                free[inb] = self.state[slots[inb]] == FREE
                slots[free] = -1
        return slots

    @property
    def tracked_count(self) -> int:
        return self.n - self.n_free

    # ------------------------------------------------------------------ changes

    def own(self, *names: str) -> None:
        """Copy the named shared arrays before writing to them (copy-on-write)."""
        for name in names:
            if name in self.shared:
                self.shared.discard(name)
                setattr(self, name, getattr(self, name).copy())

    def add(self, member_id: str, incarnation: int, now: float) -> int:
        """A fresh alive slot for ``member_id``, counter 0, last increase ``now``."""
        self.own("inc", "state", "reported")
        slot = self.base.index.get(member_id)
        if slot is not None:  # a FREE base slot comes back
            self.n_free -= 1
        else:
            slot = self.n
            if slot == len(self.inc):
                self._grow(slot + max(16, slot // 4))  # 1.25x: at n = 10,000 memory matters more than copies
            self.own("ids")
            self.ids[slot] = member_id
            self.n += 1
            self.index[member_id] = _shared_int(slot)
        self.inc[slot] = incarnation
        self.hb[slot] = 0
        self.last[slot] = now
        self.state[slot] = ALIVE
        self.dead_at.pop(slot, None)
        self.reported[slot] = False
        self.heard[slot] = False
        if self.phi is not None:
            self.phi.reset(slot)
        return slot

    def flush(self) -> list[str]:
        """Move the pending members into fresh alive slots in one batch; returns their ids."""
        items, self.pending = self.pending, {}
        if self.base_n:  # rare: members tracked one by one on top of a base
            for member_id, (inc, at) in items.items():
                self.add(member_id, inc, at)
            return list(items)
        start, k = self.n, len(items)
        end = start + k
        if end > len(self.inc):
            self._grow(max(end, len(self.inc) + len(self.inc) // 4))
        ids = list(items)
        self.ids[start:end] = ids
        slots = _SHARED_INTS[start:end] if end <= len(_SHARED_INTS) else range(start, end)
        self.index.update(zip(ids, slots, strict=True))
        self.inc[start:end] = np.array([v[0] for v in items.values()], dtype=np.uint64)
        self.last[start:end] = np.array([v[1] for v in items.values()], dtype=np.float64)
        self.hb[start:end] = 0
        self.state[start:end] = ALIVE
        self.reported[start:end] = False
        self.heard[start:end] = False
        if self.phi is not None:
            self.phi.reset(slice(start, end))
        self.n = end
        return ids

    def remove(self, slot: int) -> None:
        """Free ``slot``. A base slot stays reserved (FREE); otherwise the last slot moves into it,
        so slot numbers of members outside the base may change."""
        self.dead_at.pop(slot, None)
        if slot < self.base_n:
            self.own("state", "reported")
            self.state[slot] = FREE
            self.hb[slot] = 0
            self.reported[slot] = False
            self.n_free += 1
            return
        self.own("ids", "inc", "state", "reported")
        member_id = self.ids[slot]
        last = self.n - 1
        if slot != last:
            moved = self.ids[last]
            self.ids[slot] = moved
            self.index[moved] = _shared_int(slot)
            for arr in (self.inc, self.hb, self.last, self.state, self.reported, self.heard):
                arr[slot] = arr[last]
            if last in self.dead_at:
                self.dead_at[slot] = self.dead_at.pop(last)
            if self.phi is not None:
                self.phi.move(last, slot)
        self.ids[last] = None
        self.n -= 1
        del self.index[member_id]

    def _grow(self, cap: int) -> None:
        def grown(a: np.ndarray) -> np.ndarray:
            b = np.zeros(cap, dtype=a.dtype) if a.dtype != object else np.empty(cap, dtype=object)
            b[: len(a)] = a
            return b

        self.shared.clear()  # every array is copied here
        self.ids = grown(self.ids)
        self.inc = grown(self.inc)
        self.hb = grown(self.hb)
        self.last = grown(self.last)
        self.state = grown(self.state)
        self.reported = grown(self.reported)
        self.heard = grown(self.heard)
        if self.phi is not None:
            self.phi.grow(cap)
