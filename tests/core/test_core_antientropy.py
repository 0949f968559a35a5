"""Tombstone anti-entropy (swimfd.core.antientropy): digests on pings, tombstones on acks, probes on receipt."""

from __future__ import annotations

import random

import pytest

from swimfd.core.antientropy import Tombstones, tombstone_hash
from swimfd.core.config import Config
from swimfd.core.events import EventName
from swimfd.core.node import Node
from swimfd.core.wire import ProtocolError
from swimfd.pb import swim_pb2 as pb
from swimfd.sim.engine import Simulator
from swimfd.sim.network import Network

CFG = Config(election=False)


def _member(mid: str, inc: int = 0, state: int = pb.ALIVE) -> pb.Member:
    return pb.Member(id=mid, addr=f"{mid}:1", incarnation=inc, state=state)


def _node(me: str, peers: tuple[str, ...], cfg: Config = CFG) -> Node:
    node = Node(cfg, _member(me), random.Random(3), now=0.0)
    node.bootstrap([_member(p) for p in peers], now=0.0)
    return node


def _ping(sender: str, digest: int) -> pb.Envelope:
    env = pb.Envelope(header=pb.Header(version=1, cluster="swimfd", sender=sender, sender_addr=f"{sender}:1"))
    env.ping.seq = 9
    env.ping.target = "a"
    env.ping.tombstones = digest
    return env


def _answer_until(node: Node, start: float, end: float) -> None:
    """Drive ``node`` with every ping answered, until its broadcast queue has run dry."""
    t = start
    while t < end:
        for m in node.tick(t).messages:
            env = m.envelope
            if env.WhichOneof("body") == "ping" and m.to != "d":
                ack = pb.Envelope(header=pb.Header(version=1, cluster="swimfd", sender=m.to, sender_addr=f"{m.to}:1"))
                ack.ack.seq = env.ping.seq
                node.receive(ack, now=t + 0.01)
        t = round(t + 0.1, 1)


def _dead(mid: str, sender: str, inc: int = 0) -> pb.Envelope:
    env = _ping(sender, 0)
    u = pb.Update(member=_member(mid, inc, pb.DEAD))
    setattr(u, "from", sender)
    env.updates.append(u)
    return env


def test_the_digest_is_the_same_whatever_the_order_and_forgets_what_is_discarded() -> None:
    a, b = Tombstones(), Tombstones()
    a.set("x", 1, pb.DEAD)
    a.set("y", 0, pb.LEFT)
    b.set("y", 0, pb.LEFT)
    b.set("x", 0, pb.DEAD)
    assert a.digest != b.digest  # x at another incarnation
    b.set("x", 1, pb.DEAD)  # a newer assertion replaces the old hash
    assert a.digest == b.digest and len(b) == 2
    a.discard("x")
    a.discard("x")  # twice is harmless
    assert a.digest == tombstone_hash("y", 0, pb.LEFT) and "x" not in a and len(a) == 1
    a.discard("y")
    assert a.digest == 0 and a.sample(random.Random(1), 4) == []


def test_sample_is_distinct_and_bounded() -> None:
    t = Tombstones()
    for i in range(20):
        t.set(f"m{i}", 0, pb.DEAD)
    picks = t.sample(random.Random(5), 4)
    assert len(picks) == len(set(picks)) == 4 and all(p in t for p in picks)
    assert sorted(t.sample(random.Random(5), 50)) == sorted(f"m{i}" for i in range(20))


def _ack_to(out, to: str) -> pb.Envelope:
    [ack] = [m.envelope for m in out.messages if m.to == to and m.envelope.WhichOneof("body") == "ack"]
    return ack


def _pings_to(out, to: str) -> list[pb.Envelope]:
    return [m.envelope for m in out.messages if m.to == to and m.envelope.WhichOneof("body") == "ping"]


def test_a_pinger_that_missed_a_death_gets_the_tombstone_on_the_ack_and_probes_the_member() -> None:
    a = _node("a", ("b", "c", "d"))
    a.receive(_dead("d", sender="c"), now=1.0)  # a learns d died; b never did
    _answer_until(a, 2.0, 40.0)  # a's broadcast queue runs dry: only the anti-entropy can carry the news
    ack = _ack_to(a.receive(_ping("b", digest=0), now=40.0), "b")
    assert [(u.member.id, u.member.state) for u in ack.ack.tombstones] == [("d", pb.DEAD)]
    assert all(u.member.state != pb.DEAD for u in ack.updates)  # not gossip: b must check for itself

    b = _node("b", ("a", "c", "d"))
    ack.header.sender, ack.ack.seq = "a", 1  # an ack to no probe of b's: only its tombstones matter
    res = b.receive(ack, now=40.1)
    assert b.member("d").state == pb.ALIVE and res.events == []  # not believed...
    pings = [env for t in (40.2, 40.3) for env in _pings_to(b.tick(t), "d")]
    assert pings  # ... but probed at once, out of turn
    # d is gone: the out-of-turn probe fails, which agrees with the tombstone, so b takes the verdict.
    names: list[EventName] = []
    t = 40.4
    while t < 45.0 and not names:
        names += [e.name for e in b.tick(t).events if e.member == "d"]
        t = round(t + 0.1, 1)
    assert names == [EventName.MEMBER_FAILED] and t > 40.9  # after the probe's own timeout, not before
    assert b.member("d").state == pb.DEAD


