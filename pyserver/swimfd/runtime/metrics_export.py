"""A detector's counts and its core's state as Prometheus series, in a registry of its own.

Loaded only when a node serves ``/metrics`` (``--metrics-addr``). The collector reads
``DetectorMetrics`` and ``Node.stats`` when Prometheus scrapes (on the event loop, like every core
call), so nothing is copied on the hot path and the core never imports prometheus.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from swimfd.runtime.metrics import DetectorMetrics


class _DetectorCollector(Collector):
    def __init__(self, metrics: DetectorMetrics) -> None:
        self._m = metrics

    def collect(self) -> Iterable[Metric]:
        m = self._m
        messages = CounterMetricFamily(
            "swimfd_messages", "Protocol messages sent and received", labels=["direction", "type"]
        )
        sizes = CounterMetricFamily(
            "swimfd_message_bytes",
            "Serialized bytes of protocol messages sent and received (gRPC framing excluded)",
            labels=["direction", "type"],
        )
        for key in sorted(m.messages):
            messages.add_metric(list(key), m.messages[key])
            sizes.add_metric(list(key), m.bytes[key])
        yield messages
        yield sizes
        suspicions = CounterMetricFamily(
            "swimfd_suspicions",
            "Suspicions as this node saw them: raised, then refuted, confirmed or left",
            labels=["outcome"],
        )
        for outcome, n in sorted(m.suspicions.items()):
            suspicions.add_metric([outcome], n)
        yield suspicions
        events = CounterMetricFamily(
            "swimfd_membership_events", "Membership and leader events, by event name", labels=["event"]
        )
        for name, n in sorted(m.events.items()):
            events.add_metric([name], n)
        yield events
        yield from self._core()

    def _core(self) -> Iterable[Metric]:
        s = self._m.stats()
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
        leader = self._m.leader()
        if leader is not None:
            info = InfoMetricFamily("swimfd_leader", "The leader this node follows")
            info.add_metric([], {"leader": leader.leader.id, "term": str(leader.term)})
            yield info


class PrometheusExport:
    """``render()`` is what /metrics returns."""

    def __init__(self, metrics: DetectorMetrics) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_DetectorCollector(metrics))
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, process_cpu_seconds_total, ...

    def render(self) -> bytes:
        return generate_latest(self.registry)
