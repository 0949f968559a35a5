"""The hybrid rule (README.md, "The hybrid rule"; swimfd.core.hybrid): unit checks on HybridRule
and cluster scenarios that separate it from plain swim and plain heartbeat detection."""

from __future__ import annotations

import pytest
from core_router import Router
from hybrid_fakes import FakeHeartbeat

from swimfd.core.config import Config, ConfigError
from swimfd.core.hybrid import HybridRule, gossip_rounds_to_all, stale_after
from swimfd.pb import swim_pb2 as pb


def test_stale_after_defaults_to_half_of_t_fail() -> None:
    cfg = Config(mode="hybrid")
    assert stale_after(cfg, 11.0) == pytest.approx(5.5)
    assert stale_after(cfg.replace(hybrid_stale_after=2.5), 11.0) == 2.5
    assert HybridRule(cfg, FakeHeartbeat()).stale_after == pytest.approx(5.0)
    assert gossip_rounds_to_all(100, 1) == 12  # ceil(log2 100 + ln 100) = ceil(6.64 + 4.61)


def test_rules_a_b_c_and_detector_label() -> None:
    hb = FakeHeartbeat()
    rule = HybridRule(Config(mode="hybrid", hybrid_stale_after=5.0), hb)
    hb.last = {"x": 0.0, "y": 0.0}
    assert rule.newly_stale(4.0) == []
    assert rule.newly_stale(5.0) == ["x", "y"]  # (a) both just went stale
    assert rule.newly_stale(6.0) == []  # reported once per stale spell
    hb.last["x"] = 6.5  # x progressed: its spell ended
    assert rule.newly_stale(7.0) == []
    assert rule.newly_stale(12.0) == ["x"]  # and a new one began
    assert rule.is_stale("y", 12.0) and rule.detector("y", 12.0) == "hybrid"  # (b) corroborates
    hb.last["z"] = 10.0
    assert not rule.is_stale("z", 12.0) and rule.detector("z", 12.0) == "swim"
    assert rule.vetoes("z", suspicion_start=9.0, now=12.0)  # (c) progress after the suspicion began
    assert not rule.vetoes("z", suspicion_start=10.0, now=12.0)
    assert not rule.vetoes("unknown", suspicion_start=0.0, now=12.0)


def test_rule_d_expiry_suspects_unless_an_ack_is_newer_than_the_last_heartbeat() -> None:
    hb = FakeHeartbeat()
    rule = HybridRule(Config(mode="hybrid", hybrid_stale_after=5.0), hb)
    hb.last["x"] = 2.0
    assert rule.raises_suspicion("x", last_ack=1.0, now=20.0)  # no ack since the counter last moved
    assert not rule.raises_suspicion("x", last_ack=3.0, now=20.0)  # acked since: only its gossip path is broken
    assert rule.raises_suspicion("unknown", last_ack=3.0, now=20.0)


def _block_probes_of(victim: str):
    """SWIM traffic to and from ``victim`` is lost; heartbeat gossip still flows (one-way reachability)."""

    def block(src: str, dst: str, env: pb.Envelope) -> bool:
        return victim in (src, dst) and env.WhichOneof("body") != "gossip"

    return block


def _block_gossip_of(victim: str):
    def block(src: str, dst: str, env: pb.Envelope) -> bool:
        return victim in (src, dst) and env.WhichOneof("body") == "gossip"

    return block


def _failed(r: Router, member: str) -> list[str]:
    return [o for o, e in r.events if e.name.value == "member_failed" and e.member == member]


@pytest.mark.parametrize(("mode", "declared_dead"), [("swim", True), ("hybrid", False)])
def test_veto_keeps_a_heartbeating_member_that_swim_cannot_reach(mode: str, declared_dead: bool) -> None:
    r = Router(Config(mode=mode, election=False), seed=11)
    r.cluster(6)
    r.run(10.0)
    r.block = _block_probes_of("3")
    r.run(70.0)
    suspected = [o for o, e in r.events if e.name.value == "member_suspected" and e.member == "3"]
    assert suspected  # SWIM alone does suspect it
    assert bool(_failed(r, "3")) is declared_dead
    if not declared_dead:
        assert all(n.member("3").state != pb.DEAD for n in r.nodes.values() if n.id != "3")


@pytest.mark.parametrize(("mode", "declared_dead"), [("heartbeat", True), ("hybrid", False)])
def test_heartbeat_expiry_alone_never_declares_failure_in_hybrid(mode: str, declared_dead: bool) -> None:
    cfg = Config(mode=mode, election=False, t_fail=4.0, t_cleanup=60.0)
    r = Router(cfg, seed=12)
    r.cluster(6)
    r.run(10.0)
    r.block = _block_gossip_of("3")  # its heartbeat stops spreading (and it hears none), but probes work
    r.run(60.0)
    assert bool(_failed(r, "3")) is declared_dead
    if not declared_dead:
        assert [e for _, e in r.events if e.name.value == "member_failed"] == []
        # rules (a) + refined (d): early probes are answered, so the expiries raise no suspicion at all
        assert [e for _, e in r.events if e.name.value == "member_suspected"] == []
        for node in r.nodes.values():
            assert {v.member.state for v in node.view()} == {pb.ALIVE}


def test_heartbeat_expiry_raises_a_suspicion_when_swim_also_hears_nothing() -> None:
    # 3 is silent on both paths for 3 s (< Min = 4 s): the expiry (t_fail 2 s) raises a suspicion
    # at once, 3 comes back, hears it through the buddy system and refutes; nobody declares it failed.
    cfg = Config(mode="hybrid", election=False, t_fail=2.0, t_cleanup=60.0)
    r = Router(cfg, seed=14)
    r.cluster(6)
    r.run(10.0)
    r.crash("3")
    r.run(13.0)
    r.crashed.discard("3")
    r.run(40.0)
    assert any(e.name.value == "member_suspected" and e.member == "3" for _, e in r.events)
    assert _failed(r, "3") == []
    assert r.nodes["3"].me.incarnation >= 1
    assert all(len(n.members_alive()) == 6 for n in r.nodes.values())


def test_hybrid_crash_is_confirmed_with_hybrid_label_once_heartbeat_is_stale() -> None:
    # A short stale_after makes the heartbeat stale before the suspicion expires: both detectors agree.
    cfg = Config(mode="hybrid", election=False, hybrid_stale_after=2.0)
    r = Router(cfg, seed=13)
    r.cluster(8)
    r.run(10.0)
    r.crash("4")
    r.run(60.0)
    labels = {e.detector for o, e in r.events if e.name.value == "member_failed" and e.member == "4"}
    assert labels == {"hybrid"}
    assert len(_failed(r, "4")) == 7


@pytest.mark.parametrize("bad", [0.0, 0.2, float("nan"), float("inf")])
def test_hybrid_stale_after_must_exceed_one_gossip_round(bad: float) -> None:
    with pytest.raises(ConfigError, match="hybrid_stale_after"):
        Config(mode="hybrid", hybrid_stale_after=bad)
