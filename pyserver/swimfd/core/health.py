"""Lifeguard's local health multiplier (Dadgar et al. 2017, arXiv 1707.00788).

A score in [0, awareness_max_multiplier - 1]. Evidence that *this* node is
slow or badly connected raises it (a failed probe whose proxies did not nack,
having to refute a suspicion about ourselves); each successful probe lowers it.
The probe interval and probe timeout are multiplied by (score + 1), so an
unhealthy node probes less often and waits longer before it accuses anyone.

Back-pressure (issue 15, lever 7): the runtime measures how late its event loop wakes up and passes
it in (``observe_lag``). A loop lagging beyond ``max_loop_lag`` is a node too starved to keep its own
timers, so its probes' silence is likely its own fault: it counts like a failed probe (+1), at most
once per probe period so one long stall is one penalty, and successful probes lower the score again.
While its loop lags (``lagging``) a node also defers every confirmation it would make on its own
evidence: during a start-up storm on an overloaded host its probes fail for its own reasons, and
declaring those peers dead only adds load (100 members started at once on 2 cores: thousands of
false failures).
"""

from __future__ import annotations

import math


class LocalHealth:
    def __init__(self, max_multiplier: int) -> None:
        self._max = max(0, max_multiplier - 1)
        self._score = 0
        self._next_lag_penalty = -math.inf
        self._last_lag = -math.inf  # when the loop last ran later than the threshold

    @property
    def score(self) -> int:
        return self._score

    def lagging(self, now: float, period: float) -> bool:
        """Our event loop ran late (beyond the threshold) within the last health-scaled ``period``.
        Such a node confirms no suspicion of its own (``swimfd.core.suspicion``) until it catches up."""
        return now - self._last_lag < self.scale(period)

    @property
    def multiplier(self) -> int:
        return self._score + 1

    def apply(self, delta: int) -> int:
        """Add ``delta`` (clamped to the valid range); return the new score."""
        self._score = min(self._max, max(0, self._score + delta))
        return self._score

    def observe_lag(self, lag: float, now: float, threshold: float, period: float) -> bool:
        """The event loop woke ``lag`` seconds late. True when it counted as a failed probe (+1):
        ``lag`` beyond ``threshold``, and no lag penalty within the last ``period`` seconds."""
        if lag <= threshold:
            return False
        self._last_lag = now
        if now < self._next_lag_penalty:
            return False
        self._next_lag_penalty = now + period
        self.apply(1)
        return True

    def scale(self, seconds: float) -> float:
        return seconds * (self._score + 1)

    @staticmethod
    def failed_probe_delta(expected_nacks: int, received_nacks: int) -> int:
        """Penalty for a failed probe: one per missing nack, or 1 when no proxy could nack.

        When every proxy nacked, our own links work and the target is the one
        that is silent, so our health is not blamed (memberlist does the same).
        """
        if expected_nacks <= 0:
            return 1
        return max(0, expected_nacks - received_nacks)
