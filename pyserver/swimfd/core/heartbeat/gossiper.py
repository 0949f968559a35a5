"""The van Renesse heartbeat gossiper: one member's heartbeat list as a pure state machine.

Every member keeps, per known member, ``(incarnation, heartbeat counter, local time of the last
increase)``. Each gossip round (``gossip_interval``) it bumps its own counter and sends the counters
of its *alive* members, in a ``pb.HeartbeatGossip`` (wire form below), to ``gossip_fanout``
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

Wire form (docs/heartbeat.md, "Wire form"): a gossiper attached to a base (``attach_base``: the
static list it was bootstrapped from, shared by every member bootstrapped from it) sends the
counters of the base members by position, behind the base's digest, and names only the members
outside the base and the base members whose incarnation is not 0: no id travels while the
membership is the static list. A receiver that does not know the sender's base asks for it once
(``pull``); the answer lists the base ids, and the receiver keeps the last few foreign bases.
Without a base the message is the full list, as in the paper.

Performance: state lives in a slot table (:mod:`.storage`), so a merge is a dozen vector
operations; with a shared base the merge needs no id lookup at all. Outgoing full-form id lists
are the sorted ring, identical on every member with the same view; a receiver recognises its own
ring's id list by comparing serialized bytes (one memcmp), and the last different list by a
64-bit digest, instead of looking up every id.

Pure: no clock, sockets, logging or global randomness; the rng is injected.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, overload

import numpy as np

from swimfd.core.config import Config
from swimfd.core.heartbeat import encoding
from swimfd.core.heartbeat.shape import U64_MAX, check_gossip, check_incarnation
from swimfd.core.heartbeat.storage import ALIVE, DEAD, FREE, INITIAL_CAPACITY, HeartbeatBase, SlotTable
from swimfd.core.heartbeat.tfail import derive_t_fail
from swimfd.core.phi import PhiWindows, threshold_z
from swimfd.core.target_selection import expected_senders, select_targets
from swimfd.pb import swim_pb2 as pb

_SEQ_GRACE_ROUNDS = 2  # round r's expected gossip is checked when round r + 2 starts
_FOREIGN_BASES = 4  # foreign bases remembered (joiners bootstrapped from a join reply have their own)
_PULLS_ANSWERED_MAX = 4096  # bound on the per-sender pull rate limiter


class _Mapping(NamedTuple):
    """Where the entries of one received id list live in our arrays."""

    slots: np.ndarray  # slot per entry, -1 when unknown
    unknown: bool  # some entry is unknown
    self_pos: np.ndarray  # entries that are ourselves


class _Ring(Sequence[str]):
    """The sorted ids of the alive members, as a view over the slot table (no list of n ids)."""

    __slots__ = ("_ids", "_slots")

    def __init__(self, ids: np.ndarray, slots: np.ndarray) -> None:
        self._ids = ids
        self._slots = slots

    def __len__(self) -> int:
        return len(self._slots)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return self._ids[self._slots[i]].tolist()
        return self._ids[self._slots[i]]


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

    def __init__(
        self, config: Config, self_id: str, rng: random.Random, now: float, report_progress: bool = True
    ) -> None:
        self._cfg = config
        # HeartbeatStep.progressed names every member whose counter moved: thousands of ids per
        # message at n = 10,000, so a caller that does not read it (the node) turns it off.
        self._report_progress = report_progress
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
        self._s = SlotTable(self._phi)
        self._self_slot = 0
        self._ring_slots: np.ndarray | None = None  # slots of the alive members in id order (lazy)
        self._self_pos: int | None = None  # our position in the ring (lazy)
        self._ring_block: bytes | None = None  # wire bytes of the listed ids field (lazy)
        self._incs_field: bytes | None = None  # wire bytes of the listed incarnations field (lazy)
        self._listed_slots: np.ndarray | None = None  # slots whose ids the message lists (lazy)
        self._foreign: tuple[int, int, int, _Mapping] | None = None  # (ids bytes, count, digest, mapping)
        self._ring_mapping: _Mapping | None = None
        self._foreign_bases: OrderedDict[int, tuple[tuple[str, ...], np.ndarray | None]] = OrderedDict()
        self._pulls_answered: dict[str, int] = {}  # sender -> round of our last answer
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

    def attach_base(self, base: HeartbeatBase, now: float) -> bool:
        """Track every member of ``base`` (all alive, incarnation 0), sharing its index.

        Must come before any other member is tracked; returns False (and does nothing) otherwise,
        and the caller tracks the members one by one. Members bootstrapped from the same base gossip
        in the compact base-relative form (module docstring).
        """
        if self._s.tracked_count != 1 or self._s.pending or self._self_id not in base.index:
            return False
        self_inc = self._s.inc[self._self_slot]
        self._s = SlotTable(self._phi, base=base, now=now)
        self._self_slot = base.index[self._self_id]
        if self_inc:
            self._s.own("inc")
            self._s.inc[self._self_slot] = self_inc
        self._ring_changed()
        return True

    @property
    def t_fail(self) -> float:
        if self._cfg.t_fail is not None:
            return self._cfg.t_fail
        if self._s.pending:
            self._flush()
        # Tombstones count until cleanup: the survivors' staleness built up while the failed members
        # were in the group, so T_fail must not shrink the moment they are declared (at n = 4 -> 2
        # it fell from 6.5 s to 1 s and declared the last live peer failed with them).
        n = max(1, self._s.tracked_count)
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
        if member_id == self._self_id:
            if incarnation > int(self._s.inc[self._self_slot]):
                self._s.own("inc")
                self._s.inc[self._self_slot] = incarnation
                self._incs_field = None
            return
        slot = self._s.slot(member_id)
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
        slot = self._s.slot(member_id)
        if slot is None:
            slot = self._add_slot(member_id, incarnation, now)
        elif incarnation < int(self._s.inc[slot]):
            return  # it already restarted
        elif incarnation > int(self._s.inc[slot]):
            self._s.own("inc")
            self._s.inc[slot] = incarnation
            self._s.hb[slot] = 0
            self._incs_field = None
        if self._s.state[slot] != DEAD:
            self._bury(slot, now)
        self._s.own("reported")
        self._s.reported[slot] = True

    def forget(self, member_id: str) -> None:
        """Drop every trace of ``member_id`` (left or removed)."""
        if self._s.pending.pop(member_id, None) is not None:
            return
        slot = self._s.slot(member_id)
        if slot is None or member_id == self._self_id:
            return
        self._remove_slot(slot)

    def counter(self, member_id: str) -> int | None:
        slot = self._slot(member_id)
        return None if slot is None else int(self._s.hb[slot])

    def incarnation(self, member_id: str) -> int | None:
        slot = self._slot(member_id)
        return None if slot is None else int(self._s.inc[slot])

    def is_tombstone(self, member_id: str) -> bool:
        slot = self._slot(member_id)
        return slot is not None and self._s.state[slot] == DEAD

    def staleness(self, member_id: str, now: float) -> float | None:
        """Seconds since ``member_id``'s counter last increased (None when not tracked)."""
        slot = self._slot(member_id)
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
        stale = (self._s.last[:n] <= now - older_than) & (self._s.state[:n] == ALIVE)
        stale[self._self_slot] = False
        return self._s.ids[np.flatnonzero(stale)].tolist()

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
        slot = self._slot(member_id)
        if slot is None or self._phi is None:
            return None
        return self._phi.phi(slot, now - float(self._s.last[slot]))

    def tracked(self) -> list[str]:
        """Alive members in ring order (self included)."""
        if self._s.pending:
            self._flush()
        return self._s.ids[self._ensure_ring_slots()].tolist()

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
            self._s.hb[self._self_slot] += np.uint64(1)
            self._s.last[self._self_slot] = now
            step.gossip = self._gossip(now)
            if self._cfg.gossip_target == "sequence_check":
                step.missed = self._check_sequence()
        return step

    def on_gossip(self, sender: str, msg: pb.HeartbeatGossip, now: float) -> HeartbeatStep:
        """Merge a received heartbeat list. Raises HeartbeatGossipError (state unchanged) if malformed."""
        if self._s.pending:
            self._flush()
        check_gossip(msg, self._cfg.max_members)
        step = HeartbeatStep()
        if self._cfg.gossip_target == "sequence_check":
            self._note_sender(sender, int(msg.round))
        if msg.pull:
            self._answer_pull(sender, step)
        if not msg.base_digest:
            if msg.heartbeats:
                mapping = self._slots_for(msg)
                in_inc = np.array(msg.incarnations, dtype=np.uint64)
                self._merge(mapping, msg.ids, in_inc, np.array(msg.heartbeats, dtype=np.uint64), now, step)
            return step
        if msg.base_ids:
            self._learn_base(msg)
        decoded = self._decode_base_relative(msg)
        if decoded is None:  # a base we do not know: ask for it
            step.gossip.append((sender, pb.HeartbeatGossip(pull=True, round=self._round)))
            return step
        mapping, ids, in_inc, in_hb = decoded
        self._merge(mapping, ids, in_inc, in_hb, now, step)
        return step

    # ------------------------------------------------------------------ merge

    def _merge(
        self,
        mapping: _Mapping,
        ids: Sequence[str],
        in_inc: np.ndarray | None,  # None: every incarnation 0
        in_hb: np.ndarray,
        now: float,
        step: HeartbeatStep,
    ) -> None:
        """Keep, per member, the highest counter of the highest incarnation (the paper's merge)."""
        slots, self_pos = mapping.slots, mapping.self_pos
        if mapping.unknown:
            unknown = slots < 0
            # A counter of 0 is "not gossiped" (a tombstone or free slot at the sender): no news.
            step.unknown = [ids[i] for i in np.flatnonzero(unknown & (in_hb > 0)).tolist()]
            keep = ~unknown
            slots, in_hb = slots[keep], in_hb[keep]
            in_inc = None if in_inc is None else in_inc[keep]
            self_pos = np.flatnonzero(slots == self._self_slot)
        s = self._s
        # Our own base, every slot in use: slot i is entry i, so slices replace gathers.
        k = len(slots)
        ident = slots is s.base.ring_slots and k == s.n
        cur_hb = s.hb[:k] if ident else s.hb[slots]
        if in_inc is None and "inc" in s.shared:  # incarnations all 0 on both sides
            same_up = in_hb > cur_hb
            newer = None
        else:
            cur_inc = s.inc[:k] if ident else s.inc[slots]
            if in_inc is None:
                in_inc = np.zeros(k, dtype=np.uint64)
            same_up = (in_inc == cur_inc) & (in_hb > cur_hb)
            newer = in_inc > cur_inc
        if s.n != len(self._ensure_ring_slots()):  # some tombstones: they ignore their current incarnation
            same_up &= (s.state[:k] if ident else s.state[slots]) == ALIVE
        any_newer = newer is not None and bool(newer.any())
        upd = same_up | newer if any_newer else same_up
        upd[self_pos] = False  # only we advance our own entry
        if not upd.any():
            return
        us = np.flatnonzero(upd) if ident else slots[upd]
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
            self._s.own("reported")
            self._s.reported[us] = False
            self._deadline = None
        if any_newer:
            assert in_inc is not None and newer is not None
            self._s.own("inc")
            self._s.inc[us] = in_inc[upd]
            restarted = us[newer[upd]]
            revived = restarted[self._s.state[restarted] == DEAD]
            for slot in revived.tolist():
                self._revive(int(slot))
            self._incs_field = None  # incarnations changed
        if self._report_progress:
            step.progressed = self._s.ids[us].tolist()

    # ------------------------------------------------------------------ base-relative form

    def _decode_base_relative(
        self, msg: pb.HeartbeatGossip
    ) -> tuple[_Mapping, Sequence[str], np.ndarray | None, np.ndarray] | None:
        """(mapping, ids, incarnations, counters) of every entry of a base-relative message; None: base unknown."""
        digest, size = msg.base_digest, msg.base_size
        base = self._s.base
        if digest == base.digest and size == len(base):
            base_ids: Sequence[str] = base.ids
            base_slots = self._base_mapping_own()
        else:
            known = self._foreign_bases.get(digest)
            if known is None or len(known[0]) != size:
                return None
            self._foreign_bases.move_to_end(digest)
            base_ids = known[0]
            base_slots = known[1]
            if base_slots is None:  # our slots moved since: map again
                base_slots = self._s.slots_of(base_ids, size)
                self._foreign_bases[digest] = (known[0], base_slots)
        in_hb = encoding.unpack_counters(msg.base_heartbeats, msg.base_heartbeat_width)
        k = len(msg.ids)
        in_inc: np.ndarray | None = None
        if msg.base_inc_positions or k:
            in_inc = np.zeros(size + k, dtype=np.uint64)
            if msg.base_inc_positions:
                positions = np.array(msg.base_inc_positions, dtype=np.int64)
                in_inc[positions] = np.array(msg.base_inc_values, dtype=np.uint64)
        if k == 0:
            slots = base_slots
            ids: Sequence[str] = base_ids
        else:
            assert in_inc is not None
            in_inc[size:] = np.array(msg.incarnations, dtype=np.uint64)
            in_hb = np.concatenate([in_hb, np.array(msg.heartbeats, dtype=np.uint64)])
            slots = np.concatenate([base_slots, self._s.slots_of(msg.ids, k)])
            ids = [*base_ids, *msg.ids]
        unknown = bool((slots < 0).any())
        return _Mapping(slots, unknown, np.flatnonzero(slots == self._self_slot)), ids, in_inc, in_hb

    def _base_mapping_own(self) -> np.ndarray:
        """Our slot per position of our own base (-1 for members no longer tracked)."""
        if self._s.n_free == 0:
            return self._s.base.ring_slots
        slots = self._s.base.ring_slots.astype(np.int64)
        slots[self._s.state[: self._s.base_n] == FREE] = -1
        return slots

    def _learn_base(self, msg: pb.HeartbeatGossip) -> None:
        size = msg.base_size
        if msg.base_digest == self._s.base.digest or msg.base_digest in self._foreign_bases:
            return
        ids = tuple(msg.base_ids)
        if len(ids) != size or encoding.base_digest(encoding.ids_field(list(ids))) != msg.base_digest:
            return  # the listed ids are not that base: decoding will ask again
        self._foreign_bases[msg.base_digest] = (ids, self._s.slots_of(ids, size))
        while len(self._foreign_bases) > _FOREIGN_BASES:
            self._foreign_bases.popitem(last=False)

    def _answer_pull(self, sender: str, step: HeartbeatStep) -> None:
        """Send our base ids with our counters to a member that asked, at most once per round."""
        if self._pulls_answered.get(sender) == self._round or self._s.base_n == 0:
            return  # without a base every message already lists everything
        if len(self._pulls_answered) >= _PULLS_ANSWERED_MAX:
            self._pulls_answered.clear()
        self._pulls_answered[sender] = self._round
        step.gossip.append((sender, self._message(listed=True)))

    # ------------------------------------------------------------------ gossip

    def _gossip(self, now: float) -> list[tuple[str, pb.HeartbeatGossip]]:
        ring_slots = self._ensure_ring_slots()
        if len(ring_slots) < 2:
            return []
        cfg = self._cfg
        targets = select_targets(
            cfg.gossip_target, self._ring(), self._ensure_self_pos(), self._round, cfg.gossip_fanout, self._rng
        )
        msg = self._message(listed=False)
        return [(t, msg) for t in targets]

    def _message(self, listed: bool) -> pb.HeartbeatGossip:
        """Our gossip: the full list without a base, else the base-relative form (``listed``: with the base ids)."""
        s = self._s
        listed_slots = self._ensure_listed_slots()
        hb = s.hb[listed_slots]
        if s.base_n == 0:
            # Parsing cached field bytes is as fast as copying a cached message, and a cached message
            # would cost 30 bytes per member more.
            return encoding.build(self._ensure_ring_block(), self._ensure_incs_field(), hb, self._round)
        k = s.base_n
        alive = s.state[:k] == ALIVE
        base_hb = np.where(alive, s.hb[:k], np.uint64(0)) if s.n_free or s.dead_at else s.hb[:k]
        msg = encoding.build(self._ensure_ring_block(), self._ensure_incs_field(), hb, self._round)
        msg.base_digest = s.base.digest
        msg.base_size = k
        msg.base_heartbeats, msg.base_heartbeat_width = encoding.pack_counters(base_hb)
        if "inc" not in s.shared:
            changed = np.flatnonzero((s.inc[:k] != 0) & alive)
            if len(changed):
                msg.base_inc_positions.extend(changed.tolist())
                msg.base_inc_values.extend(s.inc[changed].tolist())
        if listed:
            msg.base_ids.extend(s.base.ids)
        return msg

    def _ring(self) -> _Ring:
        return _Ring(self._s.ids, self._ensure_ring_slots())

    def _ensure_ring_slots(self) -> np.ndarray:
        if self._ring_slots is None:
            s = self._s
            n = s.n
            if s.base_n == n and s.base_n and not s.dead_at and not s.n_free:
                self._ring_slots = s.base.ring_slots  # shared: the whole base, alive
            else:
                alive = np.flatnonzero(s.state[:n] == ALIVE).astype(np.int32)
                if n > s.base_n:  # members outside the base: sort by id
                    alive = np.array(sorted(alive.tolist(), key=s.ids.__getitem__), dtype=np.int32)
                self._ring_slots = alive
        return self._ring_slots

    def _ensure_self_pos(self) -> int:
        if self._self_pos is None:
            self._self_pos = bisect.bisect_left(self._ring(), self._self_id)
        return self._self_pos

    def _ensure_listed_slots(self) -> np.ndarray:
        """Slots of the members the message names: all alive members without a base, else those outside it."""
        if self._listed_slots is None:
            ring = self._ensure_ring_slots()
            self._listed_slots = ring if self._s.base_n == 0 else ring[ring >= self._s.base_n]
        return self._listed_slots

    def _ensure_incs_field(self) -> bytes:
        if self._incs_field is None:
            self._incs_field = encoding.incarnations_field(self._s.inc[self._ensure_listed_slots()])
        return self._incs_field

    def _ensure_ring_block(self) -> bytes:
        if self._ring_block is None:
            self._ring_block = encoding.ids_field(self._s.ids[self._ensure_listed_slots()].tolist())
        return self._ring_block

    def _slots_for(self, msg: pb.HeartbeatGossip) -> _Mapping:
        """Slot of every id in a full-form ``msg`` (-1 when unknown), reusing a cached mapping when possible."""
        k = len(msg.ids)
        data = msg.SerializeToString()
        ring_slots = self._ensure_ring_slots()
        if self._s.base_n == 0 and k == len(ring_slots) and data.startswith(self._ensure_ring_block()):
            if self._ring_mapping is None:
                self_pos = np.array([self._ensure_self_pos()])
                self._ring_mapping = _Mapping(ring_slots.astype(np.int64), False, self_pos)
            return self._ring_mapping
        foreign = self._foreign
        if foreign is not None and k == foreign[1] and encoding.digest(data[: foreign[0]]) == foreign[2]:
            return foreign[3]
        slots = self._s.slots_of(msg.ids, k)
        mapping = _Mapping(slots, bool((slots < 0).any()), np.flatnonzero(slots == self._self_slot))
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
        dl[self._self_slot] = np.inf
        return dl

    def _earliest_cleanup(self) -> float:
        return min(self._s.dead_at.values(), default=math.inf) + self.t_cleanup

    def _earliest_deadline(self) -> float:
        if self._s.n <= 1:
            return math.inf
        return float(min(self._fail_deadlines().min(), self._earliest_cleanup()))

    def _detect(self, now: float, step: HeartbeatStep) -> None:
        if self._deadline is None:
            self._deadline = self._earliest_deadline()
        if self._deadline > now or self._s.n <= 1:
            return
        # Boundary: a member whose counter has not moved for exactly T_fail is failed.
        failed = np.flatnonzero(self._fail_deadlines() <= now)
        if len(failed):
            self._s.own("reported")
            self._s.reported[failed] = True
            step.failed = self._s.ids[failed].tolist()
            if self._tombstone_on_fail:
                for slot in failed.tolist():
                    self._bury(slot, now)
        if self._earliest_cleanup() <= now:
            t_cleanup = self.t_cleanup
            expired = sorted(slot for slot, at in self._s.dead_at.items() if at + t_cleanup <= now)
            step.removed = self._s.ids[np.array(expired, dtype=np.int64)].tolist()
            for member_id in step.removed:
                slot = self._s.slot(member_id)
                if slot is not None:
                    self._remove_slot(slot)
        self._deadline = None

    def _excuse(self, overdue: float, now: float) -> None:
        """Do not count ``overdue`` seconds, during which we were not running, as anyone's silence."""
        n = self._s.n
        if n > 1:
            mine = self._s.last[self._self_slot]
            np.minimum(self._s.last[:n] + overdue, now, out=self._s.last[:n])
            self._s.last[self._self_slot] = mine
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
        ring = self._ring()
        if len(ring) >= 2:
            self_pos = self._ensure_self_pos()
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

    def _slot(self, member_id: str) -> int | None:
        if self._s.pending:
            self._flush()
        return self._s.slot(member_id)

    def _round_of(self, now: float) -> int:
        return max(0, math.floor(now / self._interval))

    def _flush(self) -> None:
        """Move pending new members into the slot arrays in one batch."""
        self._s.flush()
        self._ring_changed()

    def _add_slot(self, member_id: str, incarnation: int, now: float) -> int:
        slot = self._s.add(member_id, incarnation, now)
        self._ring_changed()
        return slot

    def _remove_slot(self, slot: int) -> None:
        self._s.remove(slot)
        self._ring_changed()

    def _restart(self, slot: int, incarnation: int, counter: int, now: float) -> None:
        self._s.own("inc", "reported")
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
        self._s.own("state")
        self._s.state[slot] = ALIVE
        self._s.dead_at.pop(slot, None)
        self._ring_changed()

    def _bury(self, slot: int, now: float) -> None:
        self._s.own("state")
        self._s.state[slot] = DEAD
        self._s.dead_at[slot] = now
        self._ring_changed()

    def _ring_changed(self) -> None:
        self._ring_slots = None
        self._self_pos = None
        self._listed_slots = None
        self._ring_mapping = None
        self._ring_block = None
        self._incs_field = None
        self._foreign = None  # slots may have moved
        for digest, (ids, _) in self._foreign_bases.items():
            self._foreign_bases[digest] = (ids, None)
        self._deadline = None
