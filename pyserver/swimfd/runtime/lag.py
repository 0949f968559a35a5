"""Event-loop lag: how late a timer that should wake every ``period`` seconds actually wakes.

Back-pressure (issue 15, lever 7): a detector whose loop runs late (CPU starvation, a stalled
host) cannot keep its own probe timeouts, so the silence it measures is partly its own. The
runtime measures the lag here and hands it to the core (``Node.observe_lag``), whose local-health
rule (``swimfd.core.health``) decides what it means.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

# Seconds between two wake-ups. A stall longer than the period always delays some wake-up, so the
# period is the default max_loop_lag (0.25 s): every stall that matters is seen. At 10 wakes/s the
# timer alone cost 0.12% of a core, a third of an idle swim detector's CPU; at 4 it costs ~0.05%.
LAG_PERIOD = 0.25


async def watch_lag(
    on_lag: Callable[[float, float], None],
    period: float = LAG_PERIOD,
    clock: Callable[[], float] = time.monotonic,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """Call ``on_lag(lag, now)`` after every wake-up, ``lag`` >= 0 being how late it came, until ``stopping()``."""
    while not stopping():
        expected = clock() + period
        await asyncio.sleep(period)
        now = clock()
        on_lag(max(0.0, now - expected), now)
