"""Gossip-style heartbeat failure detection (van Renesse, Minsky, Hayden, Middleware 1998).

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

``T_fail`` is ``config.t_fail`` or, when that is None, :func:`derive_t_fail` for the current
number of tracked members, tombstones included until cleanup (recomputed whenever it changes).

Pauses: the gossiper asks to be ticked at least once per ``gossip_interval``. A tick more than two
intervals after the previous one means this process was not running (SIGSTOP, a suspended VM), so
the time beyond one interval is not counted as anyone's silence; otherwise a member resuming after
a pause longer than ``T_fail`` would declare everyone failed. The others have meanwhile declared
it failed; the node tells it so when it gossips (``Node._tell_if_dead``), and it restarts with a
higher incarnation.

Rounds are global: round ``r`` starts at ``r * gossip_interval`` on the core's clock, so members
sharing a time base share round numbers, which the round-robin schedules and ``sequence_check``
rely on.

Performance: state lives in numpy arrays indexed by *slot* (ids in a parallel object array), so
a merge is a dozen vector operations. Outgoing id lists are the sorted ring, identical on every
member with the same view; a receiver recognises its own ring's id list by comparing serialized
bytes (one memcmp), and the last different list by a 64-bit digest, instead of looking up every
id. Outgoing messages are parsed from cached wire bytes plus numpy-packed counters.

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
from swimfd.core.phi import PhiWindows, threshold_z
from swimfd.core.target_selection import expected_senders, select_targets
from swimfd.pb import swim_pb2 as pb

_ALIVE = 0
_DEAD = 1  # tombstone
_MAX_ROUNDS = 100_000  # rounds_to_reach gives up (returns this many rounds) beyond it
_SEQ_GRACE_ROUNDS = 2  # round r's expected gossip is checked when round r + 2 starts


class _Mapping(NamedTuple):
    """Where the entries of one received id list live in our arrays."""

    slots: np.ndarray  # slot per entry, -1 when unknown
    unknown: bool  # some entry is unknown
    self_pos: np.ndarray  # entries that are ourselves


class HeartbeatGossipError(ValueError):
    """A gossip message is malformed (parallel arrays disagree, too many entries)."""


@dataclass(slots=True)
class HeartbeatStep:
    gossip: list[tuple[str, pb.HeartbeatGossip]] = field(default_factory=list)  # (target id, body); shared body
    failed: list[str] = field(default_factory=list)  # heartbeat stale for T_fail (or phi > threshold); once each
    removed: list[str] = field(default_factory=list)  # tombstones older than T_cleanup, now forgotten
    progressed: list[str] = field(default_factory=list)  # counter (or incarnation) increased in this call
    unknown: list[str] = field(default_factory=list)  # ids present in gossip but not tracked
    missed: list[str] = field(default_factory=list)  # sequence_check: expected gossip did not arrive


def derive_t_fail(n: int, gossip_interval: float, fanout: int, p_mistake: float) -> float:
    """T_fail such that, in any gossip round, some member wrongly declares some other failed with
    probability at most ``p_mistake`` (van Renesse, Minsky, Hayden, Middleware 1998: P_mistake is a
    property of the whole group, so T_fail grows with n).

    Union bound over the ``n (n - 1)`` ordered (observer, subject) pairs: each pair may miss a
    heartbeat increase for T_fail with probability at most ``p_mistake / (n (n - 1))``, and
    :func:`rounds_to_reach` gives the rounds that takes. A heartbeat increase takes up to one extra
    interval to start spreading (the subject gossips only at its next round), so

        T_fail = (rounds_to_reach(n, fanout, p_mistake / (n (n - 1))) + 1) * gossip_interval.

    Bounding each pair by ``p_mistake`` alone is not enough: at n = 2,000 with 5% loss the
    simulator saw a few pairs miss within a minute, and each wrong tombstone stops that member
    relaying the subject's heartbeat, so more misses follow (a cascade of false failures).
    Gossip with deterministic schedules (round robin, binary) spreads at least as fast, so the
    value is safe for them too. Message loss is not modelled: raise T_fail with ``config.t_fail``
    on very lossy networks.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not (gossip_interval > 0 and math.isfinite(gossip_interval)):
        raise ValueError(f"gossip_interval must be positive, got {gossip_interval}")
    if fanout < 1:
        raise ValueError(f"fanout must be >= 1, got {fanout}")
    if not 0 < p_mistake < 1:
        raise ValueError(f"p_mistake must be in (0, 1), got {p_mistake}")
    if n <= 2:
        # n = 1: nobody to miss anything; n = 2: the only other member is the target every round.
        return 2 * gossip_interval
    return (rounds_to_reach(n, fanout, p_mistake / (n * (n - 1))) + 1) * gossip_interval


