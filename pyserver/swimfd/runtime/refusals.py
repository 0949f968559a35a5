"""Every refusal is visible: one structured warning per (peer, reason), then summaries, and counters.

A refused call (bad header, identity, malformed body) or a refused part of an accepted message (an
implausible claim, a ping-req for a non-member: ``swimfd.core.events.Refusal``) is logged as
``request_refused`` with the peer's address, the sender it claimed and the reason, the first time
each (peer, reason) pair is seen within a window; later ones are counted and reported together in
one ``refusals_suppressed`` line per window. ``counts`` (by reason) goes into transport_stats.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from swimfd.runtime.logs import Logger

SUMMARY_EVERY = 10.0  # seconds between refusals_suppressed summaries
MAX_KEYS = 4096  # (peer, reason) pairs remembered per window: a flood of distinct peers stays bounded


class RefusalLog:
    def __init__(self, log: Logger, every: float = SUMMARY_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self._log = log
        self._every = every
        self._clock = clock
        self._window_start = clock()
        self._seen: set[tuple[str, str]] = set()
        self._suppressed: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()  # every refusal since start, by reason

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def note(self, *, peer: str, sender: str, reason: str, detail: str, rpc: str = "", subject: str = "") -> None:
        """Count one refusal; log it unless this (peer, reason) was already logged in this window."""
        self.counts[reason] += 1
        self.flush()
        key = (peer, reason)
        if key in self._seen or len(self._seen) >= MAX_KEYS:
            self._suppressed[reason] += 1
            return
        self._seen.add(key)
        self._log.warning(
            "request_refused", peer=peer, sender=sender, reason=reason, detail=detail, rpc=rpc, subject=subject
        )

    def flush(self) -> None:
        """Close the window when it is over: log what was suppressed in it and forget the pairs seen."""
        now = self._clock()
        if now - self._window_start < self._every:
            return
        if self._suppressed:
            self._log.warning(
                "refusals_suppressed",
                window_s=round(now - self._window_start, 3),
                by_reason=dict(self._suppressed),
                total=sum(self._suppressed.values()),
            )
        self._window_start = now
        self._seen.clear()
        self._suppressed.clear()
