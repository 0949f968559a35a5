"""Election state machine, one member at a time: messages in, messages and events out (virtual clock)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swimfd.core.config import PROTOCOL_VERSION, Config
from swimfd.core.election import Election, ElectionError, ElectionStep, Phase, identities, identity_key
from swimfd.core.events import EventName, MembershipEvent, Source
from swimfd.pb import swim_pb2 as pb

CFG = Config(election_timeout=1.0, leader_wait_timeout=3.0, leader_probe_min=0.5, leader_probe_max=3.0)


def member(mid: str, priority: int = 0, incarnation: int = 0) -> pb.Member:
    return pb.Member(id=mid, addr=f"10.0.0.{mid}:1", priority=priority, incarnation=incarnation, state=pb.ALIVE)


def ident(mid: str, priority: int = 0) -> pb.ElectionIdentity:
    return pb.ElectionIdentity(id=mid, priority=priority)


def env(sender: str, **body: object) -> pb.Envelope:
    header = pb.Header(version=PROTOCOL_VERSION, cluster="swimfd", sender=sender, sender_addr=f"10.0.0.{sender}:1")
    return pb.Envelope(header=header, **body)


def make(mid: str, others: list[str], priority: int = 0, now: float = 0.0) -> Election:
    e = Election(CFG, ident(mid, priority), random.Random(7), now)
    e.on_members([member(o) for o in others], [], now)
    return e


def sent(step: ElectionStep, field: str) -> list[tuple[str, pb.Envelope]]:
    return [(m.to, m.body) for m in step.send if m.field == field]


def names(step: ElectionStep) -> list[str]:
    return [e.name.value for e in step.events]


# ------------------------------------------------------------------ identities --


def test_ids_order_numerically_then_textually() -> None:
    assert identity_key(0, "2") < identity_key(0, "10")
    assert identity_key(0, "node-9") < identity_key(0, "node-10")
    assert identity_key(0, "a") < identity_key(0, "b")
    # Same number, different text: still distinct and ordered, so the order is total.
    assert identity_key(0, "01") != identity_key(0, "1")
    assert (identity_key(0, "01") < identity_key(0, "1")) != (identity_key(0, "1") < identity_key(0, "01"))


def test_priority_outranks_id() -> None:
    assert identity_key(1, "1") > identity_key(0, "99")
    assert identity_key(-1, "99") < identity_key(0, "1")
    ranked = identities([member("3"), member("10"), member("1", priority=5)])
    assert [i.id for i in ranked] == ["1", "10", "3"]


# -------------------------------------------------------------------- phases ----


def test_lone_member_claims_term_one_after_an_unopposed_round() -> None:
    e = make("1", [])
    step = e.start(0.0)
    assert names(step) == ["election_started"]
    assert step.send == []
    assert e.phase is Phase.ANNOUNCING and e.leader() is None
    assert e.next_deadline() == pytest.approx(1.0)
    assert e.tick(0.99).events == []
    step = e.tick(1.0)
    assert e.phase is Phase.LEADER
    [ev] = step.events
    assert ev.name is EventName.LEADER_ELECTED and ev.member == "1" and ev.extra == {"leader": "1", "term": 1}
    info = e.leader()
    assert info is not None and info.leader.id == "1" and info.term == 1


def test_start_sends_elect_to_every_higher_member_with_the_member_list() -> None:
    e = make("3", ["1", "2", "4", "10"])
    step = e.start(0.0)
    elects = sent(step, "elect")
    assert sorted(to for to, _ in elects) == ["10", "4"]
    body = elects[0][1]
    assert body.candidate.id == "3"
    assert sorted(m.id for m in body.members) == ["1", "10", "2", "4"]
    assert e.phase is Phase.ELECTING


def test_silence_from_higher_members_makes_it_announce_to_everyone() -> None:
    e = make("3", ["1", "2", "4"])
    e.start(0.0)
    assert e.tick(0.5).send == []
    step = e.tick(1.0)
    claims = sent(step, "i_am_leader")
    assert sorted(to for to, _ in claims) == ["1", "2", "4"]
    assert all(b.leader.id == "3" and b.term == 1 for _, b in claims)
    assert e.phase is Phase.ANNOUNCING
    e.tick(2.0)
    assert e.is_leader()


def test_got_it_waits_for_the_leader_and_restarts_when_none_comes() -> None:
    e = make("3", ["1", "4"])
    e.start(0.0)
    e.receive("4", env("4", got_it=pb.GotIt(responder=ident("4"))), 0.2)
    assert e.phase is Phase.WAITING
    assert e.tick(1.5).send == []  # a GotIt suppresses the announcement
    assert e.next_deadline() == pytest.approx(3.2)
    step = e.tick(3.2)
    assert names(step) == ["election_started"]
    assert step.events[0].extra["reason"] == "no_leader_announced"
    assert [to for to, _ in sent(step, "elect")] == ["4"]


def test_got_it_from_a_lower_member_is_not_a_takeover() -> None:
    e = make("3", ["1", "4"])
    e.start(0.0)
    e.receive("1", env("1", got_it=pb.GotIt(responder=ident("1"))), 0.2)
    assert e.phase is Phase.ELECTING


def test_follower_probes_the_leader_and_elects_when_the_probe_fails() -> None:
    e = make("3", ["1", "4"])
    e.start(0.0)
    step = e.receive("4", env("4", i_am_leader=pb.IAmLeader(leader=ident("4"), term=1)), 0.1)
    assert e.phase is Phase.FOLLOWER
    assert [(ev.name.value, ev.extra) for ev in step.events] == [("leader_elected", {"leader": "4", "term": 1})]
    probe_at = e.next_deadline()
    assert 0.1 + CFG.leader_probe_min <= probe_at <= 0.1 + CFG.leader_probe_max
    step = e.tick(probe_at)
    assert sent(step, "leader_probe") == [("4", pb.LeaderProbe(term=1))]
    # Answered: next probe scheduled, no election.
    e.receive("4", env("4", got_it=pb.GotIt(responder=ident("4"))), probe_at + 0.01)
    nxt = e.next_deadline()
    assert probe_at + 0.01 + CFG.leader_probe_min <= nxt <= probe_at + 0.01 + CFG.leader_probe_max
    e.tick(nxt)
    step = e.tick(nxt + CFG.election_timeout)
    assert names(step) == ["election_started"]
    assert step.events[0].extra["reason"] == "leader_probe_failed"
    assert e.leader() is None


def test_leader_failure_reported_by_the_detector_starts_an_election() -> None:
    e = make("2", ["1", "3"])
    e.start(0.0)
    e.receive("3", env("3", i_am_leader=pb.IAmLeader(leader=ident("3"), term=4)), 0.1)
    failed = MembershipEvent(EventName.MEMBER_FAILED, "3", 0, 5.0, Source.LOCAL, detector="swim")
    step = e.on_members([member("1")], [failed], 5.0)
    assert names(step) == ["election_started"]
    # No higher member left: it claims at once, above every term it has seen.
    assert [(to, b.term) for to, b in sent(step, "i_am_leader")] == [("1", 5)]


def test_leader_leaving_starts_an_election_but_other_changes_do_not() -> None:
    e = make("2", ["1", "3", "4"])
    e.start(0.0)
    e.receive("4", env("4", i_am_leader=pb.IAmLeader(leader=ident("4"), term=1)), 0.1)
    other = MembershipEvent(EventName.MEMBER_FAILED, "1", 0, 1.0, Source.LOCAL, detector="swim")
    assert e.on_members([member("3"), member("4")], [other], 1.0).events == []
    left = MembershipEvent(EventName.MEMBER_LEFT, "4", 0, 2.0, Source.GOSSIP)
    step = e.on_members([member("3")], [left], 2.0)
    assert names(step) == ["election_started"]
    assert [to for to, _ in sent(step, "elect")] == ["3"]


def test_electing_member_stops_waiting_when_every_higher_member_is_gone() -> None:
    e = make("2", ["1", "3"])
    e.start(0.0)
    failed = MembershipEvent(EventName.MEMBER_FAILED, "3", 0, 0.4, Source.LOCAL, detector="swim")
    step = e.on_members([member("1")], [failed], 0.4)
    assert [(to, b.term) for to, b in sent(step, "i_am_leader")] == [("1", 1)]


# ------------------------------------------------------------------- elect -----


def test_elect_from_a_lower_member_is_answered_and_taken_over() -> None:
    e = make("5", ["1", "6"])
    elect = pb.Elect(candidate=ident("2"), members=[member("1"), member("2"), member("5"), member("7", incarnation=3)])
    step = e.receive("2", env("2", elect=elect), 0.0)
    assert sent(step, "got_it") == [("2", pb.GotIt(responder=ident("5")))]
    assert names(step) == ["election_started"]
    assert [to for to, _ in sent(step, "elect")] == ["6"]
    # Members it did not know come back for the Node to merge (itself and known ones do not).
    assert sorted(m.id for m in step.learned) == ["2", "7"]
    assert step.send[0].addr == "10.0.0.2:1"


def test_elect_while_electing_is_answered_without_a_second_election() -> None:
    e = make("5", ["1", "6"])
    e.start(0.0)
    step = e.receive("1", env("1", elect=pb.Elect(candidate=ident("1"))), 0.1)
    assert [to for to, _ in sent(step, "got_it")] == ["1"]
    assert step.events == [] and sent(step, "elect") == []


def test_elect_from_a_higher_member_is_not_answered() -> None:
    e = make("5", ["9"])
    step = e.receive("9", env("9", elect=pb.Elect(candidate=ident("9"))), 0.0)
    assert step.send == [] and step.events == []


def test_leader_answers_elect_with_got_it_and_its_claim() -> None:
    e = make("5", ["1"])
    e.start(0.0)
    e.tick(1.0)
    assert e.is_leader()
    step = e.receive("1", env("1", elect=pb.Elect(candidate=ident("1"))), 2.0)
    assert [m.field for m in step.send] == ["got_it", "i_am_leader"]
    assert step.send[1].body.term == 1
    assert step.events == []


def test_follower_answers_elect_with_its_leader_and_checks_the_leader_at_once() -> None:
    e = make("5", ["1", "9"])
    e.receive("9", env("9", i_am_leader=pb.IAmLeader(leader=ident("9"), term=3)), 0.0)
    step = e.receive("1", env("1", elect=pb.Elect(candidate=ident("1"))), 0.2)
    assert [(m.to, m.field) for m in step.send] == [("1", "got_it"), ("1", "i_am_leader"), ("9", "leader_probe")]
    assert step.send[1].body == pb.IAmLeader(leader=ident("9"), term=3)
    assert step.events == []
    # The leader is dead: the probe fails and this member takes over the election.
    step = e.tick(0.2 + CFG.election_timeout)
    assert step.events[0].extra["reason"] == "leader_probe_failed"


# --------------------------------------------------------------- terms ---------


def test_claim_is_above_every_term_seen() -> None:
    e = make("5", ["1"])
    e.receive("9", env("9", i_am_leader=pb.IAmLeader(leader=ident("9"), term=41)), 0.0)
    failed = MembershipEvent(EventName.MEMBER_FAILED, "9", 0, 1.0, Source.LOCAL, detector="swim")
    step = e.on_members([member("1")], [failed], 1.0)
    assert [b.term for _, b in sent(step, "i_am_leader")] == [42]
    assert e.term == 42


def test_lower_claimant_is_bullied_by_a_higher_member() -> None:
    e = make("5", ["1", "3"])
    e.receive("9", env("9", i_am_leader=pb.IAmLeader(leader=ident("9"), term=2)), 0.0)
    step = e.receive("3", env("3", i_am_leader=pb.IAmLeader(leader=ident("3"), term=3)), 1.0)
    assert names(step) == ["election_started"] and step.events[0].extra["reason"] == "lower_leader"
    # "9" is not in the view, so nobody outranks "5": it claims at once, above the term it just learned.
    assert sorted((to, b.term) for to, b in sent(step, "i_am_leader")) == [("1", 4), ("3", 4)]
    assert e.term == 4


def test_stale_claim_gets_an_objection_carrying_the_newer_term() -> None:
    e = make("2", ["1", "3", "9"])
    e.receive("9", env("9", i_am_leader=pb.IAmLeader(leader=ident("9"), term=7)), 0.0)
    step = e.receive("3", env("3", i_am_leader=pb.IAmLeader(leader=ident("3"), term=6)), 0.1)
    assert sent(step, "i_am_leader") == [("3", pb.IAmLeader(leader=ident("9"), term=7))]
    # Same term, different leader: also an objection; the member keeps its leader.
    step = e.receive("3", env("3", i_am_leader=pb.IAmLeader(leader=ident("3"), term=7)), 0.2)
    assert sent(step, "i_am_leader") == [("3", pb.IAmLeader(leader=ident("9"), term=7))]
    info = e.leader()
    assert info is not None and (info.leader.id, info.term) == ("9", 7)
    # A relayed claim (sender is not the claimant) is never objected to, so objections cannot bounce.
    step = e.receive("1", env("1", i_am_leader=pb.IAmLeader(leader=ident("3"), term=6)), 0.3)
    assert step.send == []


def test_announcing_member_contested_by_a_lower_claimant_claims_the_next_term() -> None:
    e = make("5", ["1", "3"])
    e.start(0.0)  # nobody outranks "5": announces term 1 at once
    assert e.phase is Phase.ANNOUNCING
    step = e.receive("3", env("3", i_am_leader=pb.IAmLeader(leader=ident("3"), term=1)), 0.5)
    targets = sorted((to, b.term) for to, b in sent(step, "i_am_leader"))
    assert ("3", 1) in targets  # the objection to the direct claimant
    assert [t for t in targets if t[1] == 2] == [("1", 2), ("3", 2)]  # and the new claim to everyone
    assert e.leader() is None  # still not believed: the new claim needs its own unopposed round
    e.tick(1.0)
    assert not e.is_leader()  # the first round's deadline no longer applies
    e.tick(1.5)
    assert e.is_leader() and e.term == 2


def test_announcing_member_contested_by_a_higher_claimant_steps_down() -> None:
    e = make("5", ["1"])
    e.start(0.0)  # no higher member known: announces term 1 at once
    step = e.receive("8", env("8", i_am_leader=pb.IAmLeader(leader=ident("8"), term=1)), 0.1)
    assert sent(step, "i_am_leader") == [("8", pb.IAmLeader(leader=ident("5"), term=1))]
    assert e.phase is Phase.WAITING and e.leader() is None
    e.tick(1.5)
    assert not e.is_leader()  # the stepped-down claim never becomes a belief
    step = e.receive("8", env("8", i_am_leader=pb.IAmLeader(leader=ident("8"), term=2)), 1.6)
    info = e.leader()
    assert info is not None and (info.leader.id, info.term) == ("8", 2)


def test_leader_hearing_a_newer_term_from_a_lower_member_takes_over_above_it() -> None:
    e = make("5", ["1"])
    e.start(0.0)
    e.tick(1.0)
    assert e.is_leader()
    step = e.receive("1", env("1", i_am_leader=pb.IAmLeader(leader=ident("1"), term=9)), 2.0)
    assert [(to, b.term) for to, b in sent(step, "i_am_leader")] == [("1", 10)]
    e.tick(3.0)
    assert e.is_leader() and e.term == 10


# ---------------------------------------------------------------- probes -------


def test_leader_answers_probes_and_refreshes_stale_probers() -> None:
    e = make("5", ["1", "2"])
    e.receive("9", env("9", i_am_leader=pb.IAmLeader(leader=ident("9"), term=3)), 0.0)
    failed = MembershipEvent(EventName.MEMBER_FAILED, "9", 0, 1.0, Source.LOCAL, detector="swim")
    e.on_members([member("1"), member("2")], [failed], 1.0)
    e.tick(2.0)
    assert e.is_leader() and e.term == 4
    step = e.receive("1", env("1", leader_probe=pb.LeaderProbe(term=4)), 3.0)
    assert [(m.to, m.field) for m in step.send] == [("1", "got_it")]
    step = e.receive("2", env("2", leader_probe=pb.LeaderProbe(term=3)), 3.0)
    assert [(m.to, m.field) for m in step.send] == [("2", "got_it"), ("2", "i_am_leader")]
    # A prober that knows a newer term: this leader missed something and claims above it.
    step = e.receive("1", env("1", leader_probe=pb.LeaderProbe(term=8)), 3.0)
    assert sent(step, "got_it") == []
    assert sorted((to, b.term) for to, b in sent(step, "i_am_leader")) == [("1", 9), ("2", 9)]


def test_electing_member_does_not_answer_probes() -> None:
    e = make("5", ["9"])
    e.start(0.0)
    assert e.receive("1", env("1", leader_probe=pb.LeaderProbe(term=1)), 0.1).send == []


# --------------------------------------------------------- membership hooks ----


def test_leader_announces_itself_to_members_it_had_not_seen() -> None:
    e = make("5", ["1"])
    e.start(0.0)
    e.tick(1.0)
    step = e.on_members([member("1"), member("7")], [], 2.0)
    assert sent(step, "i_am_leader") == [("7", pb.IAmLeader(leader=ident("5"), term=1))]
    assert e.on_members([member("1"), member("7")], [], 3.0).send == []


def test_stop_silences_the_member() -> None:
    e = make("5", ["1"])
    e.start(0.0)
    e.stop(0.5)
    assert e.receive("1", env("1", elect=pb.Elect(candidate=ident("1"))), 0.6).send == []
    assert e.tick(10.0).send == [] and e.next_deadline() == float("inf")
    assert e.start(11.0).events == []


# --------------------------------------------------------------- bad input -----


@pytest.mark.parametrize(
    ("sender", "body", "match"),
    [
        ("2", {"elect": pb.Elect(candidate=ident(""))}, "empty id"),
        ("2", {"elect": pb.Elect(candidate=ident("3"))}, "not the sender"),
        ("2", {"got_it": pb.GotIt()}, "empty id"),
        ("2", {"i_am_leader": pb.IAmLeader(term=3)}, "empty id"),
        ("2", {"ping": pb.Ping(seq=1)}, "not an election message"),
        ("", {"leader_probe": pb.LeaderProbe(term=1)}, "without a sender"),
        ("2", {"i_am_leader": pb.IAmLeader(leader=ident("2"), term=2**64 - 1)}, "largest acceptable term"),
        ("2", {"leader_probe": pb.LeaderProbe(term=2**63)}, "largest acceptable term"),
        ("2", {"elect": pb.Elect(candidate=ident("2"), members=[pb.Member(addr="x:1")])}, "empty id"),
    ],
)
def test_malformed_messages_are_refused_without_changing_state(sender: str, body: dict, match: str) -> None:
    e = make("5", ["1", "9"])
    e.start(0.0)
    before = (e.phase, e.term, e.next_deadline())
    with pytest.raises(ElectionError, match=match):
        e.receive(sender, env(sender, **body), 0.1)
    assert (e.phase, e.term, e.next_deadline()) == before


def test_identity_without_id_is_refused() -> None:
    with pytest.raises(ElectionError):
        Election(CFG, ident(""), random.Random(1), 0.0)


def test_claimant_that_learns_of_a_higher_member_runs_a_new_election() -> None:
    e = make("5", ["1"])
    e.start(0.0)
    assert e.phase is Phase.ANNOUNCING
    step = e.on_members([member("1"), member("8")], [], 0.3)
    assert names(step) == ["election_started"] and step.events[0].extra["reason"] == "higher_member"
    assert [to for to, _ in sent(step, "elect")] == ["8"]
    assert e.phase is Phase.ELECTING


def test_relayed_leader_that_my_detector_gave_up_on_is_followed_once_it_answers_a_probe() -> None:
    e = make("5", ["1", "7", "9"])
    e.receive("9", env("9", i_am_leader=pb.IAmLeader(leader=ident("9"), term=3)), 0.0)
    failed = MembershipEvent(EventName.MEMBER_FAILED, "9", 0, 1.0, Source.LOCAL, detector="swim")
    e.on_members([member("1"), member("7")], [failed], 1.0)  # my detector says "9" is dead (wrongly)
    e.receive("7", env("7", got_it=pb.GotIt(responder=ident("7"))), 1.1)
    assert e.phase is Phase.WAITING
    # "7" still follows "9" and says so; a relay alone does not bring "9" back, a probe of "9" does.
    step = e.receive("7", env("7", i_am_leader=pb.IAmLeader(leader=ident("9"), term=3)), 1.2)
    assert sent(step, "leader_probe") == [("9", pb.LeaderProbe(term=3))]
    assert e.phase is Phase.WAITING
    e.receive("9", env("9", got_it=pb.GotIt(responder=ident("9"))), 1.3)
    info = e.leader()
    assert e.phase is Phase.FOLLOWER and info is not None and (info.leader.id, info.term) == ("9", 3)
    # Absence from the view alone does not restart the election; another failure report of "9" would.
    assert e.on_members([member("1"), member("7")], [], 2.0).events == []


def test_learned_members_carry_existence_not_the_senders_suspicions() -> None:
    e = make("5", ["1"])
    suspect = pb.Member(id="8", addr="10.0.0.8:1", incarnation=2, state=pb.SUSPECT)
    step = e.receive("1", env("1", elect=pb.Elect(candidate=ident("1"), members=[suspect])), 0.0)
    [learned] = step.learned
    assert (learned.id, learned.incarnation, learned.state, learned.addr) == ("8", 2, pb.ALIVE, "10.0.0.8:1")


def test_a_members_own_priority_beats_a_stale_membership_record() -> None:
    e = make("5", ["1", "3"])  # the records say priority 0 for everyone
    e.receive("3", env("3", got_it=pb.GotIt(responder=ident("3", priority=2))), 0.0)
    e.on_members([member("1"), member("3")], [], 0.1)  # a stale record must not demote "3" again
    step = e.start(0.2)
    assert [to for to, _ in sent(step, "elect")] == ["3"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-3, 3), st.text(alphabet="ab01239-", min_size=1, max_size=6)), min_size=2, max_size=8
    )
)
def test_identity_order_is_total_and_tells_every_id_apart(idents: list[tuple[int, str]]) -> None:
    keys = [identity_key(p, i) for p, i in idents]
    for a, ka in zip(idents, keys, strict=True):
        for b, kb in zip(idents, keys, strict=True):
            assert (ka == kb) == (a == b)  # distinct identities never tie
            assert (ka < kb) + (ka > kb) + (ka == kb) == 1
            if a[0] != b[0]:
                assert (ka < kb) == (a[0] < b[0])  # priority first
