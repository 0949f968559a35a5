"""Back-pressure against start-up storms and accusation cascades (issue 15, lever 7).

Two rules; the third, event-loop lag as local-health evidence, lives in ``swimfd.core.health``.

* ``StartupGrace``: when many members start at once, the first probes reach processes that are not
  listening yet, and a slow start looked like a mass failure (100 members on one 2-core host logged
  thousands of false failures). A member that has not answered any of our probes since we started
  is probed in its turn but not suspected until the grace has passed (default: the Min suspicion
  timeout of a small group, ``suspicion_mult`` probe periods, 4 s: a member that never came up is
  caught that much later, and a crash 10 s after a cold start, as in the simulator's tables, is not
  delayed at any group size).
  A member that answered once is suspected as usual: it was up, and its silence now is news.
* ``AccusationBudget``: each new suspicion asks for one extra out-of-turn probe (the buddy system
  telling the suspect at once). When a node suspects many members together (it is itself starved
  or cut off) those extra probes would add load exactly when it hurts; at most ``limit`` such
  probes are requested per probe period, the rest wait for their round-robin turn.
"""

from __future__ import annotations

import math

from swimfd.core.config import Config


def startup_grace(config: Config) -> float:
    """Seconds after bootstrap during which members that never answered are not suspected."""
    if config.startup_grace is not None:
        return config.startup_grace
    return config.suspicion_mult * config.probe_interval


class StartupGrace:
    """Members that never answered since start are not suspected before ``until``."""

    def __init__(self, until: float = -math.inf) -> None:
        self.until = until

    def holds(self, last_ack: float, now: float) -> bool:
        """True when a failed probe of a member last acked at ``last_ack`` must not raise a suspicion."""
        return now < self.until and last_ack == -math.inf


class AccusationBudget:
    """At most ``limit`` extra probes per ``period`` seconds (a fixed window starting at its first use)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._window_end = -math.inf
        self._used = 0
        self.denied = 0  # requests refused since start, for tests and metrics

    def take(self, now: float, period: float) -> bool:
        if now >= self._window_end:
            self._window_end = now + period
            self._used = 0
        if self._used < self._limit:
            self._used += 1
            return True
        self.denied += 1
        return False
