"""Live membership events for Watch subscribers and event handlers: one shape, bounded queues.

An event leaves the runtime as a *payload*: the dict of its log line
(``event``, ``node``, ``member``, ``incarnation``, ``source``, ``ts``, then
``detector``, ``addr`` and the event's extras). Watch sends it as a
``WatchEvent``; ``--on-event`` handlers get it as JSON; ``swimfd members
--watch --json`` prints it back as the same dict.

Each subscriber has its own bounded queue. A reader that falls behind loses
the oldest events, never the newest, and is told how many with one "lagged"
message, so the event loop never waits for a slow client.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from swimfd.core.events import MembershipEvent
from swimfd.pb import swim_pb2 as pb
from swimfd.runtime.logs import event_fields

MAX_SUBSCRIBERS = 64  # Watch streams served at once; more are refused with RESOURCE_EXHAUSTED
QUEUE_LENGTH = 1024  # events queued per subscriber before the oldest are dropped
SNAPSHOT = "snapshot"
LAGGED = "lagged"
_CONTRACT = ("event", "node", "member", "incarnation", "source", "detector", "ts", "addr")


def event_payload(event: MembershipEvent, node: str, epoch_offset: float) -> dict[str, Any]:
    return {"event": str(event.name), "node": node, **event_fields(event, epoch_offset)}


def to_watch_event(payload: dict[str, Any]) -> pb.WatchEvent:
    we = pb.WatchEvent(
        event=payload["event"],
        node=payload.get("node", ""),
        member=payload.get("member", ""),
        incarnation=int(payload.get("incarnation", 0)),
        source=payload.get("source", ""),
        detector=payload.get("detector") or "",
        timestamp=float(payload.get("ts", 0.0)),
        addr=payload.get("addr", ""),
    )
    for key, value in payload.items():
        if key not in _CONTRACT:
            we.extra[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return we


def from_watch_event(we: pb.WatchEvent) -> dict[str, Any]:
    """The payload a WatchEvent carries (snapshot and lagged messages give their own fields)."""
    out: dict[str, Any] = {"event": we.event, "node": we.node}
    if we.event == LAGGED:
        out["dropped"] = we.dropped
        return out
    if we.event != SNAPSHOT:
        out.update(member=we.member, incarnation=we.incarnation, source=we.source, ts=we.timestamp)
        if we.detector:
            out["detector"] = we.detector
        if we.addr:
            out["addr"] = we.addr
        out.update(dict(we.extra))
    return out


class TooManySubscribers(RuntimeError):
    pass


class Subscription:
    def __init__(self, node: str, maxlen: int) -> None:
        self._node = node
        self._maxlen = maxlen
        self._queue: deque[pb.WatchEvent] = deque()
        self._dropped = 0
        self._ready = asyncio.Event()
        self._closed = False

    def put(self, we: pb.WatchEvent) -> None:
        if len(self._queue) >= self._maxlen:
            self._queue.popleft()
            self._dropped += 1
        self._queue.append(we)
        self._ready.set()

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    async def get(self) -> pb.WatchEvent | None:
        """The next message: a "lagged" marker first when events were dropped; None once closed."""
        while True:
            if self._dropped:
                we = pb.WatchEvent(event=LAGGED, node=self._node, dropped=self._dropped)
                self._dropped = 0
                return we
            if self._queue:
                return self._queue.popleft()
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()


class WatchHub:
    def __init__(self, node: str, max_subscribers: int = MAX_SUBSCRIBERS, queue_length: int = QUEUE_LENGTH) -> None:
        self._node = node
        self._max = max_subscribers
        self._queue_length = queue_length
        self._subs: set[Subscription] = set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._subs)

    def subscribe(self) -> Subscription:
        if len(self._subs) >= self._max:
            raise TooManySubscribers(f"{self._max} Watch streams are open already")
        sub = Subscription(self._node, self._queue_length)
        if self._closed:
            sub.close()
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def publish(self, payload: dict[str, Any]) -> None:
        if not self._subs:
            return
        we = to_watch_event(payload)  # built once, shared read-only by every subscriber
        for sub in self._subs:
            sub.put(we)

    def close(self) -> None:
        """End every stream (the node is stopping): subscribers get their queued events, then None."""
        self._closed = True
        for sub in self._subs:
            sub.close()
