"""EventStream: a bounded queue per consumer that never blocks the node."""

from __future__ import annotations

import asyncio

import pytest

from swimfd.api.records import Event
from swimfd.api.stream import EventStream


def ev(i: int) -> Event:
    return Event(name="member_joined", member=str(i), incarnation=1, at=float(i), source="gossip")


def test_events_come_out_in_order_and_the_stream_ends_after_the_queued_ones() -> None:
    async def go() -> list[str]:
        stream = EventStream(8)
        for i in range(3):
            stream.put(ev(i))
        stream.end()
        stream.put(ev(99))  # after the end: ignored
        got = [e.member async for e in stream]
        assert await stream.next(timeout=0.1) is None  # ended streams stay ended
        return got

    assert asyncio.run(go()) == ["0", "1", "2"]


def test_a_full_queue_drops_the_oldest_and_counts_it() -> None:
    async def go() -> tuple[list[str], int]:
        stream = EventStream(3)
        for i in range(5):
            stream.put(ev(i))
        stream.end()  # the end marker takes a slot too: one more dropped
        return [e.member async for e in stream], stream.dropped

    members, dropped = asyncio.run(go())
    assert members == ["3", "4"]
    assert dropped == 3


def test_close_unsubscribes_once_and_next_times_out_without_events() -> None:
    closed: list[EventStream] = []

    async def go() -> None:
        stream = EventStream(2, on_close=closed.append)
        assert await stream.next(timeout=0.05) is None
        stream.close()
        stream.close()
        assert [e async for e in stream] == []

    asyncio.run(go())
    assert len(closed) == 1


def test_maxsize_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        EventStream(0)
