"""The detector's Prometheus series (swimfd.runtime.metrics counts, swimfd.runtime.metrics_export renders): names,
labels, and what moves them."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from swimfd.core.events import EventName, MembershipEvent, Source
from swimfd.core.stats import CoreStats
from swimfd.pb import swim_pb2 as pb
from swimfd.runtime.metrics import DetectorMetrics, message_type
from swimfd.runtime.metrics_export import PrometheusExport

STATS = CoreStats(
    members={"alive": 3, "suspect": 1, "dead": 2, "left": 0},
    probe_results={"ack": 10, "indirect_ack": 2, "nack": 1, "timeout": 3},
    self_refutations=4,
    health=2,
    piggyback_queue=7,
    heartbeat_staleness=1.25,
    election_term=5,
)


def samples(m: DetectorMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = PrometheusExport(m).render().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def ev(name: EventName, member: str) -> MembershipEvent:
    return MembershipEvent(name, member, 1, 0.0, Source.LOCAL)


def test_core_state_is_read_at_scrape_time() -> None:
    leader = pb.LeaderInfo(leader=pb.ElectionIdentity(id="3", priority=0), term=5)
    m = DetectorMetrics(lambda: STATS, lambda: leader)
    s = samples(m)
    assert s[("swimfd_members", (("state", "alive"),))] == 3
    assert s[("swimfd_members", (("state", "dead"),))] == 2
    assert s[("swimfd_probes_total", (("result", "indirect_ack"),))] == 2
    assert s[("swimfd_probes_total", (("result", "timeout"),))] == 3
    assert s[("swimfd_self_refutations_total", ())] == 4
    assert s[("swimfd_local_health_score", ())] == 2
    assert s[("swimfd_piggyback_queue_length", ())] == 7
    assert s[("swimfd_heartbeat_staleness_seconds", ())] == 1.25
    assert s[("swimfd_election_term", ())] == 5
    assert s[("swimfd_leader_info", (("leader", "3"), ("term", "5")))] == 1
    assert s[("process_resident_memory_bytes", ())] > 0  # the process's own CPU and memory, for sizing


def test_no_leader_no_leader_series() -> None:
    s = samples(DetectorMetrics(lambda: STATS, lambda: None))
    assert not any(name == "swimfd_leader_info" for name, _ in s)


def test_suspicion_outcomes_follow_each_member_once() -> None:
    m = DetectorMetrics(lambda: STATS, lambda: None)
    for e in [
        ev(EventName.MEMBER_SUSPECTED, "b"),
        ev(EventName.MEMBER_ALIVE, "b"),  # refuted
        ev(EventName.MEMBER_ALIVE, "b"),  # no suspicion open: not counted again
        ev(EventName.MEMBER_SUSPECTED, "c"),
        ev(EventName.MEMBER_FAILED, "c"),  # confirmed
        ev(EventName.MEMBER_FAILED, "d"),  # failed without our suspicion (e.g. heartbeat mode): not a confirmation
        ev(EventName.MEMBER_SUSPECTED, "e"),
        ev(EventName.MEMBER_LEFT, "e"),
    ]:
        m.event(e)
    s = samples(m)
    outcomes = {dict(labels)["outcome"]: v for (name, labels), v in s.items() if name == "swimfd_suspicions_total"}
    assert outcomes == {"raised": 3, "refuted": 1, "confirmed": 1, "left": 1}
    assert s[("swimfd_membership_events_total", (("event", "member_failed"),))] == 2


def test_messages_and_bytes_by_direction_and_type() -> None:
    m = DetectorMetrics(lambda: STATS, lambda: None)
    ping = pb.Envelope(header=pb.Header(sender="a"), ping=pb.Ping(seq=1, target="b"))
    only_updates = pb.Envelope(header=pb.Header(sender="a"), updates=[pb.Update(member=pb.Member(id="c"))])
    assert (message_type(ping), message_type(only_updates)) == ("ping", "updates")
    m.envelope("out", ping)
    m.envelope("out", ping)
    m.envelope("in", only_updates)
    m.message("in", "join", 40)
    s = samples(m)
    assert s[("swimfd_messages_total", (("direction", "out"), ("type", "ping")))] == 2
    assert s[("swimfd_message_bytes_total", (("direction", "out"), ("type", "ping")))] == 2 * ping.ByteSize()
    assert s[("swimfd_messages_total", (("direction", "in"), ("type", "updates")))] == 1
    assert s[("swimfd_message_bytes_total", (("direction", "in"), ("type", "join")))] == 40


def test_each_runtime_has_its_own_registry() -> None:
    a = DetectorMetrics(lambda: STATS, lambda: None)
    b = DetectorMetrics(lambda: STATS, lambda: None)
    a.message("in", "join", 10)
    assert ("swimfd_messages_total", (("direction", "in"), ("type", "join"))) not in samples(b)
