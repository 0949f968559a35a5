"""The van Renesse heartbeat gossiper: one member's heartbeat list as a pure state machine.

Every member keeps, per known member, ``(incarnation, heartbeat counter, local time of the last
increase)``. Each gossip round (``gossip_interval``) it bumps its own counter and sends its whole
list of *alive* members, as parallel arrays in a ``pb.HeartbeatGossip``, to ``gossip_fanout``
targets chosen by :mod:`swimfd.core.target_selection`. A receiver keeps, per member, the highest counter
of the highest incarnation; a higher incarnation resets the entry (the member restarted).

Failure: a member whose counter has not increased for ``T_fail`` (``heartbeat_detector="fixed"``),
or whose phi exceeds ``phi_threshold`` (``"phi"``, :mod:`swimfd.core.phi`), is reported once in
``HeartbeatStep.failed`` and kept as a *tombstone*: it is no longer gossiped, and gossip carrying
its current incarnation is ignored whatever the counter, so stale copies still circulating cannot
resurrect it. (Ignoring *any* counter at that incarnation is deliberate: after a correct decision
the counter cannot move, and after a wrong one the member learns it was declared dead through
SWIM or a notice and refutes with a higher incarnation, which is the only thing that revives a
tombstone.) ``T_cleanup`` after the tombstone was made (default ``2 * T_fail``) the entry is
forgotten and reported in ``HeartbeatStep.removed``. ``mark_dead`` makes the same tombstone for
decisions taken elsewhere (SWIM, dissemination notices).

In ``hybrid`` mode an expiry is evidence, not a verdict (swimfd.core.hybrid, rule d): the member
is reported in ``failed`` once per staleness episode but stays tracked and gossiped, so that later
progress can still veto the SWIM suspicion; the tombstone comes with SWIM's ``mark_dead``.

``T_fail`` is ``config.t_fail`` or, when that is None, :func:`~swimfd.core.heartbeat.tfail.derive_t_fail`
for the current number of tracked members, tombstones included until cleanup (recomputed whenever it changes).

Pauses: the gossiper asks to be ticked at least once per ``gossip_interval``. A tick more than two
intervals after the previous one means this process was not running (SIGSTOP, a suspended VM), so
the time beyond one interval is not counted as anyone's silence; otherwise a member resuming after
a pause longer than ``T_fail`` would declare everyone failed. The others have meanwhile declared
it failed; the node tells it so when it gossips (``Node._tell_if_dead``), and it restarts with a
higher incarnation.

Rounds are global: round ``r`` starts at ``r * gossip_interval`` on the core's clock, so members
sharing a time base share round numbers, which the round-robin schedules and ``sequence_check``
rely on.

Performance: state lives in a slot table (:mod:`.storage`), so a merge is a dozen vector
operations. Outgoing id lists are the sorted ring, identical on every member with the same view;
a receiver recognises its own ring's id list by comparing serialized bytes (one memcmp), and the
last different list by a 64-bit digest, instead of looking up every id. Outgoing messages are
parsed from cached wire bytes of the ids and incarnations fields (:mod:`.encoding`).

Pure: no clock, sockets, logging or global randomness; the rng is injected.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from swimfd.core.config import Config
from swimfd.core.heartbeat import encoding
from swimfd.core.heartbeat.encoding import U64_MAX, check_incarnation
from swimfd.core.heartbeat.storage import ALIVE, DEAD, INITIAL_CAPACITY, SlotTable
from swimfd.core.heartbeat.tfail import derive_t_fail
from swimfd.core.phi import PhiWindows, threshold_z
from swimfd.core.target_selection import expected_senders, select_targets
from swimfd.pb import swim_pb2 as pb

_SEQ_GRACE_ROUNDS = 2  # round r's expected gossip is checked when round r + 2 starts


class _Mapping(NamedTuple):
    """Where the entries of one received id list live in our arrays."""

    slots: np.ndarray  # slot per entry, -1 when unknown
    unknown: bool  # some entry is unknown
    self_pos: np.ndarray  # entries that are ourselves


@dataclass(slots=True)
class HeartbeatStep:
    gossip: list[tuple[str, pb.HeartbeatGossip]] = field(default_factory=list)  # (target id, body); shared body
    failed: list[str] = field(default_factory=list)  # heartbeat stale for T_fail (or phi > threshold); once each
    removed: list[str] = field(default_factory=list)  # tombstones older than T_cleanup, now forgotten
    progressed: list[str] = field(default_factory=list)  # counter (or incarnation) increased in this call
    unknown: list[str] = field(default_factory=list)  # ids present in gossip but not tracked
    missed: list[str] = field(default_factory=list)  # sequence_check: expected gossip did not arrive


class HeartbeatGossiper:
    """Heartbeat list of one member; see the module docstring for the protocol."""

    def __init__(self, config: Config, self_id: str, rng: random.Random, now: float) -> None:
        self._cfg = config
        self._self_id = self_id
        self._rng = rng
        self._interval = config.gossip_interval
        # In hybrid mode T_fail expiry is only evidence for a SWIM suspicion (swimfd.core.hybrid):
        # the member stays tracked so later progress can veto; SWIM's verdict arrives as mark_dead.
        self._tombstone_on_fail = config.mode != "hybrid"
        self._phi: PhiWindows | None = None
        self._phi_z = 0.0
        if config.heartbeat_detector == "phi":
            self._phi = PhiWindows(config.phi_window, config.phi_min_std, INITIAL_CAPACITY, config.phi_acceptable_pause)
            self._phi_z = threshold_z(config.phi_threshold)
        self._s = SlotTable(self._phi)  # slot 0 is self
        self._ring: list[str] = []  # sorted ids of alive members, self included
        self._ring_slots: np.ndarray | None = None  # slot of each ring entry (lazy)
        self._ring_block: bytes | None = None  # wire bytes of the ring's ids field (lazy)
        self._incs_field: bytes | None = None  # wire bytes of the ring's incarnations field (lazy)
        self._foreign: tuple[int, int, int, _Mapping] | None = None  # (ids bytes, count, digest, mapping)
        self._ring_mapping: _Mapping | None = None
        self._t_fail_n = -1
        self._t_fail = 0.0
        self._deadline: float | None = None  # cached earliest fail/cleanup deadline
        self._round = self._round_of(now)
        self._next_gossip = (self._round + 1) * self._interval
        self._last_tick = now
        self._seen: dict[int, set[str]] = {}  # sequence_check: round -> senders heard
        self._checked_round = self._round  # rounds <= this are already checked
        self._add_slot(self_id, 0, now)

    # ------------------------------------------------------------------ public API

    @property
    def t_fail(self) -> float:
        if self._cfg.t_fail is not None:
            return self._cfg.t_fail
        if self._s.pending:
            self._flush()
        # Tombstones count until cleanup: the survivors' staleness built up while the failed members
        # were in the group, so T_fail must not shrink the moment they are declared (at n = 4 -> 2
        # it fell from 6.5 s to 1 s and declared the last live peer failed with them).
        n = max(1, self._s.n)
        if n != self._t_fail_n:
            self._t_fail = derive_t_fail(n, self._interval, self._cfg.gossip_fanout, self._cfg.p_mistake)
            self._t_fail_n = n
        return self._t_fail

    @property
    def t_cleanup(self) -> float:
        return self._cfg.t_cleanup if self._cfg.t_cleanup is not None else 2.0 * self.t_fail

    def track(self, member_id: str, incarnation: int, now: float) -> None:
        """Start monitoring ``member_id``; a higher incarnation restarts (and revives) it."""
        if type(incarnation) is not int or not 0 <= incarnation <= U64_MAX:  # inline: hot in bootstraps
            check_incarnation(incarnation)
        slot = self._s.index.get(member_id)
        if member_id == self._self_id:
            if incarnation > int(self._s.inc[0]):
                self._s.inc[0] = incarnation
                self._incs_field = None
            return
        if slot is None:
            pending = self._s.pending.get(member_id)
            if pending is None or incarnation > pending[0]:
                self._s.pending[member_id] = (incarnation, now)
            return
        if incarnation > int(self._s.inc[slot]):
            self._restart(slot, incarnation, 0, now)

    def mark_dead(self, member_id: str, incarnation: int, now: float) -> None:
        """Tombstone ``member_id`` at ``incarnation`` (decided elsewhere). Does not report it failed."""
        incarnation = check_incarnation(incarnation)
        if member_id == self._self_id:
            return  # our own refutation is the node's business
        if self._s.pending:
            self._flush()
        slot = self._s.index.get(member_id)
        if slot is None:
            slot = self._add_slot(member_id, incarnation, now)
        elif incarnation < int(self._s.inc[slot]):
            return  # it already restarted
        elif incarnation > int(self._s.inc[slot]):
            self._s.inc[slot] = incarnation
            self._s.hb[slot] = 0
        if self._s.state[slot] != DEAD:
            self._bury(slot, now)
        self._s.reported[slot] = True

    def forget(self, member_id: str) -> None:
        """Drop every trace of ``member_id`` (left or removed)."""
        if self._s.pending.pop(member_id, None) is not None:
            return
        slot = self._s.index.get(member_id)
        if slot is None or member_id == self._self_id:
            return
        self._remove_slot(slot)

    def counter(self, member_id: str) -> int | None:
        if self._s.pending:
            self._flush()
        slot = self._s.index.get(member_id)
        return None if slot is None else int(self._s.hb[slot])

    def incarnation(self, member_id: str) -> int | None:
        if self._s.pending:
            self._flush()
        slot = self._s.index.get(member_id)
        return None if slot is None else int(self._s.inc[slot])

    def is_tombstone(self, member_id: str) -> bool:
        if self._s.pending:
            self._flush()
        slot = self._s.index.get(member_id)
        return slot is not None and self._s.state[slot] == DEAD

    def staleness(self, member_id: str, now: float) -> float | None:
        """Seconds since ``member_id``'s counter last increased (None when not tracked)."""
        if self._s.pending:
            self._flush()
        slot = self._s.index.get(member_id)
        return None if slot is None else now - float(self._s.last[slot])

    def stale_members(self, older_than: float, now: float) -> list[str]:
        """Tracked members (self excluded) whose counter has not increased for ``older_than`` seconds.

        One vectorised pass; the hybrid rule (swimfd.core.hybrid) uses it for its early probes.
        Tombstones are not tracked members and are left out.
        """
        if self._s.pending:
            self._flush()
        n = self._s.n
        if n <= 1:
            return []
        stale = (self._s.last[1:n] <= now - older_than) & (self._s.state[1:n] == ALIVE)
        return self._s.ids[np.flatnonzero(stale) + 1].tolist()

    def max_staleness(self, now: float) -> float:
        """Seconds since the stalest alive tracked member's counter last increased (0 with none; metrics)."""
        if self._s.pending:
            self._flush()
        n = self._s.n
        alive = self._s.state[1:n] == ALIVE
        if n <= 1 or not alive.any():
            return 0.0
        return max(now - float(self._s.last[1:n][alive].min()), 0.0)

    def phi(self, member_id: str, now: float) -> float | None:
        """Current phi of ``member_id`` (phi detector only; None with too few samples)."""
        if self._s.pending:
            self._flush()
        slot = self._s.index.get(member_id)
        if slot is None or self._phi is None:
            return None
        return self._phi.phi(slot, now - float(self._s.last[slot]))

    def tracked(self) -> list[str]:
        """Alive members in ring order (self included)."""
        if self._s.pending:
            self._flush()
        return list(self._ring)

    def next_deadline(self) -> float:
        if self._s.pending:
            self._flush()
        if self._deadline is None:
            self._deadline = self._earliest_deadline()
        return min(self._next_gossip, self._deadline)

    def tick(self, now: float) -> HeartbeatStep:
        """Gossip if a round started, then report failures and remove expired tombstones."""
        if self._s.pending:
            self._flush()
        step = HeartbeatStep()
        # next_deadline is never more than one interval away, so a tick later than that means this
        # process was not running (SIGSTOP, a suspended VM): its own silence, not the members',
        # explains the missing increases. Without this, a member resuming after a pause longer
        # than T_fail declared every other member failed and then gossiped to nobody.
        overdue = now - self._last_tick - self._interval
        self._last_tick = now
        if overdue > self._interval:
            self._excuse(overdue, now)
        self._detect(now, step)  # first, so that members failing now are not gossiped any more
        if now >= self._next_gossip:
            # now >= (round + 1) * interval, but floor(now / interval) can round down by one ulp.
            self._round = max(self._round + 1, self._round_of(now))
            self._next_gossip = (self._round + 1) * self._interval
            self._s.hb[0] += np.uint64(1)
            self._s.last[0] = now
            step.gossip = self._gossip(now)
            if self._cfg.gossip_target == "sequence_check":
                step.missed = self._check_sequence()
        return step

    def on_gossip(self, sender: str, msg: pb.HeartbeatGossip, now: float) -> HeartbeatStep:
        """Merge a received heartbeat list. Raises HeartbeatGossipError (state unchanged) if malformed."""
        if self._s.pending:
            self._flush()
        encoding.check_gossip(msg, self._cfg.max_members)
        ids = msg.ids
        k = len(ids)
        step = HeartbeatStep()
        if self._cfg.gossip_target == "sequence_check":
            self._note_sender(sender, int(msg.round))
        if k == 0:
            return step
        in_inc = np.array(msg.incarnations, dtype=np.uint64)
        in_hb = np.array(msg.heartbeats, dtype=np.uint64)
        mapping = self._slots_for(msg)
        slots, self_pos = mapping.slots, mapping.self_pos
        if mapping.unknown:
            unknown = slots < 0
            step.unknown = [ids[i] for i in np.flatnonzero(unknown).tolist()]
            keep = ~unknown
            slots, in_inc, in_hb = slots[keep], in_inc[keep], in_hb[keep]
            self_pos = np.flatnonzero(slots == 0)
        cur_inc = self._s.inc[slots]
        same_up = (in_inc == cur_inc) & (in_hb > self._s.hb[slots])
        if self._s.n != len(self._ring):  # some tombstones: they ignore their current incarnation
            same_up &= self._s.state[slots] == ALIVE
        newer = in_inc > cur_inc
        any_newer = bool(newer.any())
        upd = same_up | newer if any_newer else same_up
        upd[self_pos] = False  # only we advance our own entry
        if not upd.any():
            return step
        us = slots[upd]
        if self._phi is not None:
            # Only the gap between two arrivals is an inter-arrival sample; a restart starts afresh.
            grow = same_up[upd]
            sample = us[grow & self._s.heard[us]]
            self._phi.add(sample, now - self._s.last[sample])
            if not grow.all():
                self._phi.reset(us[~grow])
        self._s.heard[us] = True
        # Duplicate ids in one message: fancy assignment keeps the last, which still passed the
        # comparison above, so counters and incarnations never move backwards.
        self._s.hb[us] = in_hb[upd]
        self._s.last[us] = now
        # Progress only moves fixed deadlines later, so the cached (earlier) one stays a safe time
        # to tick; restarts, phi refits and ended staleness episodes can move one earlier.
        if any_newer or self._phi is not None:
            self._deadline = None
        if self._s.reported[us].any():  # hybrid: progress ends a staleness episode
            self._s.reported[us] = False
            self._deadline = None
        if any_newer:
            self._s.inc[us] = in_inc[upd]
            restarted = us[newer[upd]]
            revived = restarted[self._s.state[restarted] == DEAD]
            for slot in revived.tolist():
                self._revive(int(slot))
            self._incs_field = None  # incarnations changed
        step.progressed = self._s.ids[us].tolist()
        return step

    # ------------------------------------------------------------------ gossip

    def _gossip(self, now: float) -> list[tuple[str, pb.HeartbeatGossip]]:
        ring = self._ring
        if len(ring) < 2:
            return []
        self_pos = bisect.bisect_left(ring, self._self_id)
        targets = select_targets(
            self._cfg.gossip_target, ring, self_pos, self._round, self._cfg.gossip_fanout, self._rng
        )
        # Parsing cached field bytes is as fast as copying a cached message, and a cached message
        # would cost 30 bytes per member more.
        hb = self._s.hb[self._ensure_ring_slots()]
        msg = encoding.build(self._ensure_ring_block(), self._ensure_incs_field(), hb, self._round)
        return [(t, msg) for t in targets]

    def _ensure_ring_slots(self) -> np.ndarray:
        if self._ring_slots is None:
            self._ring_slots = np.fromiter(
                map(self._s.index.__getitem__, self._ring), dtype=np.int64, count=len(self._ring)
            )
        return self._ring_slots

    def _ensure_incs_field(self) -> bytes:
        if self._incs_field is None:
            self._incs_field = encoding.incarnations_field(self._s.inc[self._ensure_ring_slots()])
        return self._incs_field

    def _ensure_ring_block(self) -> bytes:
        if self._ring_block is None:
            self._ring_block = encoding.ids_field(self._ring)
        return self._ring_block

    def _slots_for(self, msg: pb.HeartbeatGossip) -> _Mapping:
        """Slot of every id in ``msg`` (-1 when unknown), reusing a cached mapping when possible."""
        k = len(msg.ids)
        data = msg.SerializeToString()
        if k == len(self._ring) and data.startswith(self._ensure_ring_block()):
            if self._ring_mapping is None:
                self_pos = np.array([bisect.bisect_left(self._ring, self._self_id)])
                self._ring_mapping = _Mapping(self._ensure_ring_slots(), False, self_pos)
            return self._ring_mapping
        foreign = self._foreign
        if foreign is not None and k == foreign[1] and encoding.digest(data[: foreign[0]]) == foreign[2]:
            return foreign[3]
        slots = np.fromiter(map(self._s.index.get, msg.ids, itertools.repeat(-1)), dtype=np.int64, count=k)
        mapping = _Mapping(slots, bool((slots < 0).any()), np.flatnonzero(slots == 0))
        # A 64-bit digest of the ids field's bytes identifies the list without keeping a copy of it.
        ids_len = encoding.ids_length(msg, data)
        if ids_len is not None:
            self._foreign = (ids_len, k, encoding.digest(data[:ids_len]), mapping)
        return mapping

    # ------------------------------------------------------------------ detection

    def _fail_deadlines(self) -> np.ndarray:
        """Per slot: time at which it counts as failed (inf for self, tombstones, unused slots)."""
        n = self._s.n
        last = self._s.last[:n]
        if self._phi is None:
            dl = last + self.t_fail
        else:
            timeouts = self._phi.timeouts(slice(0, n), self._phi_z)
            timeouts = np.where(np.isnan(timeouts), self.t_fail, timeouts)
            dl = last + timeouts
        dl = np.where((self._s.state[:n] == ALIVE) & ~self._s.reported[:n], dl, np.inf)
        dl[0] = np.inf
        return dl

    def _cleanup_deadlines(self) -> np.ndarray:
        n = self._s.n
        return np.where(self._s.state[:n] == DEAD, self._s.dead_at[:n] + self.t_cleanup, np.inf)

    def _earliest_deadline(self) -> float:
        if self._s.n <= 1:
            return math.inf
        return float(min(self._fail_deadlines().min(), self._cleanup_deadlines().min()))

    def _detect(self, now: float, step: HeartbeatStep) -> None:
        if self._deadline is None:
            self._deadline = self._earliest_deadline()
        if self._deadline > now or self._s.n <= 1:
            return
        # Boundary: a member whose counter has not moved for exactly T_fail is failed.
        failed = np.flatnonzero(self._fail_deadlines() <= now)
        if len(failed):
            self._s.reported[failed] = True
            step.failed = self._s.ids[failed].tolist()
            if self._tombstone_on_fail:
                for slot in failed.tolist():
                    self._bury(slot, now)
        expired = np.flatnonzero(self._cleanup_deadlines() <= now)
        if len(expired):
            step.removed = self._s.ids[expired].tolist()
            for member_id in step.removed:
                self._remove_slot(self._s.index[member_id])
        self._deadline = None

    def _excuse(self, overdue: float, now: float) -> None:
        """Do not count ``overdue`` seconds, during which we were not running, as anyone's silence."""
        n = self._s.n
        if n > 1:
            np.minimum(self._s.last[1:n] + overdue, now, out=self._s.last[1:n])
        self._deadline = None

    # ------------------------------------------------------------------ sequence check

    def _note_sender(self, sender: str, round_no: int) -> None:
        # Only rounds that can still be checked are worth remembering; bounds memory under floods.
        if self._checked_round < round_no <= self._round + _SEQ_GRACE_ROUNDS:
            self._seen.setdefault(round_no, set()).add(sender)

    def _check_sequence(self) -> list[str]:
        upto = self._round - _SEQ_GRACE_ROUNDS
        first = max(self._checked_round + 1, upto - _SEQ_GRACE_ROUNDS)  # don't replay a long outage
        missed: dict[str, None] = {}
        ring = self._ring
        if len(ring) >= 2:
            self_pos = bisect.bisect_left(ring, self._self_id)
            for r in range(first, upto + 1):
                heard = self._seen.get(r, set())
                for sender in expected_senders("sequence_check", ring, self_pos, r, self._cfg.gossip_fanout):
                    if sender not in heard:
                        missed[sender] = None
        if upto > self._checked_round:
            self._checked_round = upto
        for r in [r for r in self._seen if r <= self._checked_round]:
            del self._seen[r]
        return list(missed)

    # ------------------------------------------------------------------ slots

    def _round_of(self, now: float) -> int:
        return max(0, math.floor(now / self._interval))

    def _flush(self) -> None:
        """Move pending new members into the slot arrays (and the ring) in one batch."""
        self._ring.extend(self._s.flush())
        self._ring.sort()
        self._ring_changed()

    def _add_slot(self, member_id: str, incarnation: int, now: float) -> int:
        slot = self._s.add(member_id, incarnation, now)
        bisect.insort(self._ring, member_id)
        self._ring_changed()
        return slot

    def _remove_slot(self, slot: int) -> None:
        if self._s.state[slot] == ALIVE:
            self._ring_remove(self._s.ids[slot])
        self._s.remove(slot)
        self._ring_changed()

    def _restart(self, slot: int, incarnation: int, counter: int, now: float) -> None:
        self._s.inc[slot] = incarnation
        self._s.hb[slot] = counter
        self._s.last[slot] = now
        self._s.reported[slot] = False
        self._s.heard[slot] = False
        if self._phi is not None:
            self._phi.reset(slot)
        if self._s.state[slot] == DEAD:
            self._revive(slot)
        self._incs_field = None
        self._deadline = None

    def _revive(self, slot: int) -> None:
        if self._s.state[slot] == ALIVE:
            return  # a message may list the same member twice
        self._s.state[slot] = ALIVE
        bisect.insort(self._ring, self._s.ids[slot])
        self._ring_changed()

    def _bury(self, slot: int, now: float) -> None:
        self._s.state[slot] = DEAD
        self._s.dead_at[slot] = now
        self._ring_remove(self._s.ids[slot])
        self._ring_changed()

    def _ring_remove(self, member_id: str) -> None:
        i = bisect.bisect_left(self._ring, member_id)
        if i < len(self._ring) and self._ring[i] == member_id:
            del self._ring[i]

    def _ring_changed(self) -> None:
        self._ring_slots = None
        self._ring_mapping = None
        self._ring_block = None
        self._incs_field = None
        self._foreign = None  # slots may have moved
        self._deadline = None
