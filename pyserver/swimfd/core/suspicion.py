"""Lifeguard's local-health-aware suspicion timeout (arXiv 1707.00788).

A suspicion starts with the long timeout Max and shrinks as distinct members
independently confirm it (suspect the same incarnation):

    timeout(C) = max(Min, Max - (Max - Min) * ln(C + 1) / ln(K + 1))

with Min = SuspicionMult * max(1, log10 n) * ProbeInterval, Max =
SuspicionMaxTimeoutMult * Min and K = SuspicionMult - 2 confirmations expected
(K = 0, i.e. the timeout is Min at once, when fewer than K + 2 members exist
to confirm). The originator of the suspicion is not a confirmer.

``Suspicions`` owns one node's live suspicions (memberlist's suspicion.go is the model): it
starts them, counts confirmations, runs their timers, and at expiry decides, returning a
``SuspicionStep`` the node acts on (probe these members now; declare those dead), the way
``Prober`` returns a ``ProberStep``. Two checks stand between expiry and confirmation:

* Final check: a node with only second-hand evidence (it neither raised nor confirmed the
  suspicion) probes the subject when the timer runs out and confirms one health-scaled probe
  interval later; it starts over if the subject answered one of its probes during the
  suspicion. It may have missed the refutation (lossy gossip); the probe carries the suspicion
  (buddy system), so the subject re-asserts its newer Alive in the ack.
* Refusal (docs/detection.md): ``refused`` caps a suspicion at a short grace once a quorum of
  observers saw the subject's host refuse the connection; an ack from the subject during the
  grace (a restart at the same address) lifts the cap, back to the Lifeguard timer.
* In hybrid mode, rules (b) corroboration and (c) veto of ``swimfd.core.hybrid`` act on the timers.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from swimfd.core.config import Config
from swimfd.core.health import LocalHealth
from swimfd.core.hybrid import HybridRule
from swimfd.core.membership import SUSPECT, Record


def suspicion_min_max(config: Config, n: int) -> tuple[float, float]:
    """(Min, Max) suspicion timeouts in seconds for a group of ``n`` members."""
    lo = config.suspicion_mult * max(1.0, math.log10(max(n, 1))) * config.probe_interval
    return lo, config.suspicion_max_timeout_mult * lo


def expected_confirmations(config: Config, n: int) -> int:
    k = config.suspicion_mult - 2
    return 0 if n < k + 2 or k < 1 else k


def suspicion_timeout(lo: float, hi: float, k: int, confirmations: int) -> float:
    """Timeout after ``confirmations`` distinct confirmers (K = ``k``)."""
    if k < 1:
        return lo
    frac = math.log(confirmations + 1) / math.log(k + 1)
    return max(lo, hi - (hi - lo) * frac)


@dataclass(slots=True)
class Suspicion:
    """One member's suspicion at one incarnation, as seen by this node."""

    member: str
    incarnation: int
    start: float
    lo: float
    hi: float
    k: int
    origin: str  # who raised it; never counted as a confirmer
    confirmers: set[str] = field(default_factory=set)
    corroborated: bool = False  # hybrid rule (b): the heartbeat detector counts as K confirmations
    final_check: bool = False  # a node without first-hand evidence probed the subject before confirming
    final_check_until: float = -math.inf  # ... and waits for the answer until then
    refused_at: float = math.inf  # when a quorum of refusals capped it (docs/detection.md)
    refused_until: float = math.inf  # ... at this deadline
    alert_probed: bool = False  # a SUSPECTED notice made us probe the subject (once per suspicion)
    veto_window: float = 0.0  # hybrid rule (c): heartbeat progress this soon after start may predate it

    def confirm(self, from_id: str) -> bool:
        """Record a confirmation; True when it came from a new, distinct member."""
        if from_id == self.origin or from_id in self.confirmers:
            return False
        self.confirmers.add(from_id)
        return True

    def timeout(self) -> float:
        c = self.k if self.corroborated else len(self.confirmers)
        return suspicion_timeout(self.lo, self.hi, self.k, c)

    def deadline(self) -> float:
        return min(self.start + self.timeout(), self.refused_until)


