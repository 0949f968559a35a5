"""The event-loop lag probe (swimfd.runtime.lag): a blocked loop shows up as lag, an idle one as ~0."""

from __future__ import annotations

import asyncio
import time

from swimfd.runtime.lag import watch_lag


def test_lag_measures_how_late_the_timer_wakes() -> None:
    seen: list[float] = []

    async def main() -> None:
        stop = False

        def on_lag(lag: float, now: float) -> None:
            seen.append(lag)

        task = asyncio.get_running_loop().create_task(watch_lag(on_lag, period=0.02, stopping=lambda: stop))
        await asyncio.sleep(0.1)  # a few idle wake-ups
        time.sleep(0.3)  # block the loop: the next wake-up is ~0.3 s late
        await asyncio.sleep(0.05)
        stop = True
        await asyncio.wait_for(task, 1.0)

    asyncio.run(main())
    assert len(seen) >= 3
    assert max(seen) >= 0.25  # the blocked stretch
    assert min(seen) < 0.1  # idle wake-ups are on time (generous bound for a loaded CI machine)
    assert all(lag >= 0 for lag in seen)
