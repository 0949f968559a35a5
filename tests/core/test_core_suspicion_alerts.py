"""Multi-observer confirmation (docs/detection.md, after Rapid): a suspicion a node raises from its own
failed probe is broadcast once (SUSPECTED alert); about ``alert_observers`` receivers probe the suspect
at once, once per suspicion, and their failures confirm it first-hand."""

from __future__ import annotations

import random

from core_router import Router

from swimfd.core.config import Config
from swimfd.core.events import EventName
from swimfd.core.node import Node
from swimfd.core.reports import raised_suspicion
from swimfd.pb import swim_pb2 as pb

CFG = Config(election=False)


def _member(i: int, inc: int = 0) -> pb.Member:
    return pb.Member(id=str(i), addr=f"h{i}:1", diss_addr=f"h{i}:2", incarnation=inc, state=pb.ALIVE)


def _alert_notice(subject: int, origin: int, inc: int = 0) -> pb.Notice:
    report = raised_suspicion(_member(subject, inc), str(origin))
    header = pb.Header(version=1, cluster=CFG.cluster, sender=str(origin), sender_addr=f"h{origin}:2")
    return pb.Notice(header=header, kind=report.kind, update=report.update, origin=str(origin))


def _node(me: int, n: int, cfg: Config = CFG) -> Node:
    node = Node(cfg, _member(me), random.Random(me), now=0.0)
    node.bootstrap([_member(i) for i in range(1, n + 1) if i != me], now=0.0)
    return node


def test_a_raised_suspicion_is_alerted_once_and_a_confirmation_is_not() -> None:
    r = Router(CFG, seed=2)
    r.cluster(5)
    r.run(5.0)
    r.crash("5")
    r.run(9.0)
    alerts = [(o, a.member, a.update.member.incarnation, a.kind, a.update.member.state) for o, a in r.alerts]
    raisers = {
        o for o, e in r.events if e.name == EventName.MEMBER_SUSPECTED and e.member == "5" and e.extra["by"] == o
    }
    assert raisers and sorted(o for o, *_ in alerts) == sorted(raisers)  # one per raiser, none per confirmer
    assert all(tuple(rest) == ("5", 0, pb.SUSPECTED, pb.SUSPECT) for _, *rest in alerts)
    assert [a for _, a in r.reports if a.kind == pb.SUSPECTED] == []  # evidence, not a membership report


def test_no_alert_when_switched_off() -> None:
    r = Router(CFG.replace(broadcast_suspicions=False), seed=2)
    r.cluster(5)
    r.run(5.0)
    r.crash("5")
    r.run(30.0)
    assert r.alerts == [] and r.seen("1", "member_failed", "5")


def test_an_alert_makes_the_receiver_probe_the_suspect_at_once_and_only_once() -> None:
    node = _node(1, 5)
    applied, out = node.apply_notice(_alert_notice(5, origin=2), now=3.0)
    assert applied and node.member("5").state == pb.SUSPECT
    pings = [m for m in out.messages if m.envelope.HasField("ping") and m.to == "5"]
    assert len(pings) == 1
    assert [u.member.state for u in pings[0].envelope.updates if u.member.id == "5"][:1] == [pb.SUSPECT]  # buddy
    assert out.alerts == []  # a second-hand suspicion is not alerted again
    applied, out = node.apply_notice(_alert_notice(5, origin=3), now=3.1)  # another origin, same suspicion
    assert [m for m in out.messages if m.envelope.HasField("ping") and m.to == "5"] == []


def test_about_alert_observers_members_probe_at_scale() -> None:
    n, k = 60, 6
    cfg = CFG.replace(alert_observers=k)
    probers = 0
    for me in range(3, n + 1):  # member 1 is the suspect, member 2 raised it
        _, out = _node(me, n, cfg).apply_notice(_alert_notice(1, origin=2), now=3.0)
        probers += any(m.envelope.HasField("ping") and m.to == "1" for m in out.messages)
    assert 2 <= probers <= 3 * k  # expected k = 6 of 58
    every = 0
    for me in range(3, 13):
        _, out = _node(me, n, CFG.replace(alert_observers=0)).apply_notice(_alert_notice(1, origin=2), now=3.0)
        every += any(m.envelope.HasField("ping") and m.to == "1" for m in out.messages)
    assert every == 10  # alert_observers = 0: every member probes


def test_the_suspect_hears_the_alert_and_refutes_with_a_broadcast() -> None:
    node = _node(5, 5)
    applied, out = node.apply_notice(_alert_notice(5, origin=2), now=3.0)
    assert not applied and node.me.incarnation == 1
    assert [(r.kind, r.update.member.incarnation) for r in out.reports] == [(pb.REFUTED, 1)]


def test_a_member_that_is_not_an_observer_ignores_the_alert() -> None:
    n = 60
    cfg = CFG.replace(alert_observers=1)
    ignored = 0
    for me in range(3, n + 1):
        node = _node(me, n, cfg)
        applied, out = node.apply_notice(_alert_notice(1, origin=2), now=3.0)
        if not applied:
            ignored += 1
            assert node.member("1").state == pb.ALIVE and out.messages == [] and out.events == []
    assert ignored >= n - 2 - 5  # about 1 observer of 58
