"""Refusal evidence (docs/detection.md): a ping refused at connect by a quorum of observers (us and
ping-req proxies) suspects the target with a short grace; silence keeps the Lifeguard path."""

from __future__ import annotations

import math
import random

import pytest
from core_router import Router

from swimfd.core.config import Config
from swimfd.core.health import LocalHealth
from swimfd.core.membership import SUSPECT, Record
from swimfd.core.prober import Prober
from swimfd.core.suspicion import Confirmed, Suspicions, SuspicionStep
from swimfd.pb import swim_pb2 as pb


def _prober(n: int = 5, **cfg) -> tuple[Prober, LocalHealth]:
    health = LocalHealth(8)
    p = Prober(Config(**cfg), random.Random(7), health, now=0.0)
    for i in range(n):
        p.add(f"m{i}")
    return p, health


def test_our_refused_ping_asks_the_proxies_at_once_and_a_refused_nack_makes_the_quorum() -> None:
    p, health = _prober(indirect_checks=3)
    [ping] = [s for s in p.tick(0.0).sends if s.kind == "ping"]
    step = p.on_send_failed(ping.to, refused=True)
    reqs = [s for s in step.sends if s.kind == "ping_req"]
    assert len(reqs) == 3 and all(r.body.target == ping.to for r in reqs)  # not at the 0.5 s timeout
    assert step.refused == []  # one observer is not a quorum
    assert p.on_nack(ping.body.seq).refused == []  # a plain nack is silence, not refusal
    assert p.on_nack(ping.body.seq, refused=True).refused == [ping.to]
    assert health.score == 0  # the target's host answered us: our links are fine
    assert p.tick(1.0).failed == []  # the probe ended with the quorum, not at the period's end


def test_refusals_from_proxies_alone_can_make_the_quorum() -> None:
    p, _ = _prober(refusal_quorum=2)
    [ping] = [s for s in p.tick(0.0).sends if s.kind == "ping"]
    p.tick(0.5)  # our ping timed out (silence); the proxies are asked
    assert p.on_nack(ping.body.seq, refused=True).refused == []
    assert p.on_nack(ping.body.seq, refused=True).refused == [ping.to]


def test_a_timeout_or_a_disabled_quorum_changes_nothing() -> None:
    p, _ = _prober()
    [ping] = [s for s in p.tick(0.0).sends if s.kind == "ping"]
    assert p.on_send_failed(ping.to, refused=False).sends == []
    off, _ = _prober(refusal_quorum=0, probe_recheck=False)
    [ping] = [s for s in off.tick(0.0).sends if s.kind == "ping"]
    assert off.on_send_failed(ping.to, refused=True).sends == []
    off.tick(0.5)
    assert off.on_nack(ping.body.seq, refused=True).refused == []
    assert off.tick(1.0).failed == [ping.to]  # the ordinary SWIM path


def test_a_proxy_whose_ping_is_refused_nacks_at_once_saying_refused() -> None:
    p, _ = _prober()
    p.on_ping_req("r", "r:1", pb.PingReq(seq=77, target="t"), "t:1", now=10.0)
    [nack] = p.on_send_failed("t", refused=True).sends
    assert (nack.to, nack.kind, nack.body.seq, nack.body.subject, nack.body.refused) == ("r", "nack", 77, "t", True)
    assert [s for s in p.tick(10.4).sends if s.kind == "nack"] == []  # not nacked twice


def _suspicions(grace: float | None = None) -> tuple[Suspicions, dict[str, Record]]:
    cfg = Config(election=False, refusal_grace=grace)
    table = {"x": Record.from_member(pb.Member(id="x", incarnation=2), SUSPECT, 0.0)}
    return Suspicions(cfg, "me", LocalHealth(8), table.get), table


