"""Node: refutation, leave vs failure, restarts, notices, joins, validation and bounds."""

from __future__ import annotations

import random

import pytest

from swimfd.core.config import Config
from swimfd.core.events import EventName, Source
from swimfd.core.node import Node
from swimfd.core.wire import ProtocolError
from swimfd.pb import swim_pb2 as pb

CFG = Config(election=False)


def _member(mid: str, inc: int = 0, state: int = pb.ALIVE, addr: str | None = None) -> pb.Member:
    return pb.Member(id=mid, addr=addr if addr is not None else f"{mid}:1", incarnation=inc, state=state)


def _upd(mid: str, state: int, inc: int, sender: str, addr: str | None = None) -> pb.Update:
    u = pb.Update(member=_member(mid, inc, state, addr))
    setattr(u, "from", sender)
    return u


def _env(*updates: pb.Update, sender: str = "b", body: str = "ping", cluster: str = "swimfd", version: int = 1):
    env = pb.Envelope(header=pb.Header(version=version, cluster=cluster, sender=sender, sender_addr=f"{sender}:1"))
    if body == "ping":
        env.ping.seq = 5
    elif body == "ack":
        env.ack.seq = 5
    env.updates.extend(updates)
    return env


def _node(peers: tuple[str, ...] = ("b", "c", "d"), cfg: Config = CFG) -> Node:
    node = Node(cfg, _member("a"), random.Random(3), now=0.0)
    node.bootstrap([_member(p) for p in peers], now=0.0)
    return node


def _state(node: Node, mid: str) -> tuple[int, int]:
    rec = node.member(mid)
    assert rec is not None
    return rec.state, rec.incarnation


def _names(out, member: str | None = None) -> list[str]:
    return [e.name.value for e in out.events if member is None or e.member == member]


def test_bootstrap_emits_joined_and_skips_self() -> None:
    node = Node(CFG, _member("a"), random.Random(1), now=0.0)
    out = node.bootstrap([_member("a"), _member("b"), _member("c")], now=0.0)
    assert sorted(e.member for e in out.events) == ["b", "c"]
    assert all(e.name == EventName.MEMBER_JOINED and e.source == Source.JOIN for e in out.events)
    assert sorted(m.id for m in node.members_alive()) == ["a", "b", "c"]


def test_refutation_raises_own_incarnation_and_answers_with_alive() -> None:
    node = _node()
    out = node.receive(_env(_upd("a", pb.SUSPECT, 0, "b")), now=1.0)
    assert node.me.incarnation == 1
    assert node.health == 1  # Lifeguard: refuting is a hint that we are the slow one
    [ack] = out.messages
    assert ack.to == "b" and ack.envelope.WhichOneof("body") == "ack"
    refutes = [u for u in ack.envelope.updates if u.member.id == "a"]
    assert refutes and refutes[0].member.state == pb.ALIVE and refutes[0].member.incarnation == 1
    # an older suspicion is ignored; a dead claim at our incarnation is refuted too
    node.receive(_env(_upd("a", pb.SUSPECT, 0, "c")), now=2.0)
    assert node.me.incarnation == 1
    node.receive(_env(_upd("a", pb.DEAD, 1, "c")), now=3.0)
    assert node.me.incarnation == 2
    assert node.me.state == pb.ALIVE


def test_only_the_subject_raises_its_incarnation() -> None:
    node = _node()
    node.receive(_env(_upd("b", pb.SUSPECT, 0, "c")), now=1.0)
    assert _state(node, "b") == (pb.SUSPECT, 0)  # we never bump someone else's incarnation


def test_suspect_then_refute_emits_suspected_then_alive() -> None:
    node = _node()
    out = node.receive(_env(_upd("b", pb.SUSPECT, 0, "c"), sender="c"), now=1.0)
    assert _names(out, "b") == ["member_suspected"]
    out = node.receive(_env(_upd("b", pb.ALIVE, 1, "b")), now=2.0)
    assert _names(out, "b") == ["member_alive"]
    assert _state(node, "b") == (pb.ALIVE, 1)


def test_dead_from_the_subject_means_left_and_is_never_failed() -> None:
    node = _node()
    out = node.receive(_env(_upd("b", pb.DEAD, 0, "b")), now=1.0)
    assert _names(out, "b") == ["member_left"]
    assert _state(node, "b") == (pb.LEFT, 0)
    out = node.receive(_env(_upd("b", pb.DEAD, 0, "c"), sender="c"), now=2.0)  # a late failure claim
    assert _names(out) == []
    assert _state(node, "b") == (pb.LEFT, 0)


def test_failure_event_carries_source_and_detector() -> None:
    node = _node()
    u = _upd("b", pb.DEAD, 0, "c")
    u.detector = "hybrid"
    out = node.receive(_env(u, sender="c"), now=1.0)
    [ev] = out.events
    assert (ev.name, ev.source, ev.detector, ev.member) == (EventName.MEMBER_FAILED, Source.GOSSIP, "hybrid", "b")


