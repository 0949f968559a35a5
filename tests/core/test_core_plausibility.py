"""Plausibility bounds that hold against a member with a valid certificate (docs/security.md).

Incarnations, election terms, labels, admission, ping-req targets and joins: every forged claim
is refused or refuted within one round, and every refusal is reported in ``Output.refusals``.
"""

from __future__ import annotations

import random

import pytest
from core_router import Router, member

from swimfd.core.config import Config, ConfigError
from swimfd.core.election import Phase
from swimfd.core.node import Node
from swimfd.core.plausibility import MAX_INCARNATION, Plausibility
from swimfd.core.wire import ProtocolError
from swimfd.pb import swim_pb2 as pb

STEP = 1 << 20


def _addr(mid: str) -> str:
    return member(mid).addr if mid.isdigit() else f"{mid}.example:1"


def _env(sender: str, *updates: pb.Update, **body: object) -> pb.Envelope:
    env = pb.Envelope(header=pb.Header(version=1, cluster="swimfd", sender=sender, sender_addr=_addr(sender)))
    env.updates.extend(updates)
    if not body:
        env.ping.seq = 1
    for field, value in body.items():
        getattr(env, field).CopyFrom(value)
    return env


def _claim(mid: str, state: int, inc: int, by: str, **fields: object) -> pb.Update:
    m = pb.Member(id=mid, addr=_addr(mid))
    m.state = state
    m.incarnation = inc
    for k, v in fields.items():
        setattr(m, k, v)
    u = pb.Update(member=m)
    setattr(u, "from", by)
    return u


def _state(node: Node, mid: str) -> tuple[int, int]:
    rec = node.member(mid)
    assert rec is not None
    return rec.state, rec.incarnation


# ------------------------------------------------------------------ the rule itself
def test_plausibility_bounds_accusations_alive_and_unknown_members() -> None:
    p = Plausibility(step=100, born_incarnation=1000, born_at=5.0)
    assert p.clock(5.0) == 1000 and p.clock(65.9) == 1060
    assert p.refusal(50 + 100, pb.DEAD, 50, 5.0) is None
    assert "beyond the bound 150" in (p.refusal(151, pb.DEAD, 50, 5.0) or "")
    assert p.refusal(151, pb.LEFT, 50, 5.0) is not None  # a leave someone else reports: an accusation
    # The member's own leave: one step past what this node holds or past the clock, whichever is
    # higher (a static member held at 0 that started at the clock's value and left at once).
    assert p.refusal(1100, pb.LEFT, 0, 5.0, by_subject=True) is None
    assert "beyond the bound 1100 (held 50)" in (p.refusal(1101, pb.LEFT, 50, 5.0, by_subject=True) or "")
    assert p.refusal(1110, pb.LEFT, 50, 15.0, by_subject=True) is None  # ten seconds later the clock says 1010
    assert p.refusal(2100, pb.LEFT, 2000, 5.0, by_subject=True) is None
    assert p.refusal(151, pb.DEAD, 50, 5.0, by_subject=True) is not None  # only a leave is the subject's word
    assert p.refusal(250, pb.ALIVE, 50, 5.0) is None  # its own Alive: twice the step
    assert p.refusal(1100, pb.ALIVE, 50, 5.0) is None  # a restart after a long absence: the clock
    assert p.refusal(1101, pb.ALIVE, 50, 5.0) is not None
    assert p.refusal(1100, pb.ALIVE, None, 5.0) is None and p.refusal(1101, pb.ALIVE, None, 5.0) is not None
    assert p.refusal(1000, pb.DEAD, None, 5.0) is None and p.refusal(1001, pb.DEAD, None, 5.0) is not None
    assert p.refusal(MAX_INCARNATION, pb.ALIVE, MAX_INCARNATION - 5, 5.0) is not None
    # The subject outbids whatever anybody may have accepted, and nothing beyond.
    assert p.refutable(1100, pb.DEAD, 1000, 5.0) and not p.refutable(1101, pb.DEAD, 1000, 5.0)
    assert p.refutable(1200, pb.ALIVE, 1000, 5.0) and not p.refutable(1201, pb.ALIVE, 1000, 5.0)


# ------------------------------------------------------------------ incarnations
def test_dead_at_the_top_of_the_range_is_refused_and_the_member_stays_alive() -> None:
    r = Router(Config(election=False))
    n1, _, _ = r.cluster(3)
    out = n1.receive(_env("3", _claim("2", pb.DEAD, MAX_INCARNATION, "3")), r.now)
    assert _state(n1, "2") == (pb.ALIVE, 0)
    assert [(x.reason, x.subject) for x in out.refusals] == [("implausible_incarnation", "2")]


def test_subject_ignores_an_absurd_accusation_and_resends_its_alive() -> None:
    r = Router(Config(election=False))
    _, n2, _ = r.cluster(3)
    out = n2.receive(_env("3", _claim("2", pb.DEAD, MAX_INCARNATION - 1, "3")), r.now)
    assert n2.me.incarnation == 0  # not raised to something nobody would accept
    assert [x.subject for x in out.refusals] == ["2"]


