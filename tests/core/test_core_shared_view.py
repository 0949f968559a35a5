"""Copy-on-write shared bootstrap (Node.bootstrap_shared): same behaviour as bootstrap, shared memory."""

from __future__ import annotations

import random

import pytest
from core_router import Router, member

from swimfd.core.bounds import detection_bound
from swimfd.core.config import Config
from swimfd.core.membership import ALIVE, DEAD, LEFT, Membership, SharedView
from swimfd.core.node import Node
from swimfd.pb import swim_pb2 as pb

CFG = Config(election=False)


def _view(node: Node) -> dict[str, tuple[int, int, str]]:
    return {v.member.id: (v.member.state, v.member.incarnation, v.member.addr) for v in node.view()}


def _upd(mid: str, state: int, inc: int, sender: str) -> pb.Update:
    u = pb.Update(member=pb.Member(id=mid, addr=f"{mid}:9", incarnation=inc, state=state))
    setattr(u, "from", sender)
    return u


def test_table_over_a_shared_base_copies_on_write_and_counts_right() -> None:
    base = SharedView([pb.Member(id=m, addr=f"{m}:1") for m in ("a", "b", "c")], now=0.0)
    t1, t2 = Membership(10), Membership(10)
    t1.merge(pb.Member(id="a", addr="a:1"), ALIVE, 0.0)
    t1.attach_base(base)
    t2.attach_base(base)
    assert (len(t1), t1.live_count, len(t2), t2.live_count) == (3, 3, 3, 3)
    assert t1.merge(pb.Member(id="b", incarnation=0), DEAD, 1.0) is not None
    assert t1.get("b").state == DEAD and t2.get("b").state == ALIVE  # t2 still sees the shared record
    assert base.get("b").state == ALIVE
    assert t1.live_count == 2 and len(t1) == 3
    t1.remove("b")
    assert "b" not in t1 and len(t1) == 2 and "b" in t2
    t1.merge(pb.Member(id="b", addr="b:2", incarnation=5), ALIVE, 2.0)  # comes back
    assert len(t1) == 3 and t1.live_count == 3
    t1.merge(pb.Member(id="z", addr="z:1"), LEFT, 2.0)
    assert sorted(r.id for r in t1) == ["a", "b", "c", "z"] and len(t1) == 4
    with pytest.raises(ValueError):
        t1.attach_base(base)


def test_shared_bootstrap_behaves_like_bootstrap() -> None:
    members = [member(i) for i in range(1, 9)]
    plain = Node(CFG, member(1), random.Random(4), 0.0)
    plain.bootstrap(members, 0.0)
    view = SharedView(members, 0.0)
    shared = Node(CFG, member(1), random.Random(4), 0.0)
    out = shared.bootstrap_shared(view, 0.0)
    other = Node(CFG, member(2), random.Random(5), 0.0)
    other.bootstrap_shared(view, 0.0)
    assert out.events == []  # the static list is not reported
    assert _view(plain) == _view(shared)
    assert sorted(plain.members_alive(), key=lambda m: m.id) == sorted(shared.members_alive(), key=lambda m: m.id)
    env = pb.Envelope(header=pb.Header(version=1, cluster="swimfd", sender="3"), ping=pb.Ping(seq=1))
    env.updates.extend([_upd("4", pb.SUSPECT, 0, "3"), _upd("5", pb.DEAD, 0, "3"), _upd("6", pb.DEAD, 0, "6")])
    a, b = plain.receive(env, 1.0), shared.receive(env, 1.0)
    assert [(e.name, e.member) for e in a.events] == [(e.name, e.member) for e in b.events]
    assert _view(plain) == _view(shared)
    assert _view(other)["5"][0] == pb.ALIVE  # the other node sharing the view is unaffected


def test_crash_detected_within_bound_with_shared_bootstrap() -> None:
    r = Router(CFG, seed=21)
    r.cluster(12, shared=True)
    r.run(10.0)
    r.crash("7")
    crash_at = r.now
    r.run(crash_at + detection_bound(CFG, 12))
    for observer in r.nodes:
        if observer != "7":
            assert len(r.seen(observer, "member_failed", "7")) == 1
    assert [e for _, e in r.events if e.name.value == "member_failed" and e.member != "7"] == []
