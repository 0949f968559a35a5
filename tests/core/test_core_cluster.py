"""A few Nodes on a tiny in-test router (virtual clock, no loss): end-to-end protocol behaviour."""

from __future__ import annotations

import pytest
from core_router import Router, member

from swimfd.core.bounds import detection_bound
from swimfd.core.config import Config
from swimfd.pb import swim_pb2 as pb

FAILURE_EVENTS = ("member_failed", "member_suspected")


@pytest.mark.parametrize(
    ("mode", "n", "seed"), [("swim", 8, 1), ("swim", 20, 2), ("heartbeat", 8, 3), ("hybrid", 8, 4)]
)
def test_crash_is_detected_by_every_survivor_within_the_bound(mode: str, n: int, seed: int) -> None:
    cfg = Config(mode=mode, election=False)
    r = Router(cfg, seed=seed)
    r.cluster(n)
    r.run(15.0)
    assert [e for _, e in r.events if e.name.value in FAILURE_EVENTS] == []  # healthy start, no accusations
    r.crash("3")
    crash_at = r.now
    bound = detection_bound(cfg, n)
    r.run(crash_at + bound)
    for observer in r.nodes:
        if observer == "3":
            continue
        [failed] = r.seen(observer, "member_failed", "3")  # exactly once
        assert failed.at - crash_at <= bound
        assert failed.detector == {"swim": "swim", "heartbeat": "heartbeat"}.get(mode, failed.detector)
    others = [(o, e.name.value, e.member) for o, e in r.events if e.member != "3" and e.name.value in FAILURE_EVENTS]
    assert others == []


def test_suspected_member_that_answers_refutes() -> None:
    refuted = 0
    for seed in range(1, 9):
        r = Router(Config(election=False), seed=seed)
        r.cluster(5)
        r.run(10.0)
        r.crash("2")  # silent for a moment (a GC pause, say): probes sent in [10, 11] fail at 12.0 ...
        r.run(12.05)
        r.crashed.discard("2")  # ... and it is back long before any suspicion (>= Min = 4 s) times out
        r.run(40.0)
        suspected = {o for o, e in r.events if e.name.value == "member_suspected" and e.member == "2"}
        if suspected:
            refuted += 1
            assert r.nodes["2"].me.incarnation >= 1  # it raised its own incarnation
        for observer in suspected:
            assert r.seen(observer, "member_alive", "2"), f"seed {seed}: {observer} never saw 2 refute"
        assert [(o, e.member) for o, e in r.events if e.name.value == "member_failed"] == [], seed
        for node in r.nodes.values():
            assert len(node.members_alive()) == 5
    assert refuted >= 1, "scenario precondition: in some run, 2 was suspected while silent"


def test_join_via_handle_join_spreads_to_everyone() -> None:
    r = Router(Config(election=False), seed=6)
    r.cluster(6)
    r.run(5.0)
    joiner = r.add(7)
    req = pb.JoinRequest(header=pb.Header(version=1, cluster="swimfd", sender="7"), member=member(7))
    reply, out = r.nodes["1"].handle_join(req, r.now)
    r._dispatch("1", out)
    r._dispatch("7", joiner.bootstrap(reply.members, r.now))
    r.run(25.0)
    for node in r.nodes.values():
        assert sorted(m.id for m in node.members_alive()) == [str(i) for i in range(1, 8)], node.id
    for observer in map(str, range(1, 7)):
        assert len(r.seen(observer, "member_joined", "7")) == 1


def test_graceful_leave_is_reported_left_not_failed() -> None:
    r = Router(Config(election=False), seed=7)
    r.cluster(6)
    r.run(5.0)
    r._dispatch("4", r.nodes["4"].leave(r.now))
    r.crash("4")  # the process exits after leaving
    r.run(80.0)
    for observer in r.nodes:
        if observer != "4":
            assert len(r.seen(observer, "member_left", "4")) == 1
    assert [e for _, e in r.events if e.name.value == "member_failed"] == []


def test_healed_partition_merges_again() -> None:
    cfg = Config(election=False, dead_probe_interval=5.0)
    r = Router(cfg, seed=8)
    r.cluster(6)
    r.run(5.0)
    a, b = {"1", "2", "3"}, {"4", "5", "6"}
    r.drop = {(x, y) for x in a for y in b} | {(y, x) for x in a for y in b}
    r.run(80.0)
    assert all(r.seen(o, "member_failed", "5") for o in a)  # each side declared the other dead
    r.drop = set()
    r.run(160.0)
    for node in r.nodes.values():
        assert len(node.members_alive()) == 6, node.id


def test_election_hook_elects_and_re_elects_after_the_leader_fails() -> None:
    pytest.importorskip("swimfd.core.election")
    r = Router(Config(election=True), seed=2)
    r.cluster(6)
    r.run(15.0)
    assert {n.leader().leader.id for n in r.nodes.values()} == {"6"}  # bully: highest (priority, id)
    r.crash("6")
    r.run(90.0)
    leaders = {(n.leader().leader.id, n.leader().term) for n in r.nodes.values() if n.id != "6"}
    assert len(leaders) == 1
    [(leader, term)] = leaders
    assert leader == "5" and term >= 2
