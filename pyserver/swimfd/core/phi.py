"""Phi accrual failure detection (Hayashibara, Defago, Yared, Katayama, SRDS 2004).

For each monitored member we keep a sliding window of the last ``window`` inter-arrival times
of its heartbeat *increases*, fit a normal distribution (mean ``mu``, standard deviation
``sigma``) and report

    phi(t) = -log10(1 - F(t)),   F = CDF of N(mu, sigma^2),  t = time since the last increase.

phi grows without bound while the member stays silent; crossing a threshold ``Phi`` declares it
failed. Because phi is monotone in ``t``, "phi > Phi" is the same as ``t > mu + z * sigma`` with
``z = Phi^-1(1 - 10^-Phi)`` (standard normal quantile). The heartbeat gossiper uses that form:
one vectorised comparison per tick and an exact deadline for ``next_deadline``.

``sigma`` is floored at ``min_std`` and ``acceptable_pause`` is added to ``mu``, as Akka does
(acceptable-heartbeat-pause). Gossip makes both necessary: with a regular schedule the observed
intervals can be almost constant (a zero deviation would make one late message fatal), and with
random targets the gaps between observed increases are roughly geometric, whose tail is far
heavier than the normal fit's. Without the pause a threshold of 8 does not mean 10^-8: in a
100-member simulation nearly every member was wrongly declared failed at least once, and every
such mistake is broadcast. With the 3 s default the same runs (0% and 5% loss) had none.

Storage is a numpy ring buffer per slot (``capacity x window`` float64), kept in step with the
slot arrays of :class:`swimfd.core.heartbeat.HeartbeatGossiper`; running sums make adding a sample
O(1) per member.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

MIN_SAMPLES = 10  # below this the fit is too noisy to trust; callers fall back to a fixed timeout
_MAX_THRESHOLD = 300.0  # 10**-phi underflows beyond this; a larger threshold means "never"


def phi(elapsed: float, mean: float, std: float) -> float:
    """phi for ``elapsed`` seconds of silence given the fitted interval distribution."""
    if std <= 0:
        raise ValueError(f"std must be positive, got {std!r}")
    tail = 0.5 * math.erfc((elapsed - mean) / (std * math.sqrt(2.0)))  # 1 - F(elapsed)
    if tail <= 0.0:
        return math.inf
    return -math.log10(tail)


def threshold_z(threshold: float) -> float:
    """``z`` such that ``phi(mean + z * std, mean, std) == threshold``."""
    if threshold <= 0:
        raise ValueError(f"phi threshold must be positive, got {threshold!r}")
    if threshold >= _MAX_THRESHOLD:
        return math.inf
    return -NormalDist().inv_cdf(10.0**-threshold)


class PhiWindows:
    """Sliding windows of inter-arrival times for many members, indexed by slot."""

    def __init__(self, window: int, min_std: float, capacity: int, acceptable_pause: float = 0.0) -> None:
        if window < 2:
            raise ValueError(f"phi window must hold at least 2 samples, got {window}")
        if min_std <= 0:
            raise ValueError(f"phi min_std must be positive, got {min_std}")
        if acceptable_pause < 0:
            raise ValueError(f"phi acceptable_pause must be >= 0, got {acceptable_pause}")
        self.window = window
        self.min_std = min_std
        self.acceptable_pause = acceptable_pause
        self._buf = np.zeros((capacity, window), dtype=np.float64)
        self._count = np.zeros(capacity, dtype=np.int64)
        self._pos = np.zeros(capacity, dtype=np.int64)
        self._sum = np.zeros(capacity, dtype=np.float64)
        self._sumsq = np.zeros(capacity, dtype=np.float64)

    @property
    def capacity(self) -> int:
        return len(self._count)

    def grow(self, capacity: int) -> None:
        extra = capacity - self.capacity
        if extra <= 0:
            return
        self._buf = np.vstack([self._buf, np.zeros((extra, self.window))])
        self._count = np.concatenate([self._count, np.zeros(extra, dtype=np.int64)])
        self._pos = np.concatenate([self._pos, np.zeros(extra, dtype=np.int64)])
        self._sum = np.concatenate([self._sum, np.zeros(extra)])
        self._sumsq = np.concatenate([self._sumsq, np.zeros(extra)])

    def reset(self, slots: np.ndarray | slice | int) -> None:
        self._buf[slots] = 0.0
        self._count[slots] = 0
        self._pos[slots] = 0
        self._sum[slots] = 0.0
        self._sumsq[slots] = 0.0

    def move(self, src: int, dst: int) -> None:
        """Copy slot ``src`` into ``dst`` (the gossiper compacts its arrays on removal)."""
        self._buf[dst] = self._buf[src]
        for arr in (self._count, self._pos, self._sum, self._sumsq):
            arr[dst] = arr[src]

    def add(self, slots: np.ndarray, intervals: np.ndarray) -> None:
        """Record one interval per slot. ``slots`` must not contain duplicates."""
        if len(slots) == 0:
            return
        pos = self._pos[slots]
        old = self._buf[slots, pos]
        self._buf[slots, pos] = intervals
        self._sum[slots] += intervals - old
        self._sumsq[slots] += intervals * intervals - old * old
        self._pos[slots] = (pos + 1) % self.window
        self._count[slots] = np.minimum(self._count[slots] + 1, self.window)

    def count(self, slot: int) -> int:
        return int(self._count[slot])

    def mean_std(self, slots: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray]:
        """Fitted mean (plus the acceptable pause) and floored standard deviation.

        Undefined where count < MIN_SAMPLES.
        """
        cnt = np.maximum(self._count[slots], 1).astype(np.float64)
        mean = self._sum[slots] / cnt
        var = np.maximum(self._sumsq[slots] / cnt - mean * mean, 0.0)
        return mean + self.acceptable_pause, np.maximum(np.sqrt(var), self.min_std)

    def timeouts(self, slots: np.ndarray | slice, z: float) -> np.ndarray:
        """Silence after which phi exceeds the threshold; NaN where there are too few samples."""
        mean, std = self.mean_std(slots)
        out = mean + z * std
        out[self._count[slots] < MIN_SAMPLES] = np.nan
        return out

    def phi(self, slot: int, elapsed: float) -> float | None:
        """phi of one slot after ``elapsed`` seconds of silence; None with too few samples."""
        if self._count[slot] < MIN_SAMPLES:
            return None
        mean, std = self.mean_std(np.array([slot]))
        return phi(elapsed, float(mean[0]), float(std[0]))
