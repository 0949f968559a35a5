"""The simulator's machinery, driven by a tiny echo core (tests/sim/echo_node.py)."""

from __future__ import annotations

import pytest
from echo_node import EchoError, EchoNode, SharedEnvelopeNode, echo_factory

from swimfd.core.config import Config
from swimfd.pb import swim_pb2 as pb
from swimfd.sim.engine import SimulationError, Simulator
from swimfd.sim.network import Network

CONFIG = Config(election=False)


def make(n: int = 5, seed: int = 1, network: Network | None = None, cls: type[EchoNode] = EchoNode, **kw) -> Simulator:
    return Simulator(
        n, CONFIG, seed=seed, network=network, node_factory=echo_factory(cls), protocol_error=EchoError, **kw
    )


def log_of(sim: Simulator) -> list[tuple]:
    return [(o, e.name, e.member, e.at) for o, e in sim.events]


def node(sim: Simulator, member: str) -> EchoNode:
    n = sim.nodes[member]
    assert isinstance(n, EchoNode)
    return n


def test_same_seed_identical_event_log_and_counters() -> None:
    def scenario(seed: int) -> tuple:
        sim = make(8, seed=seed, network=Network(loss=0.3, seed=seed))
        sim.crash("3", at=10.0)
        sim.run(40.0)
        return log_of(sim), sim.sent_messages, sim.sent_bytes, sim.lost_messages

    first, second, other = scenario(4), scenario(4), scenario(5)
    assert first == second
    assert first[0]  # loss at 30% makes the echo detector report things
    assert first != other


def test_together_boot_starts_every_process_at_zero_and_first_ticks_at_a_phase() -> None:
    sim = make(3, start_stagger=1.0)
    sim.run(5.0)
    phases = []
    for m in sim.ids:
        assert sim.truth.started[m] == 0.0
        ticks = node(sim, m).ticks
        phases.append(ticks[0])
        assert 0.0 <= ticks[0] < 1.0
        # the echo core anchors its periods at its creation time (0): later ticks are at its deadlines
        assert ticks[1:] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert len(set(phases)) == 3
    # everyone was up from the start, so even the earliest pings reached their targets
    assert sim.undelivered == 0


def test_staggered_boot_starts_processes_at_their_phase() -> None:
    sim = make(3, start_stagger=1.0, boot="staggered")
    sim.run(5.0)
    for m in sim.ids:
        start = sim.truth.started[m]
        assert 0.0 < start < 1.0
        ticks = node(sim, m).ticks
        assert ticks == pytest.approx([start + k for k in range(len(ticks))]) and len(ticks) == 5
    # a first ping from a to b is lost when b starts after it arrives (delays are at most 10 ms)
    starts = sim.truth.started
    surely = sum(1 for a in starts for b in starts if starts[b] - starts[a] > 0.010)
    maybe = sum(1 for a in starts for b in starts if starts[b] > starts[a])
    assert surely >= 2 and surely <= sim.undelivered <= maybe


def test_crash_is_detected_and_crashed_member_receives_nothing() -> None:
    sim = make(5)
    sim.crash("2", at=10.0)
    sim.run(20.0)
    crashed = node(sim, "2")
    assert all(t < 10.0 for t, _, _ in crashed.received)
    assert all(t < 10.0 for t in crashed.ticks)
    reports = {o: e.at for o, e in sim.events if e.name == "member_failed" and e.member == "2"}
    assert sorted(reports) == ["1", "3", "4", "5"]
    # 2 was last heard (its ping or ack) within 1 s before the crash; failure is declared at the first
    # tick more than fail_after later
    assert all(9.0 + EchoNode.fail_after < t <= 10.0 + EchoNode.fail_after + 1.1 for t in reports.values())
    result = sim.result()
    assert result["killed"] == 1 and result["detected_by_all"] == 1
    assert result["false_positives"] == 0
    assert result["detect_all_s"]["max"] == pytest.approx(max(reports.values()) - 10.0)
    assert result["converged"] is True
    assert sim.undelivered > 0  # pings to the crashed member went nowhere


def test_bytes_are_real_envelope_sizes_even_for_a_shared_envelope() -> None:
    sim = make(4, cls=SharedEnvelopeNode)
    sim.run(3.5)
    sent = [env for m in sim.ids for env in node(sim, m).sent]
    pings = [env for env in sent if env.HasField("ping")]
    assert pings and len({id(env) for env in pings}) * 3 == len(pings)  # each ping object went to 3 peers
    assert sim.sent_messages == len(sent)
    assert sim.sent_bytes == sum(env.ByteSize() for env in sent)


def test_bytes_and_messages_count_every_echo_message() -> None:
    sim = make(4, network=Network(loss=0.5, seed=2))
    sim.run(6.0)
    sent = [env for m in sim.ids for env in node(sim, m).sent]
    assert sim.sent_messages == len(sent)
    assert sim.sent_bytes == sum(env.ByteSize() for env in sent)
    assert 0 < sim.lost_messages < sim.sent_messages


def test_partition_causes_failures_across_groups_and_heal_brings_them_back() -> None:
    sim = make(6)
    sim.partition([{"1", "2", "3"}, {"4", "5", "6"}], at=5.0, heal_at=15.0)
    sim.run(14.0)
    failed = {(o, e.member) for o, e in sim.events if e.name == "member_failed"}
    across = {(a, b) for a in "123" for b in "456"} | {(b, a) for a in "123" for b in "456"}
    assert failed == across
    assert sim.result()["false_positives"] == len(across)
    assert not sim.result()["converged"]
    sim.run(20.0)
    revived = {(o, e.member) for o, e in sim.events if e.name == "member_alive"}
    assert revived == across
    assert sim.result()["converged"]


