"""Per-member heartbeat state in parallel numpy arrays indexed by *slot*.

At 10,000 members a merge must stay in C, so every per-member field is one array and a merge is
a dozen vector operations. Member ids sit in a parallel object array (vectorised fancy indexing)
and an id -> slot dict. Slot 0 is the owner; slots stay dense (removing one moves the last into
the hole). New members wait in ``pending`` and enter the arrays in one vectorised batch at the
next use (``flush``): a bootstrap tracks n members one call at a time, n gossipers at once in a
simulator.
"""

from __future__ import annotations

import numpy as np

from swimfd.core.phi import PhiWindows

ALIVE = 0
DEAD = 1  # tombstone
INITIAL_CAPACITY = 16

# One int object per slot number, shared by every table in the process: a simulator holding
# 10,000 gossipers of 10,000 members would otherwise spend 28 bytes per entry on equal ints.
_SHARED_INTS: tuple[int, ...] = tuple(range(1 << 16))


def _shared_int(i: int) -> int:
    return _SHARED_INTS[i] if i < len(_SHARED_INTS) else i


class SlotTable:
    """The arrays; ``n`` slots (0 .. n-1) in use. ``phi`` (optional) is kept slot-aligned."""

    __slots__ = ("dead_at", "hb", "heard", "ids", "inc", "index", "last", "n", "pending", "phi", "reported", "state")

    def __init__(self, phi: PhiWindows | None = None, cap: int = INITIAL_CAPACITY) -> None:
        self.n = 0
        self.ids = np.empty(cap, dtype=object)  # member id per slot
        self.index: dict[str, int] = {}
        self.pending: dict[str, tuple[int, float]] = {}  # member id -> (incarnation, tracked at)
        self.inc = np.zeros(cap, dtype=np.uint64)
        self.hb = np.zeros(cap, dtype=np.uint64)
        self.last = np.zeros(cap, dtype=np.float64)  # local time of the last increase
        self.state = np.zeros(cap, dtype=np.int8)
        self.dead_at = np.zeros(cap, dtype=np.float64)  # when the tombstone was made
        self.reported = np.zeros(cap, dtype=bool)  # failure already reported by this detector
        self.heard = np.zeros(cap, dtype=bool)  # an increase arrived since tracking: the next one is an interval
        self.phi = phi

    def add(self, member_id: str, incarnation: int, now: float) -> int:
        """A fresh alive slot for ``member_id``, counter 0, last increase ``now``."""
        slot = self.n
        if slot == len(self.inc):
            self._grow(slot + max(16, slot // 4))  # 1.25x: at n = 10,000 memory matters more than copies
        self.ids[slot] = member_id
        self.n += 1
        self.index[member_id] = _shared_int(slot)
        self.inc[slot] = incarnation
        self.hb[slot] = 0
        self.last[slot] = now
        self.state[slot] = ALIVE
        self.dead_at[slot] = 0.0
        self.reported[slot] = False
        self.heard[slot] = False
        if self.phi is not None:
            self.phi.reset(slot)
        return slot

    def flush(self) -> list[str]:
        """Move the pending members into fresh alive slots in one batch; returns their ids."""
        items, self.pending = self.pending, {}
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
        self.dead_at[start:end] = 0.0
        self.reported[start:end] = False
        self.heard[start:end] = False
        if self.phi is not None:
            self.phi.reset(slice(start, end))
        self.n = end
        return ids

    def remove(self, slot: int) -> None:
        """Free ``slot``; the last slot moves into it, so slot numbers of others may change."""
        member_id = self.ids[slot]
        last = self.n - 1
        if slot != last:
            moved = self.ids[last]
            self.ids[slot] = moved
            self.index[moved] = _shared_int(slot)
            for arr in (self.inc, self.hb, self.last, self.state, self.dead_at, self.reported, self.heard):
                arr[slot] = arr[last]
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

        self.ids = grown(self.ids)
        self.inc = grown(self.inc)
        self.hb = grown(self.hb)
        self.last = grown(self.last)
        self.state = grown(self.state)
        self.dead_at = grown(self.dead_at)
        self.reported = grown(self.reported)
        self.heard = grown(self.heard)
        if self.phi is not None:
            self.phi.grow(cap)
