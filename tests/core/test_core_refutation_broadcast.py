"""Refutations broadcast by go-diss (docs/detection.md): a member that refutes a suspicion or death of
itself reports REFUTED once per new incarnation; receivers apply it by the usual precedence."""

from __future__ import annotations

import random

from swimfd.core.config import Config
from swimfd.core.events import EventName, Source
from swimfd.core.node import Node
from swimfd.core.reports import refutation
from swimfd.pb import swim_pb2 as pb

CFG = Config(election=False)


def _member(mid: str, inc: int = 0, state: int = pb.ALIVE) -> pb.Member:
    return pb.Member(id=mid, addr=f"{mid}:1", diss_addr=f"{mid}:2", incarnation=inc, state=state)


def _node(cfg: Config = CFG) -> Node:
    node = Node(cfg, _member("a"), random.Random(3), now=0.0)
    node.bootstrap([_member(p) for p in ("b", "c", "d")], now=0.0)
    return node


def _accuse(node: Node, inc: int, state: int, now: float, sender: str = "b") -> list:
    u = pb.Update(member=_member("a", inc=inc, state=state))
    setattr(u, "from", sender)
    header = pb.Header(version=1, cluster=CFG.cluster, sender=sender, sender_addr=f"{sender}:1")
    out = node.receive(pb.Envelope(header=header, ping=pb.Ping(seq=1, target="a"), updates=[u]), now)
    return out.reports


def test_each_refutation_is_reported_once_for_its_new_incarnation() -> None:
    node = _node()
    [r] = _accuse(node, 0, pb.SUSPECT, now=1.0)
    assert (r.kind, r.member, r.reporter) == (pb.REFUTED, "a", "a")
    assert r.update.member.state == pb.ALIVE and r.update.member.incarnation == 1
    assert r.update.member.addr == "a:1" and r.update.member.diss_addr == "a:2"
    assert _accuse(node, 0, pb.SUSPECT, now=1.1, sender="c") == []  # stale: already refuted, not again
    assert _accuse(node, 0, pb.DEAD, now=1.2, sender="d") == []
    [r] = _accuse(node, 1, pb.DEAD, now=2.0)  # a death at the new incarnation: refuted again
    assert r.kind == pb.REFUTED and r.update.member.incarnation == 2
    assert _accuse(node, 2, pb.ALIVE, now=3.0) == []  # an Alive about us is no accusation


def test_refutations_are_not_reported_when_switched_off() -> None:
    node = _node(CFG.replace(broadcast_refutations=False))
    assert _accuse(node, 0, pb.SUSPECT, now=1.0) == []
    assert node.me.incarnation == 1  # it still refutes, by gossip


def test_a_refutation_notice_revives_a_suspect_by_the_usual_precedence() -> None:
    node = _node()
    u = pb.Update(member=_member("b", inc=0, state=pb.SUSPECT))
    setattr(u, "from", "c")
    header = pb.Header(version=1, cluster=CFG.cluster, sender="c", sender_addr="c:1")
    node.receive(pb.Envelope(header=header, ping=pb.Ping(seq=1, target="a"), updates=[u]), now=1.0)
    assert node.member("b").state == pb.SUSPECT

    def notice(inc: int) -> pb.Notice:
        return pb.Notice(
            header=pb.Header(version=1, cluster=CFG.cluster, sender="b", sender_addr="b:2"),
            kind=pb.REFUTED,
            update=refutation(_member("b", inc=inc)).update,
            origin="b",
        )

    applied, out = node.apply_notice(notice(0), now=1.5)  # same incarnation: Suspect(0) beats Alive(0)
    assert not applied and node.member("b").state == pb.SUSPECT
    applied, out = node.apply_notice(notice(1), now=2.0)
    assert applied and node.member("b").state == pb.ALIVE and node.member("b").incarnation == 1
    assert [(e.name, e.source) for e in out.events] == [(EventName.MEMBER_ALIVE, Source.NOTICE)]
    assert out.reports == []  # learned, not reported again