def rounds_to_reach(n: int, fanout: int, p_miss: float) -> int:
    """Rounds after which one member has not heard one heartbeat increase with probability <= p_miss.

    Model: one member increases its counter; every round each member that has heard the increase
    sends its list to ``fanout`` distinct members chosen uniformly among the other ``n - 1``. Let
    ``p_r`` be the probability that a given member has not heard it after ``r`` rounds,
    ``p_0 = (n - 1) / n``. An uninformed member stays uninformed in a round only if none of the
    ``n (1 - p_r)`` informed members picks it, each independently with probability
    ``fanout / (n - 1)``:

        p_{r+1} = p_r * (1 - fanout / (n - 1)) ** (n * (1 - p_r))

    (the mean-field epidemic recurrence; the paper's "rounds to reach everyone ~ log n").
    Returns the first ``r`` with ``p_r <= p_miss`` (at most ``_MAX_ROUNDS``).
    """
    if n <= 1:
        return 0
    q = min(1.0, fanout / (n - 1))
    log_stay = math.log1p(-q) if q < 1 else -math.inf
    p = (n - 1) / n
    rounds = 0
    while p > p_miss and rounds < _MAX_ROUNDS:
        informed = n * (1.0 - p)
        p = p * math.exp(log_stay * informed) if log_stay != -math.inf else 0.0
        rounds += 1
    return rounds


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
        cap = 16
        self._n = 0  # slots in use: 0 .. n-1, slot 0 is self
        self._ids = np.empty(cap, dtype=object)  # member id per slot (object array: vectorised fancy indexing)
        self._index: dict[str, int] = {}
        # New members land here first and enter the arrays in one vectorised batch at the next use:
        # a bootstrap tracks n members one call at a time, n gossipers at once in a simulator.
        self._pending: dict[str, tuple[int, float]] = {}
        self._inc = np.zeros(cap, dtype=np.uint64)
        self._hb = np.zeros(cap, dtype=np.uint64)
        self._last = np.zeros(cap, dtype=np.float64)  # local time of the last increase
        self._state = np.zeros(cap, dtype=np.int8)
        self._dead_at = np.zeros(cap, dtype=np.float64)  # when the tombstone was made
        self._reported = np.zeros(cap, dtype=bool)  # failure already reported by this detector
        self._heard = np.zeros(cap, dtype=bool)  # an increase arrived since tracking: the next one is an interval
        self._phi: PhiWindows | None = None
        self._phi_z = 0.0
        if config.heartbeat_detector == "phi":
            self._phi = PhiWindows(config.phi_window, config.phi_min_std, cap, config.phi_acceptable_pause)
            self._phi_z = threshold_z(config.phi_threshold)
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
        if self._pending:
            self._flush()
        # Tombstones count until cleanup: the survivors' staleness built up while the failed members
        # were in the group, so T_fail must not shrink the moment they are declared (at n = 4 -> 2
        # it fell from 6.5 s to 1 s and declared the last live peer failed with them).
        n = max(1, self._n)
        if n != self._t_fail_n:
            self._t_fail = derive_t_fail(n, self._interval, self._cfg.gossip_fanout, self._cfg.p_mistake)
            self._t_fail_n = n
        return self._t_fail

    @property
    def t_cleanup(self) -> float:
        return self._cfg.t_cleanup if self._cfg.t_cleanup is not None else 2.0 * self.t_fail

    def track(self, member_id: str, incarnation: int, now: float) -> None:
        """Start monitoring ``member_id``; a higher incarnation restarts (and revives) it."""
        if type(incarnation) is not int or not 0 <= incarnation <= _U64_MAX:  # inline: hot in bootstraps
            _check_incarnation(incarnation)
        slot = self._index.get(member_id)
        if member_id == self._self_id:
            if incarnation > int(self._inc[0]):
                self._inc[0] = incarnation
                self._incs_field = None
            return
        if slot is None:
            pending = self._pending.get(member_id)
            if pending is None or incarnation > pending[0]:
                self._pending[member_id] = (incarnation, now)
            return
        if incarnation > int(self._inc[slot]):
            self._restart(slot, incarnation, 0, now)

    def mark_dead(self, member_id: str, incarnation: int, now: float) -> None:
        """Tombstone ``member_id`` at ``incarnation`` (decided elsewhere). Does not report it failed."""
        incarnation = _check_incarnation(incarnation)
        if member_id == self._self_id:
            return  # our own refutation is the node's business
        if self._pending:
            self._flush()
        slot = self._index.get(member_id)
        if slot is None:
            slot = self._add_slot(member_id, incarnation, now)
        elif incarnation < int(self._inc[slot]):
            return  # it already restarted
        elif incarnation > int(self._inc[slot]):
            self._inc[slot] = incarnation
            self._hb[slot] = 0
        if self._state[slot] != _DEAD:
            self._bury(slot, now)
        self._reported[slot] = True

    def forget(self, member_id: str) -> None:
        """Drop every trace of ``member_id`` (left or removed)."""
        if self._pending.pop(member_id, None) is not None:
            return
        slot = self._index.get(member_id)
        if slot is None or member_id == self._self_id:
            return
        self._remove_slot(slot)

    def counter(self, member_id: str) -> int | None:
        if self._pending:
            self._flush()
        slot = self._index.get(member_id)
        return None if slot is None else int(self._hb[slot])

    def incarnation(self, member_id: str) -> int | None:
        if self._pending:
            self._flush()
        slot = self._index.get(member_id)
        return None if slot is None else int(self._inc[slot])

    def is_tombstone(self, member_id: str) -> bool:
        if self._pending:
            self._flush()
        slot = self._index.get(member_id)
        return slot is not None and self._state[slot] == _DEAD

    def staleness(self, member_id: str, now: float) -> float | None:
        """Seconds since ``member_id``'s counter last increased (None when not tracked)."""
        if self._pending:
            self._flush()
        slot = self._index.get(member_id)
        return None if slot is None else now - float(self._last[slot])

    def stale_members(self, older_than: float, now: float) -> list[str]:
        """Tracked members (self excluded) whose counter has not increased for ``older_than`` seconds.

        One vectorised pass; the hybrid rule (swimfd.core.hybrid) uses it for its early probes.
        Tombstones are not tracked members and are left out.
        """
        if self._pending:
            self._flush()
        n = self._n
        if n <= 1:
            return []
        stale = (self._last[1:n] <= now - older_than) & (self._state[1:n] == _ALIVE)
        return self._ids[np.flatnonzero(stale) + 1].tolist()

    def phi(self, member_id: str, now: float) -> float | None:
        """Current phi of ``member_id`` (phi detector only; None with too few samples)."""
        if self._pending:
            self._flush()
        slot = self._index.get(member_id)
        if slot is None or self._phi is None:
            return None
        return self._phi.phi(slot, now - float(self._last[slot]))

    def tracked(self) -> list[str]:
        """Alive members in ring order (self included)."""
        if self._pending:
            self._flush()
        return list(self._ring)

    def next_deadline(self) -> float:
        if self._pending:
            self._flush()
        if self._deadline is None:
            self._deadline = self._earliest_deadline()
        return min(self._next_gossip, self._deadline)

    def tick(self, now: float) -> HeartbeatStep:
        """Gossip if a round started, then report failures and remove expired tombstones."""
        if self._pending:
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
            self._hb[0] += np.uint64(1)
            self._last[0] = now
            step.gossip = self._gossip(now)
            if self._cfg.gossip_target == "sequence_check":
                step.missed = self._check_sequence()
        return step

    def on_gossip(self, sender: str, msg: pb.HeartbeatGossip, now: float) -> HeartbeatStep:
        """Merge a received heartbeat list. Raises HeartbeatGossipError (state unchanged) if malformed."""
        if self._pending:
            self._flush()
        ids = msg.ids
        k = len(ids)
        if len(msg.incarnations) != k or len(msg.heartbeats) != k:
            raise HeartbeatGossipError(
                f"gossip arrays differ in length: {k} ids, {len(msg.incarnations)} incarnations, "
                f"{len(msg.heartbeats)} heartbeats"
            )
        if k > self._cfg.max_members:
            raise HeartbeatGossipError(f"gossip lists {k} members, more than max_members={self._cfg.max_members}")
        step = HeartbeatStep()
        if self._cfg.gossip_target == "sequence_check":
            self._note_sender(sender, int(msg.round))
        if k == 0:
            return step
        in_inc = np.array(msg.incarnations, dtype=np.uint64)
        in_hb = np.array(msg.heartbeats, dtype=np.uint64)
        mapping = self._slots_for(msg, in_inc, in_hb)
        slots, self_pos = mapping.slots, mapping.self_pos
        if mapping.unknown:
            unknown = slots < 0
            step.unknown = [ids[i] for i in np.flatnonzero(unknown).tolist()]
            keep = ~unknown
            slots, in_inc, in_hb = slots[keep], in_inc[keep], in_hb[keep]
            self_pos = np.flatnonzero(slots == 0)
        cur_inc = self._inc[slots]
        same_up = (in_inc == cur_inc) & (in_hb > self._hb[slots])
        if self._n != len(self._ring):  # some tombstones: they ignore their current incarnation
            same_up &= self._state[slots] == _ALIVE
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
            sample = us[grow & self._heard[us]]
            self._phi.add(sample, now - self._last[sample])
            if not grow.all():
                self._phi.reset(us[~grow])
        self._heard[us] = True
        # Duplicate ids in one message: fancy assignment keeps the last, which still passed the
        # comparison above, so counters and incarnations never move backwards.
        self._hb[us] = in_hb[upd]
        self._last[us] = now
        # Progress only moves fixed deadlines later, so the cached (earlier) one stays a safe time
        # to tick; restarts, phi refits and ended staleness episodes can move one earlier.
        if any_newer or self._phi is not None:
            self._deadline = None
        if self._reported[us].any():  # hybrid: progress ends a staleness episode
            self._reported[us] = False
            self._deadline = None
        if any_newer:
            self._inc[us] = in_inc[upd]
            restarted = us[newer[upd]]
            revived = restarted[self._state[restarted] == _DEAD]
            for slot in revived.tolist():
                self._revive(int(slot))
            self._incs_field = None  # incarnations changed
        step.progressed = self._ids[us].tolist()
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
        # Parsing wire bytes assembled from cached fields is as fast as copying a cached message and
        # appending 10,000 Python ints, and a cached message would cost 30 bytes per member more.
        hb = _packed_uint64(self._hb[self._ensure_ring_slots()])
        wire = b"".join((self._ensure_ring_block(), self._ensure_incs_field(), _field(_HEARTBEATS_TAG, hb)))
        msg = pb.HeartbeatGossip.FromString(wire + _ROUND_TAG + _varint(self._round))
        return [(t, msg) for t in targets]

    def _ensure_ring_slots(self) -> np.ndarray:
        if self._ring_slots is None:
            self._ring_slots = np.fromiter(
                map(self._index.__getitem__, self._ring), dtype=np.int64, count=len(self._ring)
            )
        return self._ring_slots

    def _ensure_incs_field(self) -> bytes:
        if self._incs_field is None:
            self._incs_field = _field(_INCARNATIONS_TAG, _packed_uint64(self._inc[self._ensure_ring_slots()]))
        return self._incs_field

    def _ensure_ring_block(self) -> bytes:
        if self._ring_block is None:
            self._ring_block = pb.HeartbeatGossip(ids=self._ring).SerializeToString()
        return self._ring_block

    def _slots_for(self, msg: pb.HeartbeatGossip, in_inc: np.ndarray, in_hb: np.ndarray) -> _Mapping:
        """Slot of every id in ``msg`` (-1 when unknown), reusing a cached mapping when possible."""
        k = len(msg.ids)
        data = msg.SerializeToString()
        if k == len(self._ring) and data.startswith(self._ensure_ring_block()):
            if self._ring_mapping is None:
                self_pos = np.array([bisect.bisect_left(self._ring, self._self_id)])
                self._ring_mapping = _Mapping(self._ensure_ring_slots(), False, self_pos)
            return self._ring_mapping
        foreign = self._foreign
        if foreign is not None and k == foreign[1] and _digest(data[: foreign[0]]) == foreign[2]:
            return foreign[3]
        slots = np.fromiter(map(self._index.get, msg.ids, itertools.repeat(-1)), dtype=np.int64, count=k)
        mapping = _Mapping(slots, bool((slots < 0).any()), np.flatnonzero(slots == 0))
        # The ids field comes first in upb's serialization; isolate it by encoding the rest. A
        # 64-bit digest of those bytes identifies the list without keeping a copy of it.
        rest_bytes = b"".join(
            (
                _field(_INCARNATIONS_TAG, _packed_uint64(in_inc)),
                _field(_HEARTBEATS_TAG, _packed_uint64(in_hb)),
                _ROUND_TAG + _varint(msg.round) if msg.round else b"",
            )
        )
        if data.endswith(rest_bytes):
            ids_len = len(data) - len(rest_bytes)
            self._foreign = (ids_len, k, _digest(data[:ids_len]), mapping)
        return mapping

    # ------------------------------------------------------------------ detection

    def _fail_deadlines(self) -> np.ndarray:
        """Per slot: time at which it counts as failed (inf for self, tombstones, unused slots)."""
        n = self._n
        last = self._last[:n]
        if self._phi is None:
            dl = last + self.t_fail
        else:
            timeouts = self._phi.timeouts(slice(0, n), self._phi_z)
            timeouts = np.where(np.isnan(timeouts), self.t_fail, timeouts)
            dl = last + timeouts
        dl = np.where((self._state[:n] == _ALIVE) & ~self._reported[:n], dl, np.inf)
        dl[0] = np.inf
        return dl

    def _cleanup_deadlines(self) -> np.ndarray:
        n = self._n
        return np.where(self._state[:n] == _DEAD, self._dead_at[:n] + self.t_cleanup, np.inf)

    def _earliest_deadline(self) -> float:
        if self._n <= 1:
            return math.inf
        return float(min(self._fail_deadlines().min(), self._cleanup_deadlines().min()))

    def _detect(self, now: float, step: HeartbeatStep) -> None:
        if self._deadline is None:
            self._deadline = self._earliest_deadline()
        if self._deadline > now or self._n <= 1:
            return
        # Boundary: a member whose counter has not moved for exactly T_fail is failed.
        failed = np.flatnonzero(self._fail_deadlines() <= now)
        if len(failed):
            self._reported[failed] = True
            step.failed = self._ids[failed].tolist()
            if self._tombstone_on_fail:
                for slot in failed.tolist():
                    self._bury(slot, now)
        expired = np.flatnonzero(self._cleanup_deadlines() <= now)
        if len(expired):
            step.removed = self._ids[expired].tolist()
            for member_id in step.removed:
                self._remove_slot(self._index[member_id])
        self._deadline = None

    def _excuse(self, overdue: float, now: float) -> None:
        """Do not count ``overdue`` seconds, during which we were not running, as anyone's silence."""
        n = self._n
        if n > 1:
            np.minimum(self._last[1:n] + overdue, now, out=self._last[1:n])
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
        items, self._pending = self._pending, {}
        start, k = self._n, len(items)
        end = start + k
        if end > len(self._inc):
            self._grow(max(end, len(self._inc) + len(self._inc) // 4))
        ids = list(items)
        self._ids[start:end] = ids
        slots = _SHARED_INTS[start:end] if end <= len(_SHARED_INTS) else range(start, end)
        self._index.update(zip(ids, slots, strict=True))
        self._inc[start:end] = np.array([v[0] for v in items.values()], dtype=np.uint64)
        self._last[start:end] = np.array([v[1] for v in items.values()], dtype=np.float64)
        self._hb[start:end] = 0
        self._state[start:end] = _ALIVE
        self._dead_at[start:end] = 0.0
        self._reported[start:end] = False
        self._heard[start:end] = False
        if self._phi is not None:
            self._phi.reset(slice(start, end))
        self._n = end
        self._ring.extend(ids)
        self._ring.sort()
        self._ring_changed()

    def _add_slot(self, member_id: str, incarnation: int, now: float) -> int:
        slot = self._n
        if slot == len(self._inc):
            self._grow(slot + max(16, slot // 4))  # 1.25x: at n = 10,000 memory matters more than copies
        self._ids[slot] = member_id
        self._n += 1
        self._index[member_id] = _shared_int(slot)
        self._inc[slot] = incarnation
        self._hb[slot] = 0
        self._last[slot] = now
        self._state[slot] = _ALIVE
        self._dead_at[slot] = 0.0
        self._reported[slot] = False
        self._heard[slot] = False
        if self._phi is not None:
            self._phi.reset(slot)
        bisect.insort(self._ring, member_id)
        self._ring_changed()
        return slot

    def _grow(self, cap: int) -> None:
        def grown(a: np.ndarray) -> np.ndarray:
            b = np.zeros(cap, dtype=a.dtype) if a.dtype != object else np.empty(cap, dtype=object)
            b[: len(a)] = a
            return b

        self._ids = grown(self._ids)
        self._inc = grown(self._inc)
        self._hb = grown(self._hb)
        self._last = grown(self._last)
        self._state = grown(self._state)
        self._dead_at = grown(self._dead_at)
        self._reported = grown(self._reported)
        self._heard = grown(self._heard)
        if self._phi is not None:
            self._phi.grow(cap)

    def _remove_slot(self, slot: int) -> None:
        member_id = self._ids[slot]
        if self._state[slot] == _ALIVE:
            self._ring_remove(member_id)
        last = self._n - 1
        if slot != last:  # keep slots dense: move the last one into the hole
            moved = self._ids[last]
            self._ids[slot] = moved
            self._index[moved] = _shared_int(slot)
            for arr in (self._inc, self._hb, self._last, self._state, self._dead_at, self._reported, self._heard):
                arr[slot] = arr[last]
            if self._phi is not None:
                self._phi.move(last, slot)
        self._ids[last] = None
        self._n -= 1
        del self._index[member_id]
        self._ring_changed()

    def _restart(self, slot: int, incarnation: int, counter: int, now: float) -> None:
        self._inc[slot] = incarnation
        self._hb[slot] = counter
        self._last[slot] = now
        self._reported[slot] = False
        self._heard[slot] = False
        if self._phi is not None:
            self._phi.reset(slot)
        if self._state[slot] == _DEAD:
            self._revive(slot)
        self._incs_field = None
        self._deadline = None

    def _revive(self, slot: int) -> None:
        if self._state[slot] == _ALIVE:
            return  # a message may list the same member twice
        self._state[slot] = _ALIVE
        bisect.insort(self._ring, self._ids[slot])
        self._ring_changed()

    def _bury(self, slot: int, now: float) -> None:
        self._state[slot] = _DEAD
        self._dead_at[slot] = now
        self._ring_remove(self._ids[slot])
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


# One int object per slot number, shared by every gossiper in the process: a simulator holding
# 10,000 gossipers of 10,000 members would otherwise spend 28 bytes per entry on equal ints.
_SHARED_INTS: tuple[int, ...] = tuple(range(1 << 16))


def _shared_int(i: int) -> int:
    return _SHARED_INTS[i] if i < len(_SHARED_INTS) else i


_U64_MAX = 2**64 - 1
_INCARNATIONS_TAG = bytes([(2 << 3) | 2])  # HeartbeatGossip.incarnations, packed (wire type 2)
_HEARTBEATS_TAG = bytes([(3 << 3) | 2])  # HeartbeatGossip.heartbeats, packed
_ROUND_TAG = bytes([(4 << 3) | 0])  # HeartbeatGossip.round, varint (wire type 0)


def _digest(data: bytes) -> int:
    # 64-bit keyed SipHash: an accidental match (which would mis-map ids) has probability 2^-64,
    # and it is five times faster than blake2b on a 60 KB id list.
    return hash(data)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, packed: bytes) -> bytes:
    """A length-delimited field; proto3 omits an empty packed field."""
    return tag + _varint(len(packed)) + packed if packed else b""


def _packed_uint64(values: np.ndarray) -> bytes:
    """Protobuf varint encoding of every element, concatenated (the body of a packed field)."""
    if len(values) == 0:
        return b""
    values = values.astype(np.uint64, copy=False)
    width = max(1, (int(values.max()).bit_length() + 6) // 7)  # bytes of the largest value
    if width == 1:
        return values.astype(np.uint8).tobytes()
    groups = np.empty((len(values), width), dtype=np.uint8)
    nbytes = np.ones(len(values), dtype=np.int64)
    for g in range(width):
        groups[:, g] = (values >> np.uint64(7 * g)) & np.uint64(0x7F)
        if g:
            nbytes += values >= np.uint64(1 << (7 * g))
    col = np.arange(width)[None, :]
    groups |= (col < (nbytes[:, None] - 1)).view(np.uint8) << 7  # continuation bits
    if nbytes.min() == width:
        return groups.tobytes()
    return groups[col < nbytes[:, None]].tobytes()


def _check_incarnation(incarnation: int) -> int:
    if type(incarnation) is not int or not 0 <= incarnation <= _U64_MAX:
        raise ValueError(f"incarnation must be an integer in [0, 2^64), got {incarnation!r}")
    return incarnation
