"""Prometheus metrics of one detector process, in its own registry.

Counters the runtime sees go by (messages in and out, suspicion outcomes,
membership events) are counted as the core's Output and the transport pass
through the runtime. Everything the core holds (members by state, probe
outcomes, refutations of ourselves, Lifeguard health, piggyback queue,
heartbeat staleness, election term and leader) is read from ``Node.stats`` at
scrape time by a collector, so nothing is copied on the hot path and the core
never imports prometheus. docs/running.md, "Metrics", lists every series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

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


class _CoreCollector(Collector):
    """Reads the core's state when Prometheus scrapes (on the event loop, like every core call)."""

    def __init__(self, stats: Callable[[], CoreStats], leader: Callable[[], pb.LeaderInfo | None]) -> None:
        self._stats = stats
        self._leader = leader

    def collect(self) -> Iterable[Metric]:
        s = self._stats()
        members = GaugeMetricFamily(
            "swimfd_members", "Members this node holds, by state (self included)", labels=["state"]
        )
        for state, n in sorted(s.members.items()):
            members.add_metric([state], n)
        yield members
        probes = CounterMetricFamily("swimfd_probes", "Probe outcomes of this node's own probes", labels=["result"])
        for result, n in s.probe_results.items():
            probes.add_metric([result], n)
        yield probes
        yield CounterMetricFamily(
            "swimfd_self_refutations",
            "Incarnation bumps refuting a suspicion or death of this node",
            value=s.self_refutations,
        )
        yield GaugeMetricFamily(
            "swimfd_local_health_score", "Lifeguard local health score (0 is healthy)", value=s.health
        )
        yield GaugeMetricFamily(
            "swimfd_piggyback_queue_length", "Membership updates waiting to be piggybacked", value=s.piggyback_queue
        )
        yield GaugeMetricFamily(
            "swimfd_heartbeat_staleness_seconds",
            "Seconds since the stalest alive member's heartbeat counter rose (0 without heartbeat gossip)",
            value=s.heartbeat_staleness,
        )
        yield GaugeMetricFamily(
            "swimfd_election_term", "Highest election term seen (0 without elections)", value=s.election_term
        )
        leader = self._leader()
        if leader is not None:
            info = InfoMetricFamily("swimfd_leader", "The leader this node follows")
            info.add_metric([], {"leader": leader.leader.id, "term": str(leader.term)})
            yield info


class DetectorMetrics:
    """All series of one detector; ``render()`` is what /metrics returns."""

    def __init__(self, stats: Callable[[], CoreStats], leader: Callable[[], pb.LeaderInfo | None]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._messages = Counter(
            "swimfd_messages", "Protocol messages sent and received", ["direction", "type"], registry=self.registry
        )
        self._bytes = Counter(
            "swimfd_message_bytes",
            "Serialized bytes of protocol messages sent and received (gRPC framing excluded)",
            ["direction", "type"],
            registry=self.registry,
        )
        self._suspicions = Counter(
            "swimfd_suspicions",
            "Suspicions as this node saw them: raised, then refuted, confirmed or left",
            ["outcome"],
            registry=self.registry,
        )
        self._events = Counter(
            "swimfd_membership_events", "Membership and leader events, by event name", ["event"], registry=self.registry
        )
        self.registry.register(_CoreCollector(stats, leader))
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, process_cpu_seconds_total, ...
        self._suspected: set[str] = set()

    def message(self, direction: str, kind: str, size: int) -> None:
        self._messages.labels(direction, kind).inc()
        self._bytes.labels(direction, kind).inc(size)

    def envelope(self, direction: str, env: pb.Envelope) -> None:
        self.message(direction, message_type(env), env.ByteSize())

    def event(self, event: MembershipEvent) -> None:
        self._events.labels(str(event.name)).inc()
        if event.name == EventName.MEMBER_SUSPECTED:
            self._suspected.add(event.member)
            self._suspicions.labels("raised").inc()
            return
        outcome = _SUSPICION_OUTCOME.get(event.name)
        if outcome is not None and event.member in self._suspected:
            self._suspected.discard(event.member)
            self._suspicions.labels(outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
