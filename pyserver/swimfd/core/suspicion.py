"""Lifeguard's local-health-aware suspicion timeout (arXiv 1707.00788).

A suspicion starts with the long timeout Max and shrinks as distinct members
independently confirm it (suspect the same incarnation):

    timeout(C) = max(Min, Max - (Max - Min) * ln(C + 1) / ln(K + 1))

with Min = SuspicionMult * max(1, log10 n) * ProbeInterval, Max =
SuspicionMaxTimeoutMult * Min and K = SuspicionMult - 2 confirmations expected
(K = 0, i.e. the timeout is Min at once, when fewer than K + 2 members exist
to confirm). The originator of the suspicion is not a confirmer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from swimfd.core.config import Config


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
        return self.start + self.timeout()
