"""Node.stats: the counts the runtime's metrics read from the core (swimfd.core.stats)."""

from __future__ import annotations

import random

from swimfd.core.config import Config
from swimfd.core.node import Node
from swimfd.pb import swim_pb2 as pb


def _member(mid: str, inc: int = 0, state: int = pb.ALIVE) -> pb.Member:
    return pb.Member(id=mid, addr=f"{mid}:1", incarnation=inc, state=state)


def _env(mid: str, state: int, inc: int, sender: str) -> pb.Envelope:
    u = pb.Update(member=_member(mid, inc, state))
    setattr(u, "from", sender)
    env = pb.Envelope(header=pb.Header(version=1, cluster="swimfd", sender=sender, sender_addr=f"{sender}:1"))
    env.ping.seq = 5
    env.updates.append(u)
    return env


def _node(cfg: Config) -> Node:
    node = Node(cfg, _member("a"), random.Random(3), now=0.0)
    node.bootstrap([_member(p) for p in ("b", "c", "d")], now=0.0)
    return node


def test_members_by_state_refutations_health_and_queue() -> None:
    node = _node(Config(election=False))
    s = node.stats(0.0)
    assert s.members == {"alive": 4, "suspect": 0, "dead": 0, "left": 0}
    assert (s.self_refutations, s.health, s.heartbeat_staleness, s.election_term) == (0, 0, 0.0, 0)
    node.receive(_env("b", pb.SUSPECT, 0, "c"), now=1.0)
    node.receive(_env("c", pb.DEAD, 0, "d"), now=1.0)
    node.receive(_env("d", pb.DEAD, 0, "d"), now=1.0)  # dead from the subject itself: it left
    node.receive(_env("a", pb.SUSPECT, 0, "c"), now=2.0)  # refuted: incarnation 0 -> 1
    node.receive(_env("a", pb.DEAD, 1, "c"), now=3.0)  # refuted again: 1 -> 2
    node.receive(_env("a", pb.SUSPECT, 0, "c"), now=4.0)  # stale: answered without a new refutation
    s = node.stats(4.0)
    assert s.members == {"alive": 1, "suspect": 1, "dead": 1, "left": 1}
    assert s.self_refutations == 2
    assert s.health == node.health == 2
    assert s.piggyback_queue > 0  # the refutation and the changes wait to be piggybacked
    assert s.probe_results == {"ack": 0, "indirect_ack": 0, "nack": 0, "timeout": 0}


def test_heartbeat_staleness_is_the_oldest_alive_heartbeat() -> None:
    node = _node(Config(election=False, mode="heartbeat"))
    assert node.stats(0.0).heartbeat_staleness == 0.0
    assert node.stats(0.7).heartbeat_staleness == 0.7  # nobody gossiped since bootstrap
    gossip = pb.Envelope(header=pb.Header(version=1, cluster="swimfd", sender="b", sender_addr="b:1"))
    gossip.gossip.ids.extend(["b", "c", "d"])
    gossip.gossip.incarnations.extend([0, 0, 0])
    gossip.gossip.heartbeats.extend([5, 5, 0])  # d's counter did not rise
    gossip.gossip.round = 1
    node.receive(gossip, now=1.0)
    assert node.stats(1.5).heartbeat_staleness == 1.5  # d, unheard since 0.0


def test_election_term_follows_the_election() -> None:
    node = Node(Config(election=True), _member("a"), random.Random(3), now=0.0)
    node.bootstrap([_member("b")], now=0.0)
    t = 0.0
    for _ in range(200):
        node.tick(t)
        t = max(node.next_deadline(), t + 0.01)
        if node.leader() is not None:
            break
    leader = node.leader()
    assert leader is not None and node.stats(t).election_term == leader.term >= 1