def test_a_refused_suspicion_is_confirmed_after_the_grace_of_half_a_probe_interval() -> None:
    s, _ = _suspicions()
    s.start("x", 2, origin="me", live_count=100, now=10.0)  # Lifeguard alone: 48 s
    s.refused("x", 2, now=10.0)
    assert s.next_deadline() == pytest.approx(10.5)
    assert s.expire(10.49) == SuspicionStep()
    assert s.expire(10.5) == SuspicionStep(confirmed=[Confirmed("x", 2, "swim")])


def test_an_answer_during_the_grace_hands_the_decision_back_to_lifeguard() -> None:
    s, table = _suspicions(grace=0.3)
    s.start("x", 2, origin="me", live_count=100, now=10.0)
    s.refused("x", 2, now=10.0)
    s.refused("x", 1, now=10.0)  # another incarnation: ignored
    table["x"].last_ack = 10.2  # restarted at the same address and answered us
    assert s.expire(10.3) == SuspicionStep()
    assert s.next_deadline() == pytest.approx(58.0)
    assert s.get("x") is not None and s.get("x").refused_until == math.inf


def _first_gap(router: Router, victim: str) -> tuple[float, float]:
    """(time of the first member_failed about victim, its observer's suspected -> failed gap)."""
    failed = sorted((e.at, o) for o, e in router.events if e.member == victim and e.name == "member_failed")
    assert failed, "nobody declared the victim failed"
    at, observer = failed[0]
    # A suspicion raised after a recheck counts from the first failed probe (failed_for_s earlier).
    suspected = [
        e.at - float(e.extra.get("failed_for_s", 0.0)) for e in router.seen(observer, "member_suspected", victim)
    ]
    return at, at - suspected[0]


def test_a_crash_on_a_live_host_is_confirmed_within_the_grace_of_the_suspicion() -> None:
    router = Router(Config(election=False), seed=3)
    router.cluster(6)
    router.run(5.0)
    router.crash("6", refuse=True)
    router.run(30.0)
    at, gap = _first_gap(router, "6")
    assert gap <= router.config.refusal_grace_s + 0.05
    assert at - 5.0 <= 2 * 6 * router.config.probe_interval  # one round-robin pass bounds the first probe
    assert {o for o, e in router.events if e.member != "6" and e.name == "member_failed"} == set()


def test_a_silent_crash_keeps_the_lifeguard_timeout() -> None:
    router = Router(Config(election=False), seed=3)
    router.cluster(6)
    router.run(5.0)
    router.crash("6")  # host down: silence
    router.run(40.0)
    _, gap = _first_gap(router, "6")
    assert gap >= 4.0  # Min = 4 x 1 x 1 s at n <= 10


def test_one_refusing_observer_is_not_a_quorum() -> None:
    # The proxies cannot reach the victim (their pings vanish): only the prober itself sees refusals.
    router = Router(Config(election=False, indirect_checks=2), seed=3)
    router.cluster(4)
    router.run(5.0)
    router.crash("4", refuse=True)
    proxies: set[str] = set()

    def block(src: str, dst: str, env: pb.Envelope) -> bool:
        if env.HasField("ping_req"):
            proxies.add(dst)
        return dst == "4" and src in proxies and env.HasField("ping")

    router.block = block
    router.run(40.0)
    failed = [e.at for o, e in router.events if e.member == "4" and e.name == "member_failed"]
    assert failed
    for o in ("1", "2", "3"):
        for f in router.seen(o, "member_failed", "4"):
            [s] = router.seen(o, "member_suspected", "4")
            assert f.at - s.at > router.config.refusal_grace_s


def test_refusal_settings_are_validated_and_the_grace_defaults_to_half_a_probe_interval() -> None:
    from swimfd.core.config import ConfigError

    assert Config(probe_interval=2.0, probe_timeout=1.0).refusal_grace_s == pytest.approx(1.0)
    assert Config(refusal_grace=0.2).refusal_grace_s == pytest.approx(0.2)
    for bad in ({"refusal_grace": 0.0}, {"refusal_grace": math.inf}, {"refusal_quorum": -1}):
        with pytest.raises(ConfigError):
            Config(**bad)