def test_restart_with_higher_incarnation_and_new_addr_is_accepted() -> None:
    node = _node()
    node.receive(_env(_upd("b", pb.DEAD, 0, "c"), sender="c"), now=1.0)
    out = node.receive(_env(_upd("b", pb.ALIVE, 1, "b", addr="b:2")), now=2.0)
    assert _names(out, "b") == ["member_alive"]
    rec = node.member("b")
    assert rec is not None and (rec.state, rec.incarnation, rec.addr) == (pb.ALIVE, 1, "b:2")
    node.receive(_env(_upd("c", pb.DEAD, 0, "c"), sender="c"), now=3.0)  # c leaves ...
    out = node.receive(_env(_upd("c", pb.ALIVE, 1, "c"), sender="c"), now=4.0)  # ... and rejoins
    assert _names(out, "c") == ["member_joined"]


def test_restarted_self_outbids_its_previous_life() -> None:
    node = Node(CFG, _member("a", addr="a:new"), random.Random(1), now=0.0)
    # the seed still lists our previous life (same id, same incarnation, old address)
    node.bootstrap([_member("a", 0, addr="a:old"), _member("b")], now=0.0)
    assert node.me.incarnation == 1 and node.me.addr == "a:new"


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"cluster": "other"}, "cluster"),
        ({"version": 2}, "version"),
        ({"version": 0}, "version"),
        ({"body": "none"}, "body"),
        ({"sender": ""}, "sender"),
    ],
)
def test_protocol_error_leaves_view_unchanged(kw: dict, msg: str) -> None:
    node = _node()
    before = [(v.member.id, v.member.state, v.member.incarnation) for v in node.view()]
    with pytest.raises(ProtocolError, match=msg):
        node.receive(_env(_upd("b", pb.DEAD, 0, "c"), _upd("z", pb.ALIVE, 0, "z"), **kw), now=1.0)
    assert [(v.member.id, v.member.state, v.member.incarnation) for v in node.view()] == before
    assert node.me.incarnation == 0


def test_malformed_update_rejected_before_any_update_is_applied() -> None:
    node = _node()
    bad = _upd("", pb.ALIVE, 0, "b")
    with pytest.raises(ProtocolError, match="empty id"):
        node.receive(_env(_upd("b", pb.DEAD, 0, "c"), bad), now=1.0)
    assert _state(node, "b") == (pb.ALIVE, 0)
    weird = _upd("x", 9, 0, "b")
    with pytest.raises(ProtocolError, match="unknown state"):
        node.receive(_env(weird), now=1.0)
    with pytest.raises(ProtocolError, match="gossip arrays"):
        env = _env(body="none")
        env.gossip.ids.append("b")
        node.receive(env, now=1.0)


def test_updates_beyond_max_piggyback_are_ignored() -> None:
    node = _node(cfg=Config(election=False, max_piggyback=2))
    node.receive(_env(*[_upd(f"n{i}", pb.ALIVE, 0, "b") for i in range(5)]), now=1.0)
    assert {v.member.id for v in node.view()} == {"a", "b", "c", "d", "n0", "n1"}


def test_members_beyond_max_members_are_refused() -> None:
    node = _node(peers=("b",), cfg=Config(election=False, max_members=3))
    node.receive(_env(_upd("x", pb.ALIVE, 0, "b"), _upd("y", pb.ALIVE, 0, "b")), now=1.0)
    assert len(node.view()) == 3
    with pytest.raises(ProtocolError, match="full"):
        node.handle_join(pb.JoinRequest(header=pb.Header(version=1, cluster="swimfd"), member=_member("q")), 2.0)


def test_stale_notice_never_overrides_newer_incarnation() -> None:
    node = _node()
    node.receive(_env(_upd("b", pb.ALIVE, 3, "b")), now=1.0)
    notice = pb.Notice(header=pb.Header(version=1, cluster="swimfd"), kind=pb.FAILED, origin="c")
    notice.update.CopyFrom(_upd("b", pb.DEAD, 2, "c"))
    applied, out = node.apply_notice(notice, now=2.0)
    assert not applied and out.events == []
    notice.update.member.incarnation = 3
    applied, out = node.apply_notice(notice, now=3.0)
    assert applied
    [ev] = out.events
    assert (ev.name, ev.source) == (EventName.MEMBER_FAILED, Source.NOTICE)
    applied, _ = node.apply_notice(notice, now=4.0)  # duplicate
    assert not applied


def test_notice_with_wrong_cluster_is_refused() -> None:
    node = _node()
    notice = pb.Notice(header=pb.Header(version=1, cluster="nope"), kind=pb.FAILED)
    notice.update.CopyFrom(_upd("b", pb.DEAD, 0, "c"))
    with pytest.raises(ProtocolError):
        node.apply_notice(notice, now=1.0)
    assert _state(node, "b") == (pb.ALIVE, 0)


def test_handle_join_adds_joiner_and_replies_with_everyone() -> None:
    node = _node()
    req = pb.JoinRequest(header=pb.Header(version=1, cluster="swimfd", sender="j"), member=_member("j"))
    reply, out = node.handle_join(req, now=1.0)
    assert sorted(m.id for m in reply.members) == ["a", "b", "c", "d", "j"]
    assert reply.header.cluster == "swimfd" and reply.header.sender == "a"
    [ev] = out.events
    assert (ev.name, ev.member, ev.source) == (EventName.MEMBER_JOINED, "j", Source.JOIN)
    with pytest.raises(ProtocolError):
        node.handle_join(pb.JoinRequest(header=pb.Header(version=1, cluster="x"), member=_member("k")), 1.0)