def test_a_tombstone_about_a_member_that_answers_changes_nothing() -> None:
    """After a partition heals, the other side's tombstones name members we have just heard from."""
    b = _node("b", ("a", "c", "d"))
    ack = pb.Envelope(header=pb.Header(version=1, cluster="swimfd", sender="a", sender_addr="a:1"))
    ack.ack.seq = 1
    u = ack.ack.tombstones.add(member=_member("d", 0, pb.DEAD))
    setattr(u, "from", "a")
    b.receive(ack, now=5.0)
    [ping] = [env for env in _pings_to(b.tick(5.1), "d")]
    reply = pb.Envelope(header=pb.Header(version=1, cluster="swimfd", sender="d", sender_addr="d:1"))
    reply.ack.seq = ping.ping.seq
    res = b.receive(reply, now=5.2)
    assert b.member("d").state == pb.ALIVE and not [e for e in res.events if e.member == "d"]


def test_a_tombstone_about_ourselves_is_refuted() -> None:
    b = _node("b", ("a", "c", "d"))
    ack = pb.Envelope(header=pb.Header(version=1, cluster="swimfd", sender="a", sender_addr="a:1"))
    ack.ack.seq = 1
    ack.ack.tombstones.add(member=_member("b", 0, pb.DEAD))
    b.receive(ack, now=5.0)
    assert b.member("b").incarnation == 1  # a newer life outbids the verdict


def test_an_ack_with_too_many_tombstones_is_refused() -> None:
    b = _node("b", ("a", "c", "d"))
    ack = pb.Envelope(header=pb.Header(version=1, cluster="swimfd", sender="a", sender_addr="a:1"))
    ack.ack.seq = 1
    for i in range(CFG.max_piggyback + 1):
        ack.ack.tombstones.add(member=_member(f"x{i}", 0, pb.DEAD))
    with pytest.raises(ProtocolError, match="tombstones"):
        b.receive(ack, now=5.0)
    assert len(b.members_alive()) == 4


def test_agreeing_digests_add_nothing_to_the_ack() -> None:
    a = _node("a", ("b", "c", "d"))
    a.receive(_dead("d", sender="c"), now=1.0)
    _answer_until(a, 2.0, 40.0)
    digest = tombstone_hash("d", 0, pb.DEAD)
    ack = _ack_to(a.receive(_ping("b", digest=digest), now=40.0), "b")
    assert len(ack.ack.tombstones) == 0


def test_pings_carry_the_senders_digest() -> None:
    a = _node("a", ("b", "c", "d"))
    a.receive(_dead("d", sender="c"), now=1.0)
    pings = [m.envelope.ping for t in range(2, 4) for m in a.tick(float(t)).messages if m.envelope.HasField("ping")]
    assert pings and all(p.tombstones == tombstone_hash("d", 0, pb.DEAD) for p in pings)


def test_tombstones_older_than_half_the_ttl_are_not_taught_again() -> None:
    """Members forget a tombstone at different times; re-teaching it would keep it forever."""
    cfg = CFG.replace(tombstone_ttl=100.0)
    a = _node("a", ("b", "c", "d"), cfg)
    a.receive(_dead("d", sender="c"), now=1.0)
    _answer_until(a, 2.0, 60.0)
    ack = _ack_to(a.receive(_ping("b", digest=0), now=60.0), "b")  # 59 s old: more than half of 100 s
    assert len(ack.ack.tombstones) == 0


def test_every_survivor_learns_every_crash_at_five_percent_loss() -> None:
    """The run that showed the gap: n = 100, 10 refusing crashes at 5% loss, seed 1. Without the
    anti-entropy one member never heard of five of the deaths (confirmed in 2 s, gossip over in 4 s)."""
    sim = Simulator(100, CFG, seed=1, network=Network(loss=0.05, seed=1), warmup=10.0)
    victims = random.Random("swimfd-scenario-1").sample(sim.ids, 10)
    for m in victims:
        sim.crash(m, at=10.0)
    sim.run(60.0)
    r = sim.result()
    assert r["detected_by_all"] == 10 and r["false_positives"] == 0 and r["converged"]


def test_a_tombstone_keeps_the_time_it_was_first_dated_until_it_is_discarded() -> None:
    t = Tombstones()
    assert t.set("x", 0, pb.DEAD, since=5.0) == 5.0
    assert t.set("x", 0, pb.LEFT, since=9.0) == 5.0  # DEAD then LEFT: still since it stopped being live
    assert t.set("base", 0, pb.DEAD) is None  # a static list's tombstone is not dated
    assert list(t.dated()) == [("x", 5.0)] and t.since("base") is None
    t.discard("x")
    assert list(t.dated()) == [] and t.since("x") is None
