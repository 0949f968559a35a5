"""--feign-failure: a pure schedule of pretend failures (chaos testing for the election).

The member pretends to fail after U(0, feign_after_max) seconds, stays "down"
for U(feign_duration_min, feign_duration_max) seconds, recovers, and repeats.
While down the driver (runtime or simulator) drops every incoming message and
sends nothing; when a window ends the member starts an election
(``Election.start(now, reason="recovered")``).

The windows are drawn in order from the injected ``rng`` and never depend on
how often the driver polls, so a seed fixes the whole schedule.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from swimfd.core.config import Config


@dataclass(frozen=True, slots=True)
class FeignState:
    down: bool  # pretending to be failed right now
    recovered: bool  # at least one down window ended since the previous poll: start an election


class FeignSchedule:
    def __init__(self, config: Config, rng: random.Random, now: float) -> None:
        self._after_max = config.feign_after_max
        self._dur_min = config.feign_duration_min
        self._dur_max = config.feign_duration_max
        self._rng = rng
        self._windows: list[tuple[float, float]] = []  # [start, end), in order; old ones are pruned
        self._polled = now
        self._append_after(now)

    def _append_after(self, t: float) -> None:
        start = t + self._rng.uniform(0.0, self._after_max)
        self._windows.append((start, start + self._rng.uniform(self._dur_min, self._dur_max)))

    def _extend_to(self, now: float) -> None:
        while self._windows[-1][1] <= now:
            self._append_after(self._windows[-1][1])

    def down(self, now: float) -> bool:
        """Pretending to be failed at ``now`` (a query; it does not consume recoveries, see ``poll``)."""
        self._extend_to(now)
        return any(start <= now < end for start, end in self._windows)

    def poll(self, now: float) -> FeignState:
        """Advance to ``now``: whether the member is down, and whether a down window ended since the last poll."""
        self._extend_to(now)
        recovered = any(self._polled < end <= now for _, end in self._windows)
        self._polled = max(self._polled, now)
        down = any(start <= now < end for start, end in self._windows)
        # Windows that ended before the last poll can no longer matter.
        self._windows = [w for w in self._windows if w[1] > self._polled] or self._windows[-1:]
        return FeignState(down=down, recovered=recovered)

    def next_deadline(self) -> float:
        """The next time after the last poll at which the state changes (a window starts or ends)."""
        self._extend_to(self._polled)
        for start, end in self._windows:
            if start > self._polled:
                return start
            if end > self._polled:
                return end
        return self._windows[-1][1]  # unreachable: _extend_to leaves a window ending after _polled

    def window(self) -> tuple[float, float]:
        """The current or next down window [start, end) as of the last poll."""
        self._extend_to(self._polled)
        return next(w for w in self._windows if w[1] > self._polled)
