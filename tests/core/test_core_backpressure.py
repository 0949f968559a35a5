"""Back-pressure (issue 15, lever 7): event-loop lag as local-health evidence, the start-up grace for
members that never answered, and the budget of extra probes that new suspicions may request."""

from __future__ import annotations

import math
import random

import pytest

from swimfd.core.backpressure import AccusationBudget, StartupGrace
from swimfd.core.config import Config, ConfigError
from swimfd.core.health import LocalHealth
from swimfd.core.node import Node
from swimfd.core.prober import ProberStep
from swimfd.pb import swim_pb2 as pb

CFG = Config(mode="swim", election=False)


def _node(peers: tuple[str, ...], cfg: Config = CFG) -> Node:
    node = Node(cfg, pb.Member(id="a", addr="a:1"), random.Random(3), now=0.0)
    node.bootstrap([pb.Member(id=p, addr=f"{p}:1") for p in peers], now=0.0)
    return node


def _run(node: Node, until: float, answer: set[str] = frozenset()) -> list[pb.Envelope]:
    """Tick the node to ``until``; members in ``answer`` ack every ping at once. Returns the pings sent."""
    pings: list[pb.Envelope] = []
    while (t := node.next_deadline()) <= until:
        out = node.tick(t)
        for m in out.messages:
            env = m.envelope
            if env.WhichOneof("body") != "ping":
                continue
            pings.append(env)
            if m.to in answer:
                h = pb.Header(
                    version=env.header.version, cluster=env.header.cluster, sender=m.to, sender_addr=f"{m.to}:1"
                )
                ack = pb.Envelope(header=h)
                ack.ack.seq = env.ping.seq
                node.receive(ack, t + 0.001)
    return pings


def test_lag_beyond_the_threshold_counts_like_a_failed_probe_once_per_period() -> None:
    h = LocalHealth(8)
    assert not h.observe_lag(0.25, now=0.0, threshold=0.25, period=1.0)  # at the threshold: fine
    assert h.score == 0
    assert h.observe_lag(0.3, now=0.0, threshold=0.25, period=1.0) and h.score == 1
    assert not h.observe_lag(5.0, now=0.9, threshold=0.25, period=1.0)  # same stall, same period
    assert h.observe_lag(0.3, now=1.0, threshold=0.25, period=1.0) and h.score == 2
    for t in range(2, 20):
        h.observe_lag(1.0, now=float(t), threshold=0.25, period=1.0)
    assert h.score == 7 and h.multiplier == 8  # clamped like any other evidence


def test_a_lagging_node_stretches_its_own_probe_period() -> None:
    node = _node(("b", "c"))
    assert node.observe_lag(0.5, now=0.0) and not node.observe_lag(0.5, now=0.5)
    assert node.health == 1  # next probe period is 2 s instead of 1 s
    assert not node.observe_lag(0.1, now=2.0)  # below max_loop_lag (0.25 s)
    assert node.health == 1


def test_startup_grace_holds_only_members_never_acked_and_only_until_it_ends() -> None:
    g = StartupGrace(until=8.0)
    assert g.holds(-math.inf, now=7.9)
    assert not g.holds(-math.inf, now=8.0)
    assert not g.holds(3.0, now=5.0)  # answered once: its silence now is news
    assert not StartupGrace().holds(-math.inf, now=0.0)  # before bootstrap: no grace


def test_a_member_silent_since_start_is_probed_but_not_suspected_during_the_grace() -> None:
    node = _node(("b",), CFG.replace(startup_grace=5.0, probe_recheck=False))  # the recheck: test_core_prober
    pings = _run(node, 4.9)
    assert len(pings) >= 3  # probed every period...
    assert node.member("b").state == pb.ALIVE  # ...but not suspected
    _run(node, 7.0)
    assert node.member("b").state == pb.SUSPECT  # the grace is over: the next failed probe suspects


def test_default_grace_is_suspicion_mult_probe_periods() -> None:
    node = _node(("b",), CFG.replace(startup_grace=None, probe_recheck=False))  # 4 x 1 s
    _run(node, 3.9)
    assert node.member("b").state == pb.ALIVE
    _run(node, 6.0)
    assert node.member("b").state == pb.SUSPECT


def test_a_member_that_answered_once_is_suspected_during_the_grace() -> None:
    node = _node(("b", "c"), CFG.replace(startup_grace=60.0))
    _run(node, 3.0, answer={"b", "c"})  # both answer their first probes
    _run(node, 12.0, answer={"c"})  # then b falls silent, well inside the 60 s grace
    assert node.member("b").state in (pb.SUSPECT, pb.DEAD)  # suspected (and by now confirmed)
    assert node.member("c").state == pb.ALIVE


def test_accusation_budget_allows_limit_per_period() -> None:
    b = AccusationBudget(2)
    assert [b.take(0.0, 1.0), b.take(0.1, 1.0), b.take(0.2, 1.0)] == [True, True, False]
    assert b.denied == 1
    assert b.take(1.0, 1.0) and b.take(1.5, 1.0) and not b.take(1.9, 1.0)
    assert not AccusationBudget(0).take(0.0, 1.0)


def test_many_suspicions_at_once_request_at_most_the_budget_of_extra_probes() -> None:
    peers = tuple(f"p{i}" for i in range(10))
    node = _node(peers, CFG.replace(startup_grace=0.0, max_probe_requests=2))
    # Ten members become suspects in the same instant (as when this node is cut off): only two get
    # the out-of-turn follow-up ping; the rest are told in their round-robin turn.
    out = node.tick(0.0)
    node._prober_step(ProberStep(failed=list(peers)), 0.5, out)
    assert all(node.member(p).state == pb.SUSPECT for p in peers)
    assert node._accusations.denied == 8


@pytest.mark.parametrize(
    ("field", "value"), [("max_loop_lag", 0.0), ("startup_grace", -1.0), ("max_probe_requests", -1)]
)
def test_config_rejects_bad_backpressure_values(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=field):
        Config(**{field: value})


def test_lagging_lasts_one_health_scaled_period_after_the_last_late_wake() -> None:
    h = LocalHealth(8)
    assert not h.lagging(0.0, period=1.0)
    h.observe_lag(0.5, now=10.0, threshold=0.25, period=1.0)  # score 1: scaled period 2 s
    h.observe_lag(0.5, now=10.5, threshold=0.25, period=1.0)  # no second penalty, but still late
    assert h.score == 1
    assert h.lagging(12.4, period=1.0) and not h.lagging(12.5, period=1.0)


def test_a_lagging_node_defers_its_own_confirmations_until_it_catches_up() -> None:
    node = _node(("b",), CFG.replace(startup_grace=0.0))
    _run(node, 3.0)
    assert node.member("b").state == pb.SUSPECT  # n = 2: Min = Max = 4 s
    t = 3.0
    while t < 12.0:  # the loop keeps running late: no accusation however long b is silent
        node.observe_lag(0.5, now=t)
        _run(node, t + 0.1)
        t += 0.1
    assert node.member("b").state == pb.SUSPECT
    _run(node, 40.0)  # caught up: the deferred confirmation goes through
    assert node.member("b").state == pb.DEAD
