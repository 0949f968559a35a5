"""Bully leader election (Garcia-Molina, IEEE Trans. Computers 1982) on top of swimfd membership.

Pure state machine, like the protocol core: no clock reads (time comes in as
``now``), no sockets, no global randomness (``rng`` is injected). Every call
returns an ``ElectionStep``: messages for the Node to wrap in envelopes,
events, and members learned from ``Elect`` messages.

Identity and order. A member's election identity is ``(priority, id)``; the
highest wins. Ids are compared *numeric-aware*: runs of digits compare as
numbers, so "2" < "10" (plain string order would make "9" beat "10", which
surprises anyone who numbers nodes 1..N). See ``identity_key``.

Phases::

    IDLE ----start/leader lost/probe failed----> ELECTING   (Elect sent to every higher member)
    ELECTING --GotIt from a higher member------> WAITING    (wait leader_wait_timeout for IAmLeader)
    ELECTING --silence for election_timeout----> ANNOUNCING (IAmLeader(term) sent to everyone)
    WAITING  --no IAmLeader in time------------> ELECTING   (restart)
    ANNOUNCING --no objection for election_timeout--> LEADER (leader_elected)
    any      --IAmLeader from a higher member--> FOLLOWER   (leader_elected; probes the leader)
    FOLLOWER --LeaderProbe unanswered----------> ELECTING

Terms. A claimant takes ``term = highest term it has seen + 1``, so terms only
grow. Two claimants that never heard of each other can pick the same number;
the ANNOUNCING phase (an addition to Garcia-Molina) exists for that: any
member that already knows a claim for that term (or a newer one) objects by
answering with its own ``IAmLeader``, and the claimant then either steps down
(the other claimant is higher) or claims ``term + 1``. A member therefore only
*believes* it leads a term after an objection-free round. docs/election.md
states what this does and does not guarantee.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from swimfd.core.config import Config
from swimfd.core.events import EventName, MembershipEvent, Source
from swimfd.pb import swim_pb2 as pb

ElectionBody = pb.Elect | pb.GotIt | pb.IAmLeader | pb.LeaderProbe

# Envelope oneof field for each election body type.
_BODY_FIELD: dict[type, str] = {
    pb.Elect: "elect",
    pb.GotIt: "got_it",
    pb.IAmLeader: "i_am_leader",
    pb.LeaderProbe: "leader_probe",
}
BODY_FIELDS: frozenset[str] = frozenset(_BODY_FIELD.values())

_DIGITS = re.compile(r"(\d+)")
MAX_TERM = 2**62  # far beyond any real count of elections, far below the uint64 limit


class ElectionError(ValueError):
    """A malformed election message; the election state is unchanged."""


class Phase(Enum):
    IDLE = "idle"  # not started yet, or stopped after leaving
    ELECTING = "electing"  # Elect sent to higher members, waiting for any GotIt
    WAITING = "waiting"  # a higher member took over, waiting for its IAmLeader
    ANNOUNCING = "announcing"  # claimed a term, waiting for objections
    LEADER = "leader"
    FOLLOWER = "follower"
    STOPPED = "stopped"


def reclaim_interval(config: Config) -> float:
    """How often a leader repeats its claim to every member: twice the longest gap between a
    follower's probes. A claim or an objection lost under packet loss is never answered otherwise,
    and two members can each stay LEADER for good (docs/faults.md, finding 6); a repeated claim
    meets the other claimant or its followers, and the bully rules settle it."""
    return 2 * config.leader_probe_max


def identity_key(priority: int, member_id: str) -> tuple[int, tuple[tuple[int, int, str], ...]]:
    """Total order on identities: priority first, then the id in numeric-aware order.

    Each chunk keeps its raw text as the last element, so different ids never
    compare equal ("01" and "1" differ) and the order stays total.
    """
    chunks = tuple((0, int(c), c) if c.isdigit() else (1, 0, c) for c in _DIGITS.split(member_id) if c)
    return (priority, chunks)


def key_of(identity: pb.ElectionIdentity) -> tuple[int, tuple[tuple[int, int, str], ...]]:
    return identity_key(identity.priority, identity.id)


def body_field(body: ElectionBody) -> str:
    """The Envelope oneof field name that carries ``body``."""
    return _BODY_FIELD[type(body)]


@dataclass(frozen=True, slots=True)
class ElectionMessage:
    """One election message to send. Node wraps it: ``pb.Envelope(header=..., **{msg.field: msg.body})``."""

    to: str
    addr: str  # best address the election knows ("" if none); Node may prefer its own view
    body: ElectionBody

    @property
    def field(self) -> str:
        return body_field(self.body)


@dataclass(slots=True)
class ElectionStep:
    send: list[ElectionMessage] = field(default_factory=list)
    events: list[MembershipEvent] = field(default_factory=list)
    learned: list[pb.Member] = field(default_factory=list)  # from Elect.members; Node merges them like a join

    def extend(self, other: ElectionStep) -> ElectionStep:
        self.send.extend(other.send)
        self.events.extend(other.events)
        self.learned.extend(other.learned)
        return self


def _copy_identity(identity: pb.ElectionIdentity) -> pb.ElectionIdentity:
    return pb.ElectionIdentity(priority=identity.priority, id=identity.id)


class Election:
    def __init__(self, config: Config, me: pb.ElectionIdentity, rng: random.Random, now: float) -> None:
        if not me.id:
            raise ElectionError("election identity needs a member id")
        self._config = config
        self._me = _copy_identity(me)
        self._my_key = key_of(me)
        self._rng = rng
        self._phase = Phase.IDLE
        self._deadline = math.inf  # timer of the current phase
        # Alive members other than me, as the membership layer reports them.
        self._members: dict[str, pb.Member] = {}
        self._my_incarnation = 0  # only for event records
        # Election identities and addresses learned from members and messages.
        self._identities: dict[str, pb.ElectionIdentity] = {}
        self._self_described: set[str] = set()  # ids whose identity came from their own Elect/GotIt/IAmLeader
        self._addrs: dict[str, str] = {}
        self._term = 0  # highest term seen anywhere; never decreases
        self._record: pb.LeaderInfo | None = None  # who claimed self._term, when known
        self._claim = 0  # the term I claim while ANNOUNCING or LEADER
        self._leader: pb.LeaderInfo | None = None  # FOLLOWER/LEADER: the leader I believe in
        self._last_elected: tuple[str, int] | None = None  # last leader_elected emitted, to avoid repeats
        self._pending: set[str] = set()  # lower candidates waiting for the outcome of my election
        self._probe_at = math.inf  # FOLLOWER: when to probe the leader next
        self._probe_deadline = math.inf  # FOLLOWER: outstanding probe must be answered by then
        self._verify: pb.LeaderInfo | None = None  # ELECTING/WAITING: relayed leader I probed; its GotIt means follow
        self._reclaim_at = math.inf  # LEADER: when to repeat my claim to every member (see reclaim_interval)

    # ------------------------------------------------------------ queries --

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def term(self) -> int:
        """Highest term this member has seen (or claimed)."""
        return self._term

    @property
    def identity(self) -> pb.ElectionIdentity:
        return _copy_identity(self._me)

    def leader(self) -> pb.LeaderInfo | None:
        """The leader this member currently believes in (itself once its claim is unopposed); None while
        an election is running."""
        if self._leader is None:
            return None
        out = pb.LeaderInfo()
        out.CopyFrom(self._leader)
        return out

    def is_leader(self) -> bool:
        return self._phase is Phase.LEADER

    def next_deadline(self) -> float:
        reclaim = self._reclaim_at if self._phase is Phase.LEADER else math.inf
        return min(self._deadline, self._probe_at, self._probe_deadline, reclaim)

    @property
    def reclaim_interval(self) -> float:
        return reclaim_interval(self._config)

    # ------------------------------------------------------------- inputs --

    def start(self, now: float, reason: str = "join") -> ElectionStep:
        """Start an election: on join/bootstrap, and when a feigned failure ends (reason "recovered")."""
        step = ElectionStep()
        if self._phase is Phase.STOPPED:
            return step
        self._start_election(now, reason, step)
        return step

    def stop(self, now: float) -> ElectionStep:
        """This member leaves: stop taking part (no replies, no timers)."""
        self._phase = Phase.STOPPED
        self._leader = None
        self._deadline = self._probe_at = self._probe_deadline = math.inf
        self._pending.clear()
        return ElectionStep()

    def on_members(self, alive: Sequence[pb.Member], events: Sequence[MembershipEvent], now: float) -> ElectionStep:
        """Membership changed. ``alive``: members the detector considers alive (self is skipped).

        Starts an election when the leader failed or left; a leader (or claimant) announces itself to
        members it had not seen alive before, so a returning higher member learns it must take over.
        """
        step = ElectionStep()
        previous = self._members
        self._members = {}
        for m in alive:
            if m.id == self._me.id:
                self._my_incarnation = int(m.incarnation)
            else:
                self._members[m.id] = m
        for m in self._members.values():
            if m.id not in self._self_described:  # a member's own word beats a possibly stale record
                self._identities[m.id] = pb.ElectionIdentity(priority=m.priority, id=m.id)
            if m.addr:
                self._addrs[m.id] = m.addr
        if self._phase in (Phase.STOPPED, Phase.IDLE):
            return step
        new = sorted(set(self._members) - set(previous))
        if self._phase is Phase.ANNOUNCING and any(key_of(self._identity_of(m)) > self._my_key for m in new):
            # I claimed because nobody above me was known; now someone is, and the bully rule says it leads.
            self._start_election(now, "higher_member", step)
            return step
        if self._phase in (Phase.LEADER, Phase.ANNOUNCING):
            # A newcomer (or a member back from a failure) learns who leads; a higher one will then take over.
            for mid in new:
                self._send(step, mid, self._claim_message())
            return step
        if self._phase is Phase.ELECTING and not self._higher_members():
            self._announce(now, step)  # every higher member I was waiting on is gone: no need to wait
            return step
        lost = {e.member for e in events if e.name in (EventName.MEMBER_FAILED, EventName.MEMBER_LEFT)}
        if self._phase is Phase.FOLLOWER and self._leader is not None:
            leader_id = self._leader.leader.id
            # Only a failure or leave counts, not mere absence from the view: a leader this member follows
            # because its probes succeed (see _on_i_am_leader) may be one its own detector got wrong.
            if leader_id in lost:
                self._start_election(now, "leader_lost", step)
        return step

    def receive(self, sender: str, env: pb.Envelope, now: float) -> ElectionStep:
        """Handle an envelope whose body is elect, got_it, i_am_leader or leader_probe.

        Raises ElectionError (state unchanged) for a malformed body.
        """
        kind = validate(sender, env)
        step = ElectionStep()
        if self._phase is Phase.STOPPED or sender == self._me.id:
            return step
        if env.header.sender_addr:
            self._addrs[sender] = env.header.sender_addr
        if kind == "elect":
            self._on_elect(sender, env.elect, now, step)
        elif kind == "got_it":
            self._on_got_it(sender, env.got_it, now, step)
        elif kind == "i_am_leader":
            self._on_i_am_leader(sender, env.i_am_leader, now, step)
        else:
            self._on_leader_probe(sender, env.leader_probe, now, step)
        return step

    @staticmethod
    def validate(sender: str, env: pb.Envelope) -> str:
        """See the module-level ``validate``: Node checks an envelope with it before changing any state."""
        return validate(sender, env)

    def term_refusal(self, sender: str, env: pb.Envelope) -> str | None:
        """Why the term an election envelope names is implausible (None when it is plausible).

        Terms grow by one per election, so a term far beyond the highest this member knows is forged:
        adopted, it would leave no term to claim above it. A claimant speaking for itself may be up
        to ``2 * max_term_step`` ahead (it may have accepted a claim this member refused, and its
        answer must still be heard); a relay or a probe only ``max_term_step``. Node calls this before
        any state changes and refuses the whole message.
        """
        kind = env.WhichOneof("body")
        if kind == "i_am_leader":
            term, direct = int(env.i_am_leader.term), sender == env.i_am_leader.leader.id
        elif kind == "leader_probe":
            term, direct = int(env.leader_probe.term), False
        else:
            return None
        bound = self._term + self._config.max_term_step * (2 if direct else 1)
        if term > bound:
            return f"{kind} term {term} is beyond the bound {bound} (highest known term {self._term})"
        return None

    def tick(self, now: float) -> ElectionStep:
        step = ElectionStep()
        if self._phase is Phase.STOPPED:
            return step
        if now >= self._deadline:
            if self._phase is Phase.ELECTING:
                self._announce(now, step)  # no higher member answered: I win
            elif self._phase is Phase.WAITING:
                self._start_election(now, "no_leader_announced", step)
            elif self._phase is Phase.ANNOUNCING:
                self._become_leader(now, step)
            else:
                self._deadline = math.inf
        if self._phase is Phase.LEADER and now >= self._reclaim_at:
            self._reclaim_at = now + self.reclaim_interval
            for mid in sorted(self._members):
                self._send(step, mid, self._claim_message())
        if self._phase is Phase.FOLLOWER:
            if now >= self._probe_deadline:
                self._start_election(now, "leader_probe_failed", step)
            elif now >= self._probe_at and self._leader is not None:
                self._probe_at = math.inf
                self._probe_deadline = now + self._config.election_timeout
                self._send(step, self._leader.leader.id, pb.LeaderProbe(term=self._leader.term))
        return step

    # ------------------------------------------------------------ handlers --

    def _on_elect(self, sender: str, msg: pb.Elect, now: float, step: ElectionStep) -> None:
        self._describe(msg.candidate)
        for m in msg.members:
            if m.id and m.id != self._me.id and self._is_news(m):
                learned = pb.Member()
                learned.CopyFrom(m)
                # Only "this member exists": the sender's suspicions must not spread without the subject
                # hearing them (SWIM refutes through its own dissemination, not through elections).
                learned.state = pb.ALIVE
                step.learned.append(learned)
        if key_of(msg.candidate) > self._my_key:
            # Elect is only meant for higher members; the candidate outranks me, nothing to take over.
            return
        self._send(step, sender, pb.GotIt(responder=_copy_identity(self._me)))
        if self._phase in (Phase.LEADER, Phase.ANNOUNCING):
            self._send(step, sender, self._claim_message())
        elif self._phase is Phase.FOLLOWER and self._leader is not None:
            # My leader outranks me and so the candidate. Tell the candidate, and check the leader at once
            # instead of starting a full election: a dead leader fails the probe and I take over then.
            self._pending.add(sender)
            self._send(step, sender, self._follower_relay())
            if self._probe_deadline == math.inf:
                self._probe_at = now
                step.extend(self.tick(now))
        elif self._phase in (Phase.ELECTING, Phase.WAITING):
            self._pending.add(sender)
        else:
            self._pending.add(sender)
            self._start_election(now, "elect_received", step)

    def _on_got_it(self, sender: str, msg: pb.GotIt, now: float, step: ElectionStep) -> None:
        self._describe(msg.responder)
        verify = self._verify
        if verify is not None and sender == verify.leader.id and self._phase in (Phase.ELECTING, Phase.WAITING):
            self._follow(verify.leader, int(verify.term), now, step)  # the relayed leader answered for itself
        elif self._phase is Phase.ELECTING and key_of(msg.responder) > self._my_key:
            self._phase = Phase.WAITING
            self._deadline = now + self._config.leader_wait_timeout
        elif self._phase is Phase.FOLLOWER and self._leader is not None and sender == self._leader.leader.id:
            self._pending.clear()  # candidates that asked meanwhile got my relay, and the leader is alive
            self._probe_deadline = math.inf
            self._schedule_probe(now)

    def _on_i_am_leader(self, sender: str, msg: pb.IAmLeader, now: float, step: ElectionStep) -> None:
        claimant = msg.leader
        term = int(msg.term)
        direct = sender == claimant.id  # a claim by the leader itself, not a relay or an objection
        if direct:
            self._describe(claimant)
        if claimant.id == self._me.id:
            # Someone reports a claim of mine I may no longer hold (e.g. from before a restart).
            self._raise_term(term, None)
            if self._phase in (Phase.ANNOUNCING, Phase.LEADER) and term > self._claim:
                self._announce(now, step)
            return
        higher = key_of(claimant) > self._my_key
        if self._phase in (Phase.ANNOUNCING, Phase.LEADER):
            if term < self._claim:
                if direct:
                    self._send(step, sender, self._claim_message())  # object: my claim is newer
                return
            contested = term == self._claim
            if contested and direct:
                self._send(step, sender, self._claim_message())  # object: this term is already claimed
            self._raise_term(term, _leader_info(claimant, term))
            if higher and not contested:
                self._follow(claimant, term, now, step)
            elif higher:
                # Same term claimed by a higher member; my objection makes it claim term + 1.
                self._await_leader(now)
            else:
                self._announce(now, step)  # bully: the lower claimant yields to my newer term
            return
        record = self._record
        if term < self._term or (term == self._term and record is not None and record.leader.id != claimant.id):
            # Stale or conflicting claim: tell the claimant what I know (only to claimants, so
            # objections never bounce between members that merely relay).
            if direct and record is not None:
                self._send(step, sender, _i_am_leader(record))
            return
        if not direct and term == self._term and self._phase in (Phase.ELECTING, Phase.WAITING):
            # Relayed news of the leader I am replacing (my detector or my probe says it is gone). The relayer
            # may know better (a false suspicion on my side) or worse (it has not noticed yet): ask the leader.
            if higher and record is not None and record.leader.id == claimant.id:
                self._verify = _leader_info(claimant, term)
                self._send(step, claimant.id, pb.LeaderProbe(term=term))
            return
        self._raise_term(term, _leader_info(claimant, term))
        if higher:
            self._follow(claimant, term, now, step)
        elif self._phase not in (Phase.ELECTING, Phase.WAITING):
            # Bully: I outrank the claimant, so I take over; my claim will be above the term just learned.
            self._start_election(now, "lower_leader", step)

    def _on_leader_probe(self, sender: str, msg: pb.LeaderProbe, now: float, step: ElectionStep) -> None:
        term = int(msg.term)
        if self._phase in (Phase.LEADER, Phase.ANNOUNCING):
            if term > self._claim:
                # The prober knows a newer term than my claim: I missed something. Claim above it.
                self._raise_term(term, None)
                self._announce(now, step)
                return
            self._send(step, sender, pb.GotIt(responder=_copy_identity(self._me)))
            if term < self._claim:
                self._send(step, sender, self._claim_message())
        elif self._phase is Phase.FOLLOWER and self._leader is not None and self._leader.leader.id != sender:
            self._send(step, sender, self._follower_relay())
        # Otherwise stay silent: the prober's timeout starts its election, which is what should happen.

    # ---------------------------------------------------------- transitions --

    def _start_election(self, now: float, reason: str, step: ElectionStep) -> None:
        self._leader = None
        self._verify = None
        self._probe_at = self._probe_deadline = math.inf
        self._phase = Phase.ELECTING
        self._deadline = now + self._config.election_timeout
        step.events.append(
            MembershipEvent(
                name=EventName.ELECTION_STARTED,
                member=self._me.id,
                incarnation=self._incarnation(self._me.id),
                at=now,
                source=Source.LOCAL,
                extra={"reason": reason, "term": self._term},
            )
        )
        higher = self._higher_members()
        if not higher:
            self._announce(now, step)  # nobody outranks me: no need to wait for silence
            return
        elect = pb.Elect(candidate=_copy_identity(self._me), members=list(self._members.values()))
        for mid in higher:
            self._send(step, mid, elect)

    def _announce(self, now: float, step: ElectionStep) -> None:
        self._claim = self._term + 1
        self._verify = None
        self._raise_term(self._claim, _leader_info(self._me, self._claim))
        self._phase = Phase.ANNOUNCING
        self._leader = None
        self._probe_at = self._probe_deadline = math.inf
        self._deadline = now + self._config.election_timeout
        msg = self._claim_message()
        for mid in sorted(set(self._members) | self._pending):
            self._send(step, mid, msg)

    def _become_leader(self, now: float, step: ElectionStep) -> None:
        self._phase = Phase.LEADER
        self._deadline = math.inf
        self._reclaim_at = now + self.reclaim_interval
        self._leader = _leader_info(self._me, self._claim)
        self._pending.clear()
        self._emit_elected(now, step)

    def _follow(self, leader: pb.ElectionIdentity, term: int, now: float, step: ElectionStep) -> None:
        self._phase = Phase.FOLLOWER
        self._verify = None
        self._deadline = math.inf
        self._leader = _leader_info(leader, term)
        self._probe_deadline = math.inf
        self._schedule_probe(now)
        # Candidates that asked me and that the leader may not know (not in my view, so likely not in its
        # view either) would otherwise wait leader_wait_timeout; the rest hear the leader's own announcement.
        relay = _i_am_leader(self._leader)
        for mid in sorted(self._pending - set(self._members) - {leader.id}):
            self._send(step, mid, relay)
        self._pending.clear()
        self._emit_elected(now, step)

    def _await_leader(self, now: float) -> None:
        """Step down in favour of a higher claimant and wait for its (re)announcement."""
        self._phase = Phase.WAITING
        self._leader = None
        self._probe_at = self._probe_deadline = math.inf
        self._deadline = now + self._config.leader_wait_timeout

    # -------------------------------------------------------------- helpers --

    def _raise_term(self, term: int, record: pb.LeaderInfo | None) -> None:
        if term > self._term:
            self._term = term
            self._record = record
        elif term == self._term and record is not None and self._record is None:
            self._record = record

    def _schedule_probe(self, now: float) -> None:
        self._probe_at = now + self._rng.uniform(self._config.leader_probe_min, self._config.leader_probe_max)

    def _claim_message(self) -> pb.IAmLeader:
        return pb.IAmLeader(leader=_copy_identity(self._me), term=self._claim)

    def _follower_relay(self) -> pb.IAmLeader:
        assert self._leader is not None
        return _i_am_leader(self._leader)

    def _emit_elected(self, now: float, step: ElectionStep) -> None:
        assert self._leader is not None
        leader_id, term = self._leader.leader.id, int(self._leader.term)
        if self._last_elected == (leader_id, term):
            return
        self._last_elected = (leader_id, term)
        step.events.append(
            MembershipEvent(
                name=EventName.LEADER_ELECTED,
                member=leader_id,
                incarnation=self._incarnation(leader_id),
                at=now,
                source=Source.LOCAL if leader_id == self._me.id else Source.GOSSIP,
                addr=self._addrs.get(leader_id, ""),
                extra={"leader": leader_id, "term": term},
            )
        )

    def _send(self, step: ElectionStep, to: str, body: ElectionBody) -> None:
        if to == self._me.id:
            return
        step.send.append(ElectionMessage(to=to, addr=self._addrs.get(to, ""), body=body))

    def _describe(self, identity: pb.ElectionIdentity) -> None:
        self._identities[identity.id] = _copy_identity(identity)
        self._self_described.add(identity.id)

    def _higher_members(self) -> list[str]:
        return sorted(mid for mid in self._members if key_of(self._identity_of(mid)) > self._my_key)

    def _identity_of(self, member_id: str) -> pb.ElectionIdentity:
        return self._identities.get(member_id) or pb.ElectionIdentity(priority=0, id=member_id)

    def _incarnation(self, member_id: str) -> int:
        if member_id == self._me.id:
            return self._my_incarnation
        m = self._members.get(member_id)
        return int(m.incarnation) if m is not None else 0

    def _is_news(self, m: pb.Member) -> bool:
        known = self._members.get(m.id)
        return known is None or m.incarnation > known.incarnation


def validate(sender: str, env: pb.Envelope) -> str:
    """Check an election envelope's body (Node calls this before touching any state); returns the body field.

    Raises ElectionError for a non-election body, a missing sender, or identities that are empty or do not
    match the sender (Elect and GotIt speak for their sender; IAmLeader may be relayed).
    """
    kind = env.WhichOneof("body")
    if kind not in BODY_FIELDS:
        raise ElectionError(f"not an election message: body {kind!r}")
    if not sender:
        raise ElectionError("election message without a sender id")
    if kind == "elect":
        _check_identity(env.elect.candidate, sender, "elect.candidate")
        if any(not m.id for m in env.elect.members):
            raise ElectionError("elect.members: a member with an empty id")
    elif kind == "got_it":
        _check_identity(env.got_it.responder, sender, "got_it.responder")
    elif kind == "i_am_leader":
        if not env.i_am_leader.leader.id:
            raise ElectionError("i_am_leader.leader: empty id")
        _check_term(env.i_am_leader.term, "i_am_leader.term")
    elif kind == "leader_probe":
        _check_term(env.leader_probe.term, "leader_probe.term")
    return kind


def _check_term(term: int, what: str) -> None:
    # Terms grow by one per election; one near the top of uint64 is garbage (or hostile) and would leave
    # no room to claim above it, so it is refused rather than adopted.
    if term > MAX_TERM:
        raise ElectionError(f"{what}: {term} is beyond the largest acceptable term {MAX_TERM}")


def _check_identity(identity: pb.ElectionIdentity, sender: str, what: str) -> None:
    if not identity.id:
        raise ElectionError(f"{what}: empty id")
    if identity.id != sender:
        raise ElectionError(f"{what}: id {identity.id!r} is not the sender {sender!r}")


def _leader_info(identity: pb.ElectionIdentity, term: int) -> pb.LeaderInfo:
    return pb.LeaderInfo(leader=_copy_identity(identity), term=term)


def _i_am_leader(info: pb.LeaderInfo) -> pb.IAmLeader:
    return pb.IAmLeader(leader=_copy_identity(info.leader), term=info.term)


def identities(members: Iterable[pb.Member]) -> list[pb.ElectionIdentity]:
    """Election identities of ``members``, highest first (handy for tests and the CLI)."""
    ids = [pb.ElectionIdentity(priority=m.priority, id=m.id) for m in members]
    return sorted(ids, key=key_of, reverse=True)