@pytest.mark.parametrize("state", [pb.DEAD, pb.SUSPECT])
def test_a_plausible_forged_accusation_is_refuted_everywhere_within_one_round(state: int) -> None:
    r = Router(Config(election=False))
    r.cluster(3)
    r.run(until=3.0)
    forged = _env("3", _claim("2", state, STEP, "3"))  # as far as anyone accepts: one step past 0
    r._dispatch("1", r.nodes["1"].receive(forged, r.now))
    assert _state(r.nodes["1"], "2") == (state, STEP)
    r.run(until=r.now + 5.0)  # the accusation reaches 2 within a period; 2's refutation spreads
    for nid in ("1", "3"):
        assert _state(r.nodes[nid], "2") == (pb.ALIVE, STEP + 1)
    assert r.nodes["2"].me.incarnation == STEP + 1
    for nid in ("1", "3"):  # whatever they went through, the last word is that 2 is alive
        last = [e.name.value for o, e in r.events if o == nid and e.member == "2"][-1]
        assert last == "member_alive"


def test_takeover_of_an_id_at_another_address_is_outbid_by_the_owner() -> None:
    r = Router(Config(election=False))
    r.cluster(3)
    r.run(until=2.0)
    takeover = _claim("2", pb.ALIVE, 2 * STEP, "3", addr="10.9.9.9:1")
    r._dispatch("1", r.nodes["1"].receive(_env("3", takeover), r.now))
    assert r.nodes["1"].member("2").addr == "10.9.9.9:1"  # type: ignore[union-attr]
    r.run(until=r.now + 5.0)
    for nid in ("1", "3"):
        rec = r.nodes[nid].member("2")
        assert rec is not None and rec.addr == member(2).addr and rec.incarnation == 2 * STEP + 1


def test_unknown_member_needs_a_vouching_admitted_sender() -> None:
    r = Router(Config(election=False))
    n1, _, _ = r.cluster(3)
    stranger = _claim("9", pb.ALIVE, 0, "x")
    out = n1.receive(_env("x", stranger), r.now)  # "x" is nobody
    assert n1.member("9") is None and [x.reason for x in out.refusals] == ["not_admitted"]
    n1.receive(_env("x", _claim("x", pb.ALIVE, 0, "x")), r.now)  # a member introducing itself
    assert n1.member("x") is not None
    n1.receive(_env("3", stranger), r.now)  # an admitted member introduces it
    assert _state(n1, "9") == (pb.ALIVE, 0)


def test_unknown_member_beyond_the_clock_ceiling_is_refused_until_time_catches_up() -> None:
    node = Node(Config(election=False), pb.Member(id="a", addr="a:1", incarnation=1000), random.Random(1), 0.0)
    node.bootstrap([pb.Member(id="b", addr="b:1")], 0.0)
    far = _claim("z", pb.ALIVE, 1000 + STEP + 10, "b")
    out = node.receive(_env("b", far), 0.0)
    assert node.member("z") is None and out.refusals[0].reason == "implausible_incarnation"
    node.receive(_env("b", far), 10.0)  # ten seconds later a member may start with that incarnation
    assert _state(node, "z") == (pb.ALIVE, 1000 + STEP + 10)


# ------------------------------------------------------------------ labels
def test_labels_are_bounded_in_count_key_and_value_and_configurable() -> None:
    r = Router(Config(election=False))
    n1, _, _ = r.cluster(3)
    many = _claim("3", pb.ALIVE, 1, "3")
    many.member.labels.update({f"k{i}": "v" for i in range(33)})
    with pytest.raises(ProtocolError, match="33 labels"):
        n1.receive(_env("3", many), r.now)
    long_value = _claim("3", pb.ALIVE, 1, "3")
    long_value.member.labels["k"] = "v" * 256
    with pytest.raises(ProtocolError, match="label longer"):
        n1.receive(_env("3", long_value), r.now)
    assert _state(n1, "3") == (pb.ALIVE, 0)
    join = pb.JoinRequest(header=_env("j").header, member=pb.Member(id="j", addr="j:1"))
    join.member.labels.update({"k" * 64: "v"})
    with pytest.raises(ProtocolError, match="label longer"):
        n1.handle_join(join, r.now)
    assert n1.member("j") is None
    roomy = Node(Config(election=False, max_labels=40), member(1), random.Random(1), 0.0)
    roomy.bootstrap([member(3)], 0.0)
    roomy.receive(_env("3", many), 0.0)
    assert len(roomy.member("3").labels) == 33  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="max_labels"):
        Config(labels=(("a", "b"), ("c", "d")), max_labels=1)


# ------------------------------------------------------------------ ping-req
def test_ping_req_for_a_non_member_is_refused_and_nothing_is_dialled() -> None:
    r = Router(Config(election=False))
    n1, _, _ = r.cluster(3)
    req = pb.PingReq(seq=7, target="evil", target_addr="203.0.113.5:22")
    out = n1.receive(_env("3", ping_req=req), r.now)
    assert all(m.addr != "203.0.113.5:22" and m.to != "evil" for m in out.messages)
    assert [(x.reason, x.subject) for x in out.refusals] == [("ping_req_not_member", "evil")]


