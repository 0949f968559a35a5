"""A probe's failure is evidence about the life of the member it was sent to (docs/faults.md,
finding 4): a member that restarts at the same address while our probe of its previous life is
out (refused at connect, or silent) must not be suspected or failed for it."""

from __future__ import annotations

import random

import pytest
from core_router import Router, member

from swimfd.core.config import PROTOCOL_VERSION, Config
from swimfd.core.health import LocalHealth
from swimfd.core.membership import ALIVE
from swimfd.core.node import Node
from swimfd.core.prober import Prober
from swimfd.pb import swim_pb2 as pb

NEW_LIFE = 1_000  # the restarted member's incarnation (its clock, in the real system)


def _hold_a_ping_to_3(router: Router, within: float = 10.0) -> pb.Envelope:
    """Run until node 1 pings node 3, and lose that ping (its outcome comes later, by hand)."""
    held: list[pb.Envelope] = []

    def block(src: str, dst: str, env: pb.Envelope) -> bool:
        if src == "1" and dst == "3" and env.HasField("ping") and not held:
            held.append(env)
            return True
        return False

    router.block = block
    end = router.now + within
    while not held and router.now < end:
        router.run(router.now + 0.05)
    router.block = None
    assert held, "node 1 never pinged node 3"
    return held[0]


def _restart_3(router: Router) -> None:
    """Node 3 comes back at the same address with a higher incarnation and announces itself."""
    me = member(3)
    me.incarnation = NEW_LIFE
    node = Node(router.config, me, random.Random(99), router.now)
    router.nodes["3"] = node
    router.crashed.discard("3")
    router.refusing.discard("3")
    router._dispatch("3", node.bootstrap([member(i) for i in (1, 2, 3)], router.now))
    hello = pb.Envelope(header=pb.Header(version=PROTOCOL_VERSION, cluster="swimfd", sender="3", sender_addr=me.addr))
    hello.ping.seq = 1
    update = hello.updates.add(member=me)
    update.member.state = ALIVE
    setattr(update, "from", "3")
    for i in ("1", "2"):  # its first pings: they carry its new life
        router._dispatch(i, router.nodes[i].receive(hello, router.now))


def _start(quorum: int) -> Router:
    router = Router(Config(election=False, refusal_quorum=quorum), seed=5)
    router.cluster(3)
    router.run(5.0)
    return router


@pytest.mark.parametrize("refused", [True, False], ids=["refused-at-connect", "silent"])
def test_a_failed_probe_of_the_previous_life_does_not_suspect_the_restarted_member(refused: bool) -> None:
    router = _start(quorum=1)  # one refusal would be enough to suspect with the short grace
    _hold_a_ping_to_3(router)
    router.crash("3", refuse=refused)
    _restart_3(router)
    router.run(router.now + 0.2)
    n1 = router.nodes["1"]
    rec = n1.member("3")
    assert rec is not None and (rec.state, rec.incarnation) == (ALIVE, NEW_LIFE)
    before = len(router.events)
    if refused:  # the connect of the old ping is refused only now (gRPC's reconnect backoff)
        router._dispatch("1", n1.send_failed("3", True, router.now))
    else:  # the held ping stays silent, and so do the proxies' pings until its period is over
        router.block = lambda src, dst, env: dst == "3" and env.HasField("ping")
        router.run(router.now + router.config.probe_interval)
        router.block = None
    router.run(router.now + 30.0)
    late = [(o, e.name) for o, e in router.events[before:] if e.member == "3"]
    assert late == []
    assert all(n.member("3").state == ALIVE for n in router.nodes.values())


def test_without_a_restart_the_same_refusal_still_suspects_and_fails() -> None:
    router = _start(quorum=1)
    _hold_a_ping_to_3(router)
    router.crash("3", refuse=True)
    n1 = router.nodes["1"]
    router._dispatch("1", n1.send_failed("3", True, router.now))
    assert [e.name for e in router.seen("1", "member_suspected", "3")] == ["member_suspected"]
    router.run(router.now + 5.0)
    assert router.seen("1", "member_failed", "3")


def test_the_prober_reports_the_incarnation_each_failed_probe_was_sent_to() -> None:
    lives = {"m": 7}
    p = Prober(Config(refusal_quorum=1), random.Random(1), LocalHealth(8), 0.0, incarnation_of=lives.__getitem__)
    p.add("m")
    [ping] = [s for s in p.tick(0.0).sends if s.kind == "ping"]
    lives["m"] = 8  # what the owner holds later does not change what the probe was about
    step = p.on_send_failed(ping.to, refused=True)
    assert step.refused == ["m"] and step.incarnations == {"m": 7}