def test_buddy_system_puts_suspicion_first_on_the_ping_to_the_suspect() -> None:
    node = _node(peers=("b",))
    node.receive(_env(_upd("b", pb.SUSPECT, 0, "c"), sender="c"), now=0.5)
    for _ in range(5):
        out = node.tick(node.next_deadline())
        pings = [m for m in out.messages if m.to == "b" and m.envelope.WhichOneof("body") == "ping"]
        if pings:
            first = pings[0].envelope.updates[0]
            assert (first.member.id, first.member.state) == ("b", pb.SUSPECT)
            return
    raise AssertionError("b was never pinged")


def test_leave_marks_self_left_and_tells_members() -> None:
    node = _node()
    out = node.leave(now=1.0)
    assert node.me.state == pb.LEFT
    assert out.messages and all(
        any(u.member.id == "a" and u.member.state == pb.LEFT for u in m.envelope.updates) for m in out.messages
    )
    assert node.tick(5.0).messages == []
    assert node.next_deadline() == float("inf")


def test_node_is_pure_same_seed_same_messages() -> None:
    def trace() -> list[bytes]:
        node = _node()
        msgs = []
        for _ in range(20):
            msgs += [m.envelope.SerializeToString() for m in node.tick(node.next_deadline()).messages]
        return msgs

    assert trace() == trace()


def test_stale_accusation_makes_the_subject_reassert_without_a_new_incarnation() -> None:
    node = _node()
    node.receive(_env(_upd("a", pb.SUSPECT, 0, "b")), now=1.0)  # refute: incarnation 1
    node.tick(2.0)
    out = node.receive(_env(_upd("a", pb.SUSPECT, 0, "c"), sender="c"), now=3.0)  # c missed it
    assert node.me.incarnation == 1
    [ack] = out.messages
    assert any(u.member.id == "a" and u.member.incarnation == 1 for u in ack.envelope.updates)


def _drive_until(node: Node, until: float, answer: bool) -> tuple[list, list[str]]:
    """Tick a node, acking its pings from member b when ``answer``; return events and ping targets."""
    events, pinged = [], []
    while (t := node.next_deadline()) <= until:
        out = node.tick(t)
        events += out.events
        for m in out.messages:
            if m.envelope.WhichOneof("body") == "ping" and m.to == "b":
                pinged.append(t)
                if answer:
                    ack = _env(sender="b", body="ack")
                    ack.ack.seq = m.envelope.ping.seq
                    events += node.receive(ack, t + 0.01).events
    return events, pinged


@pytest.mark.parametrize("answer", [False, True])
def test_second_hand_suspicion_is_confirmed_only_with_first_hand_evidence(answer: bool) -> None:
    node = _node(peers=("b", "c", "d"))
    node.receive(_env(_upd("b", pb.SUSPECT, 0, "c"), sender="c"), now=0.0)  # heard, not seen
    events, pinged = _drive_until(node, 30.0, answer)
    failed = [e for e in events if e.name == EventName.MEMBER_FAILED and e.member == "b"]  # c, d are silent too
    if answer:
        # b answers our probes, so we never confirm what we only heard; the suspicion starts over
        assert failed == []
        assert node.member("b").state == pb.SUSPECT
    else:
        [ev] = failed
        assert ev.source == Source.LOCAL
        assert any(t < ev.at for t in pinged)  # we looked ourselves before confirming
        assert ev.at <= 24.0 + 1.0  # within Max (n = 4: 6 * 4 s) plus one check period


def test_new_local_suspicion_is_sent_to_the_suspect_at_once() -> None:
    # b never answered since start, so the start-up grace (swimfd.core.backpressure) would hold the suspicion.
    # Without the recheck (swimfd.core.prober; tested there) the first failed probe suspects.
    node = _node(peers=("b",), cfg=CFG.replace(startup_grace=0.0, probe_recheck=False))
    pings: list[tuple[float, pb.Envelope]] = []
    while (t := node.next_deadline()) <= 3.0:
        pings += [(t, m.envelope) for m in node.tick(t).messages if m.envelope.WhichOneof("body") == "ping"]
    # b never answers: the first probe fails at t = 1, and the follow-up ping right after carries the suspicion
    assert node.member("b").state == pb.SUSPECT
    follow = [(t, env) for t, env in pings if t >= 1.0]
    assert follow and follow[0][0] == pytest.approx(1.0)
    first = follow[0][1].updates[0]
    assert (first.member.id, first.member.state) == ("b", pb.SUSPECT)


def test_accusation_at_the_top_incarnation_cannot_overflow_ours() -> None:
    node = _node()
    out = node.receive(_env(_upd("a", pb.DEAD, 2**64 - 1, "b")), now=1.0)
    assert node.me.incarnation == 0 and node.me.state == pb.ALIVE
    assert out.messages  # still answers the ping
