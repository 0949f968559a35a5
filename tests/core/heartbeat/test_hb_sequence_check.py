"""Sequence-check round robin: a missing expected gossip yields `missed` evidence."""

from __future__ import annotations

from hb_helpers import Lockstep, config

from swimfd.core.target_selection import expected_senders

IDS = ["a", "b", "c", "d", "e"]


def missed_by_round(cluster: Lockstep, member: str) -> list[list[str]]:
    return [step.missed for step in cluster.steps[member] if step.gossip or step.missed]


def test_no_missed_evidence_when_every_gossip_arrives():
    cluster = Lockstep(IDS, config(gossip_target="sequence_check", t_fail=1000.0))
    for r in range(1, 15):
        cluster.round(r)
    assert all(not step.missed for steps in cluster.steps.values() for step in steps)


def test_dropped_gossip_is_reported_missed_two_rounds_later():
    cluster = Lockstep(IDS, config(gossip_target="sequence_check", t_fail=1000.0))
    dropped_round = 6
    [sender] = expected_senders("sequence_check", IDS, IDS.index("a"), dropped_round, 1)
    for r in range(1, 11):
        cluster.round(r, drop={(sender, "a")} if r == dropped_round else None)
    a_missed = missed_by_round(cluster, "a")  # one entry per round 1..10
    assert a_missed[dropped_round + 2 - 1] == [sender]
    assert [m for k, m in enumerate(a_missed) if k != dropped_round + 1] == [[]] * 9
    others = [step.missed for member in IDS if member != "a" for step in cluster.steps[member]]
    assert not any(others)


def test_a_silent_member_is_missed_by_each_member_it_owed_a_message():
    cluster = Lockstep(IDS, config(gossip_target="sequence_check", t_fail=1000.0))
    for r in range(1, 5):
        cluster.round(r)
    for r in range(5, 12):
        cluster.round(r, silent={"c"})
    for member in ("a", "b", "d", "e"):
        pos = IDS.index(member)
        owed = [r for r in range(5, 10) if expected_senders("sequence_check", IDS, pos, r, 1) == ["c"]]
        reports = [step.missed for step in cluster.steps[member] if "c" in step.missed]
        assert len(reports) == len(owed) >= 1


def test_fanout_two_expects_two_senders_per_round():
    cluster = Lockstep(IDS, config(gossip_target="sequence_check", gossip_fanout=2, t_fail=1000.0))
    for r in range(1, 6):
        cluster.round(r, silent={"b", "c"} if r == 4 else None)
    pos = IDS.index("a")
    expected = set(expected_senders("sequence_check", IDS, pos, 4, 2)) & {"b", "c"}
    assert set(missed_by_round(cluster, "a")[5 - 1]) == expected