def test_one_way_link_loss() -> None:
    net = Network(seed=3)
    net.set_link_loss("1", "2", 1.0)  # 1 cannot reach 2; 2 still reaches 1
    sim = make(3, network=net)
    sim.run(10.0)
    assert all(sender != "1" for _, sender, _ in node(sim, "2").received)
    assert any(sender == "2" for _, sender, _ in node(sim, "1").received)
    failed = {(o, e.member) for o, e in sim.events if e.name == "member_failed"}
    # 2 never hears from 1; 1 hears 2's pings but its acks never arrive, and it still hears 2 ping it
    assert failed == {("2", "1")}


def test_paused_member_drops_inbound_and_fires_timers_late() -> None:
    sim = make(3, start_stagger=0.0)
    sim.pause("2", at=2.5, duration=2.0)
    sim.run(8.0)
    paused = node(sim, "2")
    assert [t for t in paused.ticks if 2.5 <= t < 4.5] == []
    assert 4.5 in paused.ticks  # the overdue 3.0 and 4.0 timers fire at resume
    assert all(not 2.5 <= t < 4.5 for t, _, _ in paused.received)
    assert sim.undelivered > 0
    # 2 s of silence is below fail_after: nobody reports it
    assert sim.result()["false_positives"] == 0


def test_paused_member_in_queue_mode_gets_messages_on_resume() -> None:
    sim = make(3, start_stagger=0.0, paused_inbound="queue")
    sim.pause("2", at=2.5, duration=2.0)
    sim.run(8.0)
    paused = node(sim, "2")
    late = [(t, s) for t, s, _ in paused.received if t == 4.5]
    assert tuple(sorted({s for _, s in late})) == ("1", "3")
    assert all(not 2.5 <= t < 4.5 for t, _, _ in paused.received)
    assert sim.undelivered == 0


def test_long_pause_is_a_false_positive_then_alive() -> None:
    sim = make(3, start_stagger=0.0)
    sim.pause("2", at=2.5, duration=6.0)
    sim.run(12.0)
    result = sim.result()
    # 1 and 3 report the paused 2; on resume 2 has heard nobody for 6 s and reports them too (no Lifeguard here)
    assert result["false_positives"] == 4
    wrong = {(o, e.member) for o, e in sim.events if e.name == "member_failed"}
    assert wrong == {("1", "2"), ("3", "2"), ("2", "1"), ("2", "3")}
    assert {(o, e.member) for o, e in sim.events if e.name == "member_alive"} == wrong


def test_join_through_seed_and_leave() -> None:
    sim = make(3)
    sim.join("9", at=3.0, seed_id="1")
    sim.leave("3", at=6.0)
    sim.run(12.0)
    joined = {o for o, e in sim.events if e.name == "member_joined" and e.member == "9"}
    assert joined == {"1", "2", "3"}  # the seed through the join, the others when 9 pings them
    assert sorted(node(sim, "9").addrs) == ["1", "2", "3"]
    left = {o for o, e in sim.events if e.name == "member_left" and e.member == "3"}
    assert left == {"1", "2", "9"}
    assert sim.status("3") == "stopped"
    assert sorted(sim.live_members()) == ["1", "2", "9"]
    assert sim.result()["false_positives"] == 0


def test_join_waits_while_seed_is_unreachable() -> None:
    sim = make(3)
    sim.partition([{"1"}], at=0.5, heal_at=4.2)
    sim.join("9", at=1.0, seed_id="1")
    sim.run(4.0)
    assert sim.status("9") == "not_started"
    sim.run(7.0)
    assert sim.status("9") == "running" and 5.0 <= sim.truth.started["9"] < 5.1


def test_foreign_envelopes_are_counted_not_fatal() -> None:
    sim = make(2, start_stagger=0.0)
    foreign = pb.Envelope(header=pb.Header(version=1, cluster="other", sender="x"), ping=pb.Ping(seq=1))

    def inject(now: float) -> None:
        from swimfd.core.events import Outbound, Output

        sim._emit("1", Output(messages=[Outbound("2", "", foreign)]), now)

    sim.at(1.5, inject)
    sim.run(3.0)
    assert sim.protocol_errors == 1


def test_wire_mode_delivers_decoded_copies() -> None:
    sim = make(2, wire=True, start_stagger=0.0)
    sim.run(3.0)
    assert node(sim, "2").received and sim.protocol_errors == 0


def test_scenario_validation() -> None:
    sim = make(3)
    with pytest.raises(SimulationError, match="unknown member"):
        sim.crash("42", at=1.0)
    with pytest.raises(SimulationError, match="already exists"):
        sim.join("2", at=1.0, seed_id="1")
    with pytest.raises(SimulationError, match="heal_at"):
        sim.partition([{"1"}], at=5.0, heal_at=4.0)
    with pytest.raises(SimulationError, match="duration"):
        sim.pause("1", at=1.0, duration=0)
    sim.run(2.0)
    with pytest.raises(SimulationError, match="past"):
        sim.crash("1", at=1.0)
    with pytest.raises(SimulationError, match="before now"):
        sim.run(1.0)
    with pytest.raises(SimulationError, match="at least one"):
        make(0)
    with pytest.raises(SimulationError, match="boot"):
        make(3, boot="eventually")
