"""What the core tells the dissemination service (swimfd.core.reports): exactly a failure its own
detector confirmed, a join it admitted and its own leave, each once, and nothing learned second-hand."""

from __future__ import annotations

import random

import pytest
from core_router import Router

from swimfd.core.config import Config
from swimfd.core.events import EventName, Source
from swimfd.core.node import Node
from swimfd.core.reports import NOTICE_STATE, admitted_join, confirmed_failure, own_leave
from swimfd.core.wire import ProtocolError
from swimfd.pb import swim_pb2 as pb

CFG = Config(election=False)


def _member(mid: str, inc: int = 0, state: int = pb.ALIVE) -> pb.Member:
    return pb.Member(id=mid, addr=f"{mid}:1", diss_addr=f"{mid}:2", incarnation=inc, state=state)


def _header(sender: str) -> pb.Header:
    return pb.Header(version=1, cluster=CFG.cluster, sender=sender, sender_addr=f"{sender}:1")


def _node() -> Node:
    node = Node(CFG, _member("a"), random.Random(3), now=0.0)
    out = node.bootstrap([_member(p) for p in ("b", "c", "d")], now=0.0)
    assert out.reports == []  # learning the static list reports nothing
    return node


def _upd_suspect_self() -> pb.Update:
    u = pb.Update(member=_member("a", state=pb.SUSPECT))
    setattr(u, "from", "b")
    return u


def test_builders_set_the_state_the_kind_asserts_and_the_reporter() -> None:
    assert NOTICE_STATE == {pb.FAILED: pb.DEAD, pb.JOINED: pb.ALIVE, pb.LEFT_CLUSTER: pb.LEFT}
    subject = _member("b", inc=4)
    subject.heartbeat = 9
    failed = confirmed_failure(subject, "a", "hybrid")
    assert (failed.kind, failed.member, failed.reporter, failed.update.detector) == (pb.FAILED, "b", "a", "hybrid")
    assert failed.update.member.state == pb.DEAD and failed.update.member.incarnation == 4
    assert failed.update.member.diss_addr == "b:2" and failed.update.member.heartbeat == 0
    assert subject.state == pb.ALIVE and subject.heartbeat == 9  # the caller's member is copied, not changed
    joined = admitted_join(subject, "a")
    assert (joined.kind, joined.update.member.state, joined.reporter, joined.update.detector) == (
        pb.JOINED,
        pb.ALIVE,
        "a",
        "",
    )
    left = own_leave(_member("a", inc=2))
    assert (left.kind, left.member, left.reporter, left.update.member.state) == (pb.LEFT_CLUSTER, "a", "a", pb.LEFT)


def test_failure_learned_by_gossip_or_notice_is_not_reported() -> None:
    node = _node()
    dead = pb.Update(member=_member("b", state=pb.DEAD), detector="swim")
    setattr(dead, "from", "c")
    out = node.receive(pb.Envelope(header=_header("c"), ping=pb.Ping(seq=1, target="a"), updates=[dead]), now=1.0)
    assert [(e.name, e.source) for e in out.events if e.member == "b"] == [(EventName.MEMBER_FAILED, Source.GOSSIP)]
    assert out.reports == []
    notice = pb.Notice(header=_header("d"), kind=pb.FAILED, update=pb.Update(member=_member("c")), origin="d")
    applied, out = node.apply_notice(notice, now=2.0)
    assert applied and [(e.name, e.source) for e in out.events] == [(EventName.MEMBER_FAILED, Source.NOTICE)]
    assert out.reports == []


def test_own_leave_yields_one_left_report_and_nothing_after() -> None:
    node = _node()
    node.receive(pb.Envelope(header=_header("b"), updates=[_upd_suspect_self()], ping=pb.Ping(seq=1)), now=1.0)
    out = node.leave(now=2.0)
    [report] = out.reports
    assert (report.kind, report.member, report.reporter) == (pb.LEFT_CLUSTER, "a", "a")
    assert report.update.member.state == pb.LEFT and report.update.member.incarnation == node.me.incarnation == 1
    assert report.update.member.addr == "a:1" and report.update.member.diss_addr == "a:2"
    assert node.leave(now=3.0).reports == []  # leaving twice reports once
    assert node.tick(now=100.0).reports == []


def test_admitted_join_yields_one_joined_report_and_a_refused_one_none() -> None:
    node = _node()
    joiner = _member("j", inc=7)
    reply, out = node.handle_join(pb.JoinRequest(header=_header("j"), member=joiner), now=1.0)
    assert "j" in {m.id for m in reply.members}
    [report] = out.reports
    assert (report.kind, report.member, report.reporter) == (pb.JOINED, "j", "a")
    assert report.update.member.incarnation == 7 and report.update.member.state == pb.ALIVE
    assert report.update.member.addr == "j:1" and report.update.member.diss_addr == "j:2"
    with pytest.raises(ProtocolError):
        node.handle_join(pb.JoinRequest(header=_header("x"), member=pb.Member(id="x")), now=2.0)  # no addr


@pytest.mark.parametrize(("mode", "detector"), [("swim", "swim"), ("heartbeat", "heartbeat"), ("hybrid", "hybrid")])
def test_each_local_confirmation_is_reported_exactly_once(mode: str, detector: str) -> None:
    r = Router(Config(mode=mode, election=False), seed=5)
    r.cluster(6)
    r.run(10.0)
    assert r.reports == []
    r.crash("3")
    r.run(120.0)
    failed = [(o, e) for o, e in r.events if e.name == EventName.MEMBER_FAILED and e.member == "3"]
    assert {o for o, _ in failed} == {"1", "2", "4", "5", "6"}
    local = sorted(o for o, e in failed if e.source == Source.LOCAL)
    assert local, "some survivor's own detector decided"
    assert sorted(o for o, _ in r.reports) == local  # one report per local decision, none for gossip
    for reporter, report in r.reports:
        assert (report.kind, report.member, report.reporter) == (pb.FAILED, "3", reporter)
        assert report.update.member.state == pb.DEAD and report.update.detector == detector
        assert report.update.member.diss_addr  # the whole record, so go-diss's peers learn every address
