"""The hybrid rule: SWIM suspicion arbitrated by van Renesse heartbeat staleness.

In ``hybrid`` mode both detectors run on every member and combine as follows
(README.md, "The hybrid rule"; where they act: docs/architecture.md, "One confirmed failure").
``HybridRule`` below reads the heartbeat gossiper and answers each rule's question;
``swimfd.core.suspicion.Suspicions`` acts on (a)-(c) with its timers, and the node
asks ``raises_suspicion`` for (d) when T_fail expires.

(a) Early probe: a member whose heartbeat counter has not increased for
    ``stale_after`` seconds is probed directly at once, out of round-robin turn.
(b) Corroboration: while the subject of a SWIM suspicion has a stale
    heartbeat, the heartbeat detector counts as the K independent
    confirmations, so the suspicion timeout is Min.
(c) Veto: when a suspicion expires but the subject's counter increased after
    the suspicion started *and after the heartbeats already in flight then had
    arrived* (``veto_window``), this node does not confirm: it restarts the timer
    (without confirmations; corroborated again at once if the counter has
    since gone stale) and probes the subject at once so that, through the
    buddy system, the subject hears the suspicion and refutes it.
(d) Heartbeat T_fail expiry alone never declares a failure: it starts a SWIM
    suspicion (corroborated by (b)) instead.

Why the window in (c): a member that crashed just before it was suspected has heartbeats still
spreading through gossip (log n rounds to reach everyone). Counted as progress, they vetoed
suspicions of members already dead and added a whole Min to their detection (simulator, n = 100,
5% loss: p95 18.3 s for every member to know, against swim's 12.7 s). Only an increase observed
later than ``veto_window`` after the suspicion began counts: by then the heartbeats generated
before it have reached every member w.h.p. (``gossip_rounds_to_all``), so the increase was
generated after the suspicion began. The window is at most half of Min, so a live member
always has the other half of the shortest suspicion to show fresh progress.

``member_failed.detector`` is "hybrid" when the heartbeat was stale at the
moment the SWIM suspicion was confirmed (both detectors agree), else "swim".

``stale_after`` defaults to T_fail / 2 (T_fail as the heartbeat detector derives it for the current
group size): halfway to a heartbeat verdict is early enough to help, and far beyond the
round or two by which a live member's counter normally moves. An early probe costs one ping,
so a stale reading that turns out wrong is cheap.

Refinement of (d): when this node has had an ack from the member since its counter last
moved, the expiry raises no suspicion (SWIM has fresher evidence than the heartbeat; only the
gossip path is broken) and the member is probed again instead. Without that, one node whose
gossip links fail would suspect everybody every T_fail.
"""

from __future__ import annotations

import math
from typing import Protocol

from swimfd.core.config import Config


def gossip_rounds_to_all(n: int, fanout: int) -> int:
    """Rounds of push gossip with fanout M after which all n members have heard a rumour (w.h.p.)."""
    if n <= 1:
        return 1
    return max(1, math.ceil(math.log(n) / math.log(fanout + 1) + math.log(n) / fanout))


def stale_after(config: Config, t_fail: float) -> float:
    """Heartbeat silence that makes a member *stale*: ``hybrid_stale_after``, or half of T_fail."""
    if config.hybrid_stale_after is not None:
        return config.hybrid_stale_after
    return t_fail / 2


class HeartbeatView(Protocol):
    """What the rule reads from swimfd.core.heartbeat.HeartbeatGossiper (tests pass a stand-in)."""

    @property
    def t_fail(self) -> float: ...

    def staleness(self, member_id: str, now: float) -> float | None: ...

    def stale_members(self, older_than: float, now: float) -> list[str]: ...


class HybridRule:
    """Rules (a)-(d) and the detector label, read off the heartbeat gossiper's own bookkeeping.

    Nothing here is O(n) in Python: staleness is one lookup, and the scan for rule (a) is one
    vectorised pass over the gossiper's arrays, at most once per gossip interval.
    """

    def __init__(self, config: Config, heartbeat: HeartbeatView) -> None:
        self._cfg = config
        self._hb = heartbeat
        self._stale: set[str] = set()  # members already reported stale in their current stale spell
        self._next_scan = -math.inf

    @property
    def stale_after(self) -> float:
        return stale_after(self._cfg, self._hb.t_fail)

    def newly_stale(self, now: float) -> list[str]:
        """Rule (a): members that became stale since the last scan, each once per stale spell."""
        if now < self._next_scan:
            return []
        self._next_scan = now + self._cfg.gossip_interval
        current = set(self._hb.stale_members(self.stale_after, now))
        fresh = [m for m in current if m not in self._stale]
        fresh.sort()  # set order is not deterministic across processes; the rng-driven probe order must be
        self._stale = current
        return fresh

    def next_deadline(self) -> float:
        return self._next_scan

    def is_stale(self, member_id: str, now: float) -> bool:
        s = self._hb.staleness(member_id, now)
        return s is not None and s >= self.stale_after

    def veto_window(self, n: int, min_timeout: float) -> float:
        """Rule (c): seconds after a suspicion starts during which heartbeat increases may still be
        progress generated before it (in flight): gossip's spread time to all ``n`` members, capped
        at half the Min suspicion timeout ``min_timeout``."""
        spread = gossip_rounds_to_all(n, self._cfg.gossip_fanout) * self._cfg.gossip_interval
        return min(spread, min_timeout / 2)

    def vetoes(self, member_id: str, suspicion_start: float, now: float, window: float = 0.0) -> bool:
        """Rule (c): the counter increased later than ``window`` (``veto_window``) after the suspicion started."""
        s = self._hb.staleness(member_id, now)
        return s is not None and now - s > suspicion_start + window

    def raises_suspicion(self, member_id: str, last_ack: float, now: float) -> bool:
        """Rule (d) on T_fail expiry: True to raise a SWIM suspicion; False (only probe the member)
        when ``last_ack``, our latest ack from it, is newer than its last heartbeat increase."""
        silent = self._hb.staleness(member_id, now)
        return not (silent is not None and last_ack > now - silent)

    def detector(self, member_id: str, now: float) -> str:
        return "hybrid" if self.is_stale(member_id, now) else "swim"