def test_ping_req_for_a_member_dials_the_address_in_our_view_not_the_requested_one() -> None:
    r = Router(Config(election=False))
    n1, _, _ = r.cluster(3)
    req = pb.PingReq(seq=7, target="2", target_addr="203.0.113.5:22")
    out = n1.receive(_env("3", ping_req=req), r.now)
    pings = [m for m in out.messages if m.envelope.WhichOneof("body") == "ping"]
    assert [(m.to, m.addr) for m in pings] == [("2", member(2).addr)]


# ------------------------------------------------------------------ joins
def test_prepare_join_changes_nothing_until_admit_join() -> None:
    r = Router(Config(election=False))
    n1, _, _ = r.cluster(3)
    req = pb.JoinRequest(header=_env("j").header, member=pb.Member(id="j", addr="j:1", incarnation=5))
    reply = n1.prepare_join(req, r.now)
    assert "j" in {m.id for m in reply.members} and n1.member("j") is None
    out = n1.admit_join(req, r.now)
    assert _state(n1, "j") == (pb.ALIVE, 5) and [rep.member for rep in out.reports] == ["j"]


def test_join_taking_over_an_id_at_an_absurd_incarnation_is_refused() -> None:
    r = Router(Config(election=False))
    n1, _, _ = r.cluster(3)
    req = pb.JoinRequest(header=_env("2").header, member=pb.Member(id="2", addr="x:1", incarnation=MAX_INCARNATION))
    with pytest.raises(ProtocolError, match="join of '2'"):
        n1.handle_join(req, r.now)
    assert n1.member("2").addr == member(2).addr  # type: ignore[union-attr]


# ------------------------------------------------------------------ election terms
def _leaders(r: Router) -> set[tuple[str, int]]:
    out = set()
    for n in r.nodes.values():
        info = n.leader()
        assert info is not None
        out.add((info.leader.id, info.term))
    return out


def test_a_term_far_beyond_the_known_one_is_refused_without_touching_the_election() -> None:
    r = Router(Config())
    r.cluster(3)
    r.run(until=10.0)
    [(leader, term)] = _leaders(r)
    assert leader == "3"
    forged = pb.IAmLeader(leader=pb.ElectionIdentity(id="2"), term=2**62)
    with pytest.raises(ProtocolError, match="beyond the bound"):
        r.nodes["1"].receive(_env("2", i_am_leader=forged), r.now)
    with pytest.raises(ProtocolError, match="beyond the bound"):
        r.nodes["3"].receive(_env("1", leader_probe=pb.LeaderProbe(term=term + STEP + 1)), r.now)
    nobody = pb.IAmLeader(leader=pb.ElectionIdentity(id="zz", priority=9), term=term + 1)
    with pytest.raises(ProtocolError, match="not a member"):
        r.nodes["1"].receive(_env("2", i_am_leader=nobody), r.now)
    assert _leaders(r) == {("3", term)}


def test_after_a_forged_plausible_term_the_election_converges_on_one_leader() -> None:
    r = Router(Config())
    r.cluster(3)
    r.run(until=10.0)
    [(_, term)] = _leaders(r)
    # A holder of 3's certificate relays a claim by 2 as far ahead as anyone accepts.
    forged = pb.IAmLeader(leader=pb.ElectionIdentity(id="2"), term=term + STEP)
    r._dispatch("1", r.nodes["1"].receive(_env("3", i_am_leader=forged), r.now))
    r.run(until=r.now + 30.0)
    leaders = _leaders(r)
    assert len(leaders) == 1
    [(leader, new_term)] = leaders
    assert leader == "3" and new_term > term + STEP
    assert [n.id for n in r.nodes.values() if n._election.phase is Phase.LEADER] == ["3"]  # type: ignore[union-attr]


def test_static_member_held_at_zero_is_heard_leaving_at_its_real_incarnation() -> None:
    # Static members are held at incarnation 0 until their first Alive arrives, but they start at the
    # clock's value: a member that leaves before this node heard from it must still be believed (the
    # CI failure of tests/integration/test_cluster.py::test_sigterm_leaves_gracefully). Others'
    # accusations stay bounded by what this node holds.
    born = 10 * STEP  # members start at the clock (seconds since 1970): far more than one step past 0
    node = Node(Config(election=False), pb.Member(id="a", addr="a:1", incarnation=born), random.Random(1), 0.0)
    node.bootstrap([pb.Member(id="b", addr="b:1"), pb.Member(id="c", addr="c:1")], 0.0)
    out = node.receive(_env("b", _claim("b", pb.LEFT, born + 2, "b")), 2.0)
    assert _state(node, "b") == (pb.LEFT, born + 2) and out.refusals == []
    out = node.receive(_env("b", _claim("c", pb.LEFT, born + 3, "b")), 2.0)  # b says c left: an accusation
    assert _state(node, "c") == (pb.ALIVE, 0)
    assert [x.reason for x in out.refusals] == ["implausible_incarnation"]
