"""The hybrid rule: SWIM suspicion arbitrated by van Renesse heartbeat staleness.

In ``hybrid`` mode both detectors run on every member and combine as follows
(CONTRACTS.md section 5, as implemented by swimfd.node):

(a) Early probe: a member whose heartbeat counter has not increased for
    ``stale_after`` seconds is probed directly at once, out of round-robin turn.
(b) Corroboration: while the subject of a SWIM suspicion has a stale
    heartbeat, the heartbeat detector counts as the K independent
    confirmations, so the suspicion timeout is Min.
(c) Veto: when a suspicion expires but the subject's counter increased after
    the suspicion started, this node does not confirm: it restarts the timer
    (without confirmations) and probes the subject at once so that, through
    the buddy system, the subject hears the suspicion and refutes it.
(d) Heartbeat T_fail expiry alone never declares a failure: it starts a SWIM
    suspicion (corroborated by (b)) instead.

``member_failed.detector`` is "hybrid" when the heartbeat was stale at the
moment the SWIM suspicion was confirmed (both detectors agree), else "swim".

``stale_after`` defaults to three times the number of gossip rounds push
gossip needs to reach everyone: log_{M+1}(n) + ln(n) / M rounds for fanout M
(Pittel 1987's log2 n + ln n for M = 1), times T_gossip.
"""

from __future__ import annotations

import math
from collections import OrderedDict

from swimfd.config import Config


def gossip_rounds_to_all(n: int, fanout: int) -> int:
    """Rounds of push gossip with fanout M after which all n members have heard a rumour (w.h.p.)."""
    if n <= 1:
        return 1
    return max(1, math.ceil(math.log(n) / math.log(fanout + 1) + math.log(n) / fanout))


def stale_after(config: Config, n: int) -> float:
    if config.hybrid_stale_after is not None:
        return config.hybrid_stale_after
    return 3 * gossip_rounds_to_all(n, config.gossip_fanout) * config.gossip_interval


class HybridRule:
    """Heartbeat progress bookkeeping for rules (a)-(c); O(1) per progress, no table scans."""

    def __init__(self, config: Config) -> None:
        self._cfg = config
        self._last: dict[str, float] = {}  # member -> when its counter last increased
        self._fresh: OrderedDict[str, None] = OrderedDict()  # not yet stale, oldest progress first
        self._n = 1

    def set_size(self, n: int) -> None:
        self._n = max(1, n)

    @property
    def stale_after(self) -> float:
        return stale_after(self._cfg, self._n)

    def track(self, member_id: str, now: float) -> None:
        """Start watching a (re)joined member; joining counts as progress."""
        self._mark(member_id, now)

    def forget(self, member_id: str) -> None:
        self._last.pop(member_id, None)
        self._fresh.pop(member_id, None)

    def progressed(self, member_ids: list[str], now: float) -> None:
        for mid in member_ids:
            if mid in self._last:
                self._mark(mid, now)

    def _mark(self, member_id: str, now: float) -> None:
        self._last[member_id] = now
        self._fresh[member_id] = None
        self._fresh.move_to_end(member_id)

    def newly_stale(self, now: float) -> list[str]:
        """Rule (a): members that became stale since the last call, each reported once per stale spell."""
        limit = now - self.stale_after
        out: list[str] = []
        while self._fresh:
            mid = next(iter(self._fresh))
            if self._last[mid] > limit:
                break
            self._fresh.popitem(last=False)
            out.append(mid)
        return out

    def next_deadline(self) -> float:
        if not self._fresh:
            return math.inf
        return self._last[next(iter(self._fresh))] + self.stale_after

    def is_stale(self, member_id: str, now: float) -> bool:
        last = self._last.get(member_id)
        return last is not None and now - last >= self.stale_after

    def vetoes(self, member_id: str, suspicion_start: float) -> bool:
        """Rule (c): the counter increased after the suspicion started."""
        last = self._last.get(member_id)
        return last is not None and last > suspicion_start

    def detector(self, member_id: str, now: float) -> str:
        return "hybrid" if self.is_stale(member_id, now) else "swim"
