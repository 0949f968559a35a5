"""The election as wired into swimfd.node.Node: envelopes in and out, refusals before any state change."""

from __future__ import annotations

import random

import pytest

from swimfd.core.config import PROTOCOL_VERSION, Config
from swimfd.core.node import Node
from swimfd.core.wire import ProtocolError
from swimfd.pb import swim_pb2 as pb

CFG = Config(cluster="c")


def member(mid: str) -> pb.Member:
    return pb.Member(id=mid, addr=f"127.0.0.1:{50050 + int(mid)}", state=pb.ALIVE)


def env(sender: str, **body: object) -> pb.Envelope:
    h = pb.Header(version=PROTOCOL_VERSION, cluster="c", sender=sender, sender_addr=member(sender).addr)
    return pb.Envelope(header=h, **body)


def make(mid: str, others: list[str]) -> Node:
    node = Node(CFG, member(mid), random.Random(1), 0.0)
    node.bootstrap([member(o) for o in others], 0.0)
    return node


def test_bootstrap_elects_to_higher_members_only_after_learning_them() -> None:
    node = Node(CFG, member("3"), random.Random(1), 0.0)
    out = node.bootstrap([member("1"), member("2"), member("4"), member("5")], 0.0)
    elects = [(m.to, m.addr) for m in out.messages if m.envelope.WhichOneof("body") == "elect"]
    assert elects == [("4", "127.0.0.1:50054"), ("5", "127.0.0.1:50055")]
    assert [m for m in out.messages if m.envelope.WhichOneof("body") == "i_am_leader"] == []
    assert node.leader() is None


def test_lone_node_leads_after_an_unopposed_round() -> None:
    node = make("1", [])
    node.tick(CFG.election_timeout)
    info = node.leader()
    assert info is not None and (info.leader.id, info.term) == ("1", 1)


def test_elect_is_answered_with_a_header_and_the_candidate_is_learned() -> None:
    node = make("5", ["1"])
    out = node.receive(env("2", elect=pb.Elect(candidate=pb.ElectionIdentity(id="2"), members=[member("2")])), 0.1)
    [got_it] = [m for m in out.messages if m.envelope.WhichOneof("body") == "got_it"]
    assert got_it.to == "2" and got_it.addr == "127.0.0.1:50052"
    assert got_it.envelope.header.sender == "5" and got_it.envelope.got_it.responder.id == "5"
    assert "2" in {m.id for m in node.members_alive()}


@pytest.mark.parametrize(
    "body",
    [
        {"elect": pb.Elect(candidate=pb.ElectionIdentity(id="9"))},  # speaks for someone else
        {"elect": pb.Elect(candidate=pb.ElectionIdentity(id="2"), members=[pb.Member(id="x" * 300, addr="a:1")])},
        {"i_am_leader": pb.IAmLeader(leader=pb.ElectionIdentity(id="2"), term=2**64 - 1)},
        {"got_it": pb.GotIt()},
    ],
)
def test_malformed_election_messages_are_protocol_errors_and_change_nothing(body: dict) -> None:
    node = make("5", ["1"])
    before = ([v.SerializeToString() for v in node.view()], node.next_deadline(), node.leader())
    bad = env("2", **body)
    bad.updates.append(pb.Update(member=pb.Member(id="7", addr="127.0.0.1:50057", state=pb.ALIVE)))
    with pytest.raises(ProtocolError):
        node.receive(bad, 0.1)
    assert ([v.SerializeToString() for v in node.view()], node.next_deadline(), node.leader()) == before


def test_start_election_after_a_feigned_failure_reports_the_reason() -> None:
    node = make("2", ["1"])
    out = node.start_election(5.0)
    [ev] = [e for e in out.events if e.name.value == "election_started"]
    assert ev.extra["reason"] == "recovered"