@dataclass(frozen=True, slots=True)
class Confirmed:
    """A suspicion that expired here: the member is dead, on this node's own evidence."""

    member: str
    incarnation: int
    detector: str  # "swim", or "hybrid" when the heartbeat was stale too (both detectors agree)


@dataclass(slots=True)
class SuspicionStep:
    probe: list[str] = field(default_factory=list)  # probe these members at once, out of round-robin turn
    confirmed: list[Confirmed] = field(default_factory=list)  # declare these dead

    def extend(self, other: SuspicionStep) -> SuspicionStep:
        self.probe.extend(other.probe)
        self.confirmed.extend(other.confirmed)
        return self


class Suspicions:
    """The live suspicions of one node: at most one per member, at the member's current incarnation.

    ``record`` reads a member's entry from the owner's table (state, incarnation, last ack). The
    owner calls ``start`` when a member becomes SUSPECT, ``confirm`` when another member suspects
    the same incarnation, ``cancel`` on any other change of the member, and ``expire`` (and, in
    hybrid mode, ``stale_scan``) from its tick, no later than ``next_deadline``.
    """

    def __init__(
        self,
        config: Config,
        self_id: str,
        health: LocalHealth,
        record: Callable[[str], Record | None],
        hybrid: HybridRule | None = None,
    ) -> None:
        self._cfg = config
        self._id = self_id
        self._health = health
        self._record = record
        self._hybrid = hybrid
        self._live: dict[str, Suspicion] = {}
        # (deadline, tie-breaker, member, incarnation); every deadline change pushes a new entry and
        # entries that no longer match are skipped when popped.
        self._heap: list[tuple[float, int, str, int]] = []
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._live)

    def get(self, member_id: str) -> Suspicion | None:
        """The live suspicion of one member (read-only use), or None."""
        return self._live.get(member_id)

    def start(self, member_id: str, incarnation: int, origin: str, live_count: int, now: float) -> None:
        """``member_id`` became SUSPECT at ``incarnation``, first asserted by ``origin``."""
        if self._cfg.mode == "heartbeat":
            return  # pure van Renesse: only T_fail decides
        lo, hi = suspicion_min_max(self._cfg, live_count)
        s = Suspicion(member_id, incarnation, now, lo, hi, expected_confirmations(self._cfg, live_count), origin)
        if self._hybrid is not None:
            s.veto_window = self._hybrid.veto_window(live_count, lo)
            if self._hybrid.is_stale(member_id, now):
                s.corroborated = True  # hybrid rule (b)
        self._live[member_id] = s
        self._schedule(s)

    def backdate(self, member_id: str, incarnation: int, since: float) -> None:
        """Our own suspicion of ``member_id`` rests on evidence from ``since`` (a failed probe that a
        recheck confirmed, swimfd.core.prober): its timer counts from then."""
        s = self._live.get(member_id)
        if s is None or s.incarnation != incarnation or s.origin != self._id or since >= s.start:
            return
        s.start = since
        self._schedule(s)

    def confirm(self, member_id: str, incarnation: int, from_id: str) -> bool:
        """Lifeguard: ``from_id`` independently suspects the same incarnation. True when it counted
        (a new, distinct confirmer), so the owner gossips the confirmation on."""
        s = self._live.get(member_id)
        if s is None or s.incarnation != incarnation or not s.confirm(from_id):
            return False
        self._schedule(s)
        return True

    def refused(self, member_id: str, incarnation: int, now: float) -> None:
        """A quorum of observers saw ``member_id``'s host refuse us: confirm after ``refusal_grace``."""
        s = self._live.get(member_id)
        if s is None or s.incarnation != incarnation or s.refused_until <= now + self._cfg.refusal_grace_s:
            return
        s.refused_at = now
        s.refused_until = now + self._cfg.refusal_grace_s
        self._schedule(s)

    def cancel(self, member_id: str) -> None:
        """The member is no longer SUSPECT at that incarnation (refuted, dead, left, forgotten)."""
        self._live.pop(member_id, None)

    def next_deadline(self) -> float:
        t = self._heap[0][0] if self._heap else math.inf
        if self._hybrid is not None:
            t = min(t, self._hybrid.next_deadline())
        return t

    def stale_scan(self, now: float) -> SuspicionStep:
        """Hybrid rules (a) and (b) for members whose heartbeat just went stale, then the expiries
        that (b) brought forward. Empty outside hybrid mode."""
        step = SuspicionStep()
        if self._hybrid is None:
            return step
        for mid in self._hybrid.newly_stale(now):
            step.probe.append(mid)  # rule (a): probe it at once
            s = self._live.get(mid)
            if s is not None and not s.corroborated:
                s.corroborated = True  # rule (b): went stale while suspected
                self._schedule(s)
        return step.extend(self.expire(now))

    def expire(self, now: float) -> SuspicionStep:
        """Decide every suspicion whose timer ran out by ``now``."""
        step = SuspicionStep()
        heap = self._heap
        hy = self._hybrid
        while heap and heap[0][0] <= now:
            _, _, mid, inc = heapq.heappop(heap)
            s = self._live.get(mid)
            if s is None or s.incarnation != inc:
                continue
            if hy is not None and not s.corroborated and hy.is_stale(mid, now):
                s.corroborated = True  # rule (b), heartbeat went stale while suspected
                self._schedule(s)
            if s.deadline() > now or s.final_check_until > now:
                # A stale heap entry: every deadline change pushed its own entry, and entries may share
                # a deadline; none may cut short the wait for the final-check probe's answer.
                continue
            if hy is not None and hy.vetoes(mid, s.start, now, s.veto_window):
                # Rule (c): it is still heartbeating; restart and let the buddy ping carry the suspicion to it.
                s.start = now
                s.confirmers.clear()
                s.corroborated = hy.is_stale(mid, now)
                s.refused_until = math.inf
                self._schedule(s)
                step.probe.append(mid)
                continue
            rec = self._record(mid)
            if rec is None or rec.state != SUSPECT or rec.incarnation != inc:
                del self._live[mid]
                continue
            if s.refused_until <= now and rec.last_ack > s.refused_at:
                # It answered us during the grace (restarted at the same address): Lifeguard decides.
                s.refused_until = math.inf
                self._schedule(s)
                continue
            if self._id != s.origin and self._id not in s.confirmers:
                # Final check (no first-hand evidence): see the module docstring.
                if rec.last_ack > s.start:  # it answered us during the suspicion: start over
                    s.start = now
                    s.confirmers.clear()
                    s.final_check = False
                    s.final_check_until = -math.inf
                    self._schedule(s)
                    continue
                if not s.final_check:
                    s.final_check = True
                    s.final_check_until = now + self._health.scale(self._cfg.probe_interval)
                    step.probe.append(mid)
                    self._push(s.final_check_until, mid, inc)
                    continue
            if self._health.lagging(now, self._cfg.probe_interval):
                # Back-pressure: our own event loop runs late, so the silence is likely our fault;
                # look again one (health-scaled) probe period later instead of accusing.
                self._push(now + self._health.scale(self._cfg.probe_interval), mid, inc)
                continue
            del self._live[mid]  # decided; the owner's DEAD merge ends it for good
            step.confirmed.append(Confirmed(mid, inc, hy.detector(mid, now) if hy is not None else "swim"))
        return step

    def _schedule(self, s: Suspicion) -> None:
        self._push(s.deadline(), s.member, s.incarnation)

    def _push(self, deadline: float, member_id: str, incarnation: int) -> None:
        heapq.heappush(self._heap, (deadline, next(self._counter), member_id, incarnation))
