"""One consumer's events: a bounded queue that never blocks the node.

The node puts events from its event loop and must never wait for a slow
consumer, so a full queue drops its oldest event and counts it in ``dropped``:
the consumer keeps the latest news, and ``Node.members()`` is the authoritative
view whenever it needs to resynchronise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

from swimfd.api.records import Event

DEFAULT_MAXSIZE: Final = 1024


class _End:
    """Marks the end of the stream (the node stopped, or the consumer closed it)."""


_END: Final = _End()


class EventStream:
    """Async iterator of Events, from the moment it was created until the node stops or ``close()``."""

    def __init__(self, maxsize: int = DEFAULT_MAXSIZE, on_close: Callable[[EventStream], None] | None = None) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self._queue: asyncio.Queue[Event | _End] = asyncio.Queue(maxsize)
        self._on_close = on_close
        self._ended = False
        self.dropped = 0  # events lost because the consumer fell more than maxsize behind

    def put(self, event: Event) -> None:
        if self._ended:
            return
        self._put(event)

    def _put(self, item: Event | _End) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(item)

    def end(self) -> None:
        """No more events: iteration stops once the ones already queued are read."""
        if not self._ended:
            self._ended = True
            self._put(_END)

    def close(self) -> None:
        """Stop receiving events (the consumer is done); iteration ends after those already queued."""
        self.end()
        if self._on_close is not None:
            self._on_close(self)
            self._on_close = None

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        item = await self._queue.get()
        if isinstance(item, _End):
            self._queue.put_nowait(item)  # later calls end too
            raise StopAsyncIteration
        return item

    async def next(self, timeout: float | None = None) -> Event | None:
        """The next event, or None when the stream ended or ``timeout`` seconds passed without one."""
        try:
            return await asyncio.wait_for(self.__anext__(), timeout)
        except (StopAsyncIteration, TimeoutError):
            return None
