"""Seeded model of the network between simulated members.

The simulator asks ``transit(src, dst)`` once per message at send time: the
answer is either ``None`` (lost) or the one-way delay in seconds. Everything
that can make a message disappear is decided here:

* uniform loss ``loss`` on every message;
* one-way per-link loss ``set_link_loss(a, b, p)`` (p = 1 makes b unreachable
  from a while b can still reach a: the asymmetric case Rapid and Lifeguard
  care about);
* partitions: ``partition(groups)`` cuts every link between different groups
  until ``heal()``. Members named in no group form one more group together.

Delays are drawn from a uniform ``(min, max)`` range or from any callable that
takes the network's ``random.Random``. Independent random delays let messages
overtake each other, as separate gRPC calls can.

All randomness comes from one ``random.Random`` seeded from ``seed``, so the
same seed and the same sequence of calls give the same fates.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Collection, Sequence

DelayFn = Callable[[random.Random], float]
DelaySpec = tuple[float, float] | DelayFn

_REST = -1  # group index of members named in no partition group


class NetworkError(ValueError):
    """An invalid network parameter (probability or delay out of range)."""


def _check_probability(name: str, p: float) -> float:
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
        raise NetworkError(f"{name}: must be a probability in [0, 1], got {p!r}")
    return float(p)


class Network:
    def __init__(self, loss: float = 0.0, delay: DelaySpec = (0.001, 0.010), seed: int = 0) -> None:
        self._loss = _check_probability("loss", loss)
        self._rng = random.Random(f"swimfd-network-{seed}")  # str seeds hash deterministically (sha512)
        self._delay_fn: DelayFn | None = None
        self._lo = 0.0
        self._span = 0.0
        if callable(delay):
            self._delay_fn = delay
        else:
            try:
                lo, hi = (float(x) for x in delay)
            except (TypeError, ValueError) as e:
                raise NetworkError(f"delay: expected (min_s, max_s) or a callable, got {delay!r}") from e
            if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 <= lo <= hi):
                raise NetworkError(f"delay: need 0 <= min <= max (seconds), got {delay!r}")
            self._lo, self._span = lo, hi - lo
        self._link_loss: dict[tuple[str, str], float] = {}
        self._group: dict[str, int] | None = None

    # ------------------------------------------------------------ settings --

    @property
    def loss(self) -> float:
        return self._loss

    def set_loss(self, p: float) -> None:
        self._loss = _check_probability("loss", p)

    def set_link_loss(self, src: str, dst: str, p: float) -> None:
        """Loss on messages from src to dst only (one way); 0 removes the override."""
        p = _check_probability("link loss", p)
        if p == 0.0:
            self._link_loss.pop((src, dst), None)
        else:
            self._link_loss[(src, dst)] = p

    def partition(self, groups: Sequence[Collection[str]]) -> None:
        """Cut all links between groups. Replaces any earlier partition."""
        assignment: dict[str, int] = {}
        for i, group in enumerate(groups):
            for member in group:
                if member in assignment:
                    raise NetworkError(f"partition: member {member!r} is in more than one group")
                assignment[member] = i
        self._group = assignment

    def heal(self) -> None:
        self._group = None

    @property
    def partitioned(self) -> bool:
        return self._group is not None

    def reachable(self, src: str, dst: str) -> bool:
        """Whether a message from src to dst can arrive at all right now."""
        g = self._group
        if g is not None and g.get(src, _REST) != g.get(dst, _REST):
            return False
        return self._link_loss.get((src, dst), 0.0) < 1.0 and self._loss < 1.0

    # ---------------------------------------------------------------- fate --

    def delay_sample(self) -> float:
        """One delay draw, for reliable exchanges (the join RPC) that loss cannot drop."""
        if self._delay_fn is not None:
            return self._checked(self._delay_fn(self._rng))
        return self._lo + self._span * self._rng.random()

    @staticmethod
    def _checked(d: float) -> float:
        d = float(d)
        if not (math.isfinite(d) and d >= 0.0):
            raise NetworkError(f"delay function returned {d!r}; need a finite delay >= 0")
        return d

    def transit(self, src: str, dst: str) -> float | None:
        """Decide one message's fate: None when lost, else its delay in seconds."""
        g = self._group
        if g is not None and g.get(src, _REST) != g.get(dst, _REST):
            return None
        rnd = self._rng.random
        p = self._loss
        if self._link_loss:
            lp = self._link_loss.get((src, dst))
            if lp is not None:
                p = 1.0 - (1.0 - p) * (1.0 - lp)  # independent drops
        if p and rnd() < p:
            return None
        if self._delay_fn is not None:
            return self._checked(self._delay_fn(self._rng))
        return self._lo + self._span * rnd()
