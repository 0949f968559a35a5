"""What one detector process counts for its metrics, on the hot path, with no metrics library.

Counters the runtime sees go by (messages in and out, suspicion outcomes, membership events) are
plain ``collections.Counter`` increments as the core's Output and the transport pass through the
runtime: no lock and no label lookup per message, and a detector without ``--metrics-addr`` never
loads prometheus_client or aiohttp (about 15 MB of its resident memory). Everything the core holds
is read from ``Node.stats`` at scrape time. ``swimfd.runtime.metrics_export`` turns both into
Prometheus series; docs/running.md, "Metrics", lists every series.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from swimfd.core.events import EventName, MembershipEvent
from swimfd.core.stats import CoreStats
from swimfd.pb import swim_pb2 as pb

# Events that end a suspicion as this node saw it, and the outcome each one counts as.
_SUSPICION_OUTCOME: dict[EventName, str] = {
    EventName.MEMBER_ALIVE: "refuted",
    EventName.MEMBER_FAILED: "confirmed",
    EventName.MEMBER_LEFT: "left",
    EventName.MEMBER_REMOVED: "left",
}


def message_type(env: pb.Envelope) -> str:
    """The label of an envelope: its body (ping, ack, ping_req, nack, gossip, elect, ...) or "updates"."""
    return env.WhichOneof("body") or "updates"


class DetectorMetrics:
    """The counts of one detector, and where its core's state is read at scrape time."""

    def __init__(self, stats: Callable[[], CoreStats], leader: Callable[[], pb.LeaderInfo | None]) -> None:
        self.stats = stats
        self.leader = leader
        self.messages: Counter[tuple[str, str]] = Counter()  # (direction, type) -> messages
        self.bytes: Counter[tuple[str, str]] = Counter()  # (direction, type) -> serialized bytes
        self.suspicions: Counter[str] = Counter()  # outcome -> count
        self.events: Counter[str] = Counter()  # event name -> count
        self._suspected: set[str] = set()

    def message(self, direction: str, kind: str, size: int) -> None:
        key = (direction, kind)
        self.messages[key] += 1
        self.bytes[key] += size

    def envelope(self, direction: str, env: pb.Envelope) -> None:
        self.message(direction, message_type(env), env.ByteSize())

    def event(self, event: MembershipEvent) -> None:
        self.events[str(event.name)] += 1
        if event.name == EventName.MEMBER_SUSPECTED:
            self._suspected.add(event.member)
            self.suspicions["raised"] += 1
            return
        outcome = _SUSPICION_OUTCOME.get(event.name)
        if outcome is not None and event.member in self._suspected:
            self._suspected.discard(event.member)
            self.suspicions[outcome] += 1
