"""The protocol core: one member's SWIM + heartbeat state machine.

The simulator and the gRPC runtime both drive exactly this API:

* Pure: no sockets, no clock reads, no global randomness. Time is passed in as
  ``now`` (seconds, monotonic, any origin); randomness comes from the injected
  ``random.Random``.
* Every call returns an ``Output`` (messages to send, membership events, and
  reports for the dissemination service: ``swimfd.core.reports`` has the rule).
* The driver calls ``tick(now)`` no later than ``next_deadline()``; calling it
  earlier or more often is harmless.
* ``receive`` validates the envelope (``swimfd.core.wire``) and raises
  ``ProtocolError`` for malformed or foreign messages without changing state.

    node = Node(config, me, rng, now)
    out = node.bootstrap(static_members, now)   # MEMBERS list or a join reply
    out = node.tick(now)
    out = node.receive(envelope, now)           # replies come back as Outbound
    reply, out = node.handle_join(join_request, now)
    applied, out = node.apply_notice(notice, now)
    out = node.leave(now)
    out = node.send_failed(to, refused, now)    # the driver could not deliver a message to `to`
    node.view()                                 # list[pb.MembershipView]

Composition: ``membership`` (table + precedence), ``piggyback`` (broadcast
queue), ``prober`` (SWIM probing, Lifeguard nacks), ``suspicion`` (Lifeguard
timeouts, confirmation and expiry), ``health`` (local health multiplier),
``heartbeat`` (van Renesse gossip, H2), ``hybrid`` (the rule combining both
detectors), ``election`` (bully leader election), ``wire`` (checks on incoming
messages) and ``reports`` (what go-diss is told). This module dispatches
messages and ticks to them and merges what they decide into the table. Modes:
``swim`` runs the prober only, ``heartbeat`` the gossiper only (failure after
T_fail, tombstones forgotten after T_cleanup), ``hybrid`` both plus the rule.

Beyond SWIM (DSN 2002) and Lifeguard (arXiv 1707.00788), each for a failure
mode seen in simulation or in memberlist's issue tracker:

* LEFT outranks DEAD at the same incarnation (a leaver is never reported failed);
  a DEAD update whose ``from`` is its subject means LEFT.
* A member that hears its own id at its incarnation with another address (a
  previous life after a restart) raises its incarnation, so the new address wins.
* A stale accusation (older incarnation) makes the subject re-send its current
  Alive, for the sender evidently missed the refutation.
* A node that starts a suspicion from its own failed probe probes the suspect
  once more at once, so the suspicion reaches it even when gossip is congested.
* A node with only second-hand evidence (it neither raised nor confirmed the
  suspicion) probes the subject before confirming, and starts over if the
  subject answered it during the suspicion (``swimfd.core.suspicion``).
* A probe whose period the node itself overran (it was paused) blames the
  node's health, not the target.
* A ping refused at connect by a quorum of observers (us and ping-req proxies) is evidence that
  the process is gone from a live host: the suspicion gets a short grace instead of Lifeguard's
  timeout (``send_failed``; docs/detection.md).
* A suspicion this node raises is broadcast by go-diss (``Output.alerts``, SUSPECTED); a member
  that receives it probes the suspect at once, so independent results confirm or refute it within
  about one probe period (Rapid's multiple observers), and the suspect hears it and refutes.
  A refutation is broadcast too (REFUTED), so it outruns the accusers' timers (docs/detection.md).
* Dead members stay as tombstones and are pinged every ``dead_probe_interval``,
  so the sides of a healed partition find each other and refute.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from google.protobuf.message import Message

from swimfd.core import reports
from swimfd.core.antientropy import Tombstones
from swimfd.core.backpressure import AccusationBudget, StartupGrace, startup_grace
from swimfd.core.config import PROTOCOL_VERSION, Config, check_labels, labels_from
from swimfd.core.election import Election, ElectionStep
from swimfd.core.events import EventName, MembershipEvent, Outbound, Output, Refusal, Source
from swimfd.core.health import LocalHealth
from swimfd.core.hybrid import HybridRule
from swimfd.core.membership import (
    ALIVE,
    DEAD,
    KNOWN_STATES,
    LEFT,
    LIVE_STATES,
    RANK,
    STATE_NAMES,
    SUSPECT,
    Change,
    Membership,
    Record,
    SharedView,
)
from swimfd.core.piggyback import BroadcastQueue, retransmit_limit
from swimfd.core.plausibility import MAX_INCARNATION, Plausibility
from swimfd.core.prober import Prober, ProberStep
from swimfd.core.stats import CoreStats
from swimfd.core.suspicion import Suspicions, SuspicionStep
from swimfd.core.wire import (
    ELECTION_BODIES,
    MAX_ID_LEN,
    ProtocolError,
    validate_envelope,
    validate_join,
    validate_notice,
)
from swimfd.pb import swim_pb2 as pb

MAX_UNCHECKED_TOMBSTONES = 256  # tombstones awaiting our own probe; more are probed but not kept

if TYPE_CHECKING:
    from swimfd.core.heartbeat.gossiper import HeartbeatGossiper, HeartbeatStep

_TOLD_DEAD_MAX = 1024  # members remembered by _tell_if_dead


class Node:
    def __init__(self, config: Config, me: pb.Member, rng: random.Random, now: float) -> None:
        if not me.id or len(me.id) > MAX_ID_LEN:
            raise ValueError(f"member id must be 1-{MAX_ID_LEN} characters, got {me.id!r}")
        self._cfg = config
        self._rng = rng
        self._id = me.id
        self._members = Membership(config.max_members)
        own = pb.Member()
        own.CopyFrom(me)
        self._members.merge(own, ALIVE, now)
        self._self = self._members.get(me.id)
        assert self._self is not None
        self._queue = BroadcastQueue()
        self._health = LocalHealth(config.awareness_max_multiplier)
        self._startup = StartupGrace()  # starts at bootstrap (swimfd.core.backpressure)
        self._accusations = AccusationBudget(config.max_probe_requests)
        self._prober = Prober(
            config, rng, self._health, now, is_live=self._is_live, incarnation_of=self._incarnation_of
        )
        self._prober.enabled = config.mode in ("swim", "hybrid")
        self._left = False
        self._self_refutations = 0  # CoreStats: incarnation bumps that refuted an accusation of us
        self._self_update_queued_for = -math.inf
        self._told_dead: dict[str, float] = {}  # member we hold dead -> when we last told it so
        # DEAD and LEFT members: since when (forgotten after tombstone_ttl), digested for anti-entropy
        self._graves = Tombstones()
        # Tombstones heard in acks about members we still hold live, until our own probe of them decides.
        self._unchecked: dict[str, pb.Update] = {}
        self._next_sweep = math.inf  # earliest time a tombstone expires
        self._header = pb.Header(version=PROTOCOL_VERSION, cluster=config.cluster, sender=me.id, sender_addr=me.addr)
        self._plausible = Plausibility(config.max_incarnation_step, me.incarnation, now)

        self._hb: HeartbeatGossiper | None = None
        if config.mode in ("heartbeat", "hybrid"):
            # Imported here, not at the top: the gossiper needs numpy, which a swim-mode detector never loads.
            from swimfd.core.heartbeat.gossiper import HeartbeatGossiper

            self._hb = HeartbeatGossiper(config, me.id, rng, now, report_progress=False)
            # Our own entry carries our real incarnation: peers that learned it (e.g. from our Alive
            # update) ignore heartbeats gossiped under an older one.
            self._hb.track(me.id, me.incarnation, now)
        self._hybrid = HybridRule(config, self._hb) if self._hb is not None and config.mode == "hybrid" else None
        self._suspicions = Suspicions(config, me.id, self._health, self._members.get, self._hybrid)

        self._election: Election | None = None
        if config.election:
            ident = pb.ElectionIdentity(priority=me.priority or config.priority, id=me.id)
            self._election = Election(config, ident, rng, now)

    # ================================================================ public API
    @property
    def id(self) -> str:
        return self._id

    @property
    def me(self) -> pb.Member:
        m = self._self.to_member()
        if self._hb is not None:
            m.heartbeat = self._hb.counter(self._id) or 0
        return m

    @property
    def config(self) -> Config:
        return self._cfg

    @property
    def health(self) -> int:
        """Lifeguard local health score (0 is healthy)."""
        return self._health.score

    def stats(self, now: float) -> CoreStats:
        """Counts for the runtime's metrics (swimfd.core.stats); reading them changes nothing."""
        members = dict.fromkeys(STATE_NAMES.values(), 0)
        for r in self._members:
            members[STATE_NAMES[r.state]] += 1
        return CoreStats(
            members=members,
            probe_results=self._prober.results(),
            self_refutations=self._self_refutations,
            health=self._health.score,
            piggyback_queue=len(self._queue),
            heartbeat_staleness=self._hb.max_staleness(now) if self._hb is not None else 0.0,
            election_term=self._election.term if self._election is not None else 0,
        )

    @property
    def has_left(self) -> bool:
        return self._left

    def member(self, member_id: str) -> Record | None:
        """The record for one member (read-only use), or None."""
        return self._members.get(member_id)

    def addr_owner(self, addr: str) -> str | None:
        """The live member recorded at ``addr``, or None (the runtime checks a sender's claimed address)."""
        for r in self._members:
            if r.addr == addr and r.state in LIVE_STATES:
                return r.id
        return None

    def members_alive(self) -> list[pb.Member]:
        return [r.to_member() for r in self._members if r.state in LIVE_STATES]

    def member_states(self) -> dict[str, int]:
        """{member id: state} of every record, without building messages (the simulator's checks)."""
        return {r.id: r.state for r in self._members}

    def view(self) -> list[pb.MembershipView]:
        out = []
        for r in self._members:
            m = r.to_member()
            if self._hb is not None:
                m.heartbeat = self._hb.counter(r.id) or 0
            out.append(pb.MembershipView(member=m, last_change=r.last_change))
        return out

    def leader(self) -> pb.LeaderInfo | None:
        return self._election.leader() if self._election is not None else None

    def bootstrap(self, members: Iterable[pb.Member], now: float) -> Output:
        """Learn a static member list or a join reply; announce ourselves."""
        out = Output()
        members = list(members)
        if self._hb is not None:
            # Processes started from the same static list share it as their heartbeat base, so their
            # gossip carries counters by position and no ids (docs/heartbeat.md, "Wire form").
            from swimfd.core.heartbeat.storage import HeartbeatBase  # numpy: heartbeat modes only (see __init__)

            live = [m.id for m in members if m.id and (m.state if m.state in KNOWN_STATES else ALIVE) in LIVE_STATES]
            self._hb.attach_base(HeartbeatBase(live), now)
        for m in members:
            if not m.id:
                continue
            state = m.state if m.state in KNOWN_STATES else ALIVE
            self._apply(m, state, "", "", now, Source.JOIN, out, rebroadcast=False)
        return self._bootstrapped(now, out)

    def bootstrap_shared(self, view: SharedView, now: float) -> Output:
        """Bootstrap from a static member list shared by many nodes (the simulator's n^2 problem).

        Equivalent to ``bootstrap`` with the same members, except that no member_joined events are
        returned (a simulator does not log the static list) and the records stay shared with every
        other node bootstrapped from ``view`` until they change here (copy-on-write). Must be the
        first membership call on this node.
        """
        out = Output()
        mine = view.get(self._id)
        if mine is not None:
            self._about_me(mine.to_member(), mine.state, now, out)  # e.g. a previous life of ours in the list
        self._members.attach_base(view)
        self._prober.add_all(mid for mid in view.live_ids if mid != self._id)
        if self._hb is not None:
            # One shared heartbeat index per view (copy-on-write), as for the member records.
            from swimfd.core.heartbeat.storage import HeartbeatBase  # numpy: heartbeat modes only (see __init__)

            base = view.derived("heartbeat_base", lambda: HeartbeatBase(view.live_ids))
            if self._hb.attach_base(base, now):  # base members start at incarnation 0: track the others
                restarted = view.derived(
                    "heartbeat_restarted", lambda: [r for r in map(view.get, view.live_ids) if r and r.incarnation]
                )
            else:
                restarted = [r for r in map(view.get, view.live_ids) if r is not None]
            for rec in restarted:
                if rec.id != self._id:
                    self._hb.track(rec.id, rec.incarnation, now)
        for rec in view.values():
            if rec.state in (DEAD, LEFT) and rec.id != self._id:
                self._graves.set(rec.id, rec.incarnation, rec.state)
                if rec.state == DEAD:
                    self._prober.add_dead(rec.id)
        return self._bootstrapped(now, out)

    def _bootstrapped(self, now: float, out: Output) -> Output:
        """The common end of both bootstraps: announce ourselves and start the election."""
        self._startup = StartupGrace(now + startup_grace(self._cfg))
        if not self._left:
            self._queue.push(self._self_update())
        if self._election is not None:
            # The election must see the members before it starts, or it would claim with nobody above it.
            self._election_step(self._election.on_members(self.members_alive(), [], now), now, out)
            self._election_step(self._election.start(now), now, out)
        self._after(now, out)
        return out

    def start_election(self, now: float, reason: str = "recovered") -> Output:
        """Start a bully election (a feigned failure just ended, see swimfd.core.feign); no-op without election."""
        out = Output()
        if self._election is not None and not self._left:
            self._election_step(self._election.start(now, reason), now, out)
            self._after(now, out)
        return out

    def tick(self, now: float) -> Output:
        out = Output()
        if self._left:
            return out
        self._suspicion_step(self._suspicions.expire(now), now, out)
        if now >= self._next_sweep:
            self._expire_tombstones(now, out)
        if self._hb is not None:
            self._heartbeat_step(self._hb.tick(now), now, out)
        self._suspicion_step(self._suspicions.stale_scan(now), now, out)
        self._prober_step(self._prober.tick(now), now, out)
        if self._election is not None:
            self._election_step(self._election.tick(now), now, out)
        self._after(now, out)
        return out

    def observe_lag(self, lag: float, now: float) -> bool:
        """The driver's event loop woke ``lag`` seconds late (back-pressure, ``swimfd.core.health``).
        True when it counted against our local health, which stretches our own probe timeouts."""
        return self._health.observe_lag(lag, now, self._cfg.max_loop_lag, self._cfg.probe_interval)

    def next_deadline(self) -> float:
        if self._left:
            return math.inf
        t = min(self._prober.next_deadline(), self._next_sweep, self._suspicions.next_deadline())
        if self._hb is not None:
            t = min(t, self._hb.next_deadline())
        if self._election is not None:
            t = min(t, self._election.next_deadline())
        return t

    def receive(self, envelope: pb.Envelope, now: float) -> Output:
        body = validate_envelope(envelope, self._cfg, election=self._election is not None)
        sender = envelope.header.sender
        if body in ELECTION_BODIES and self._election is not None:
            self._check_election(sender, envelope)
        out = Output()
        if self._left:
            return out  # a left member answers nothing; its LEFT update is already out
        sender_addr = envelope.header.sender_addr
        # An admitted member may introduce members we do not know yet; any member may introduce itself
        # (with mutual TLS the runtime has checked that the sender is who its certificate names).
        vouched = self._is_live(sender)
        for upd in envelope.updates[: self._cfg.max_piggyback]:
            state = _asserted_state(upd)
            own_word = upd.member.id == sender
            self._apply(
                upd.member,
                state,
                getattr(upd, "from"),
                upd.detector,
                now,
                Source.GOSSIP,
                out,
                vouched=vouched or own_word,
            )
        if body == "ping":
            ping = envelope.ping
            # A ping meant for a previous owner of this address is dropped, not answered.
            if not ping.target or ping.target == self._id:
                ack = pb.Ack(seq=ping.seq, subject=self._id, tombstones=self._catch_up(ping.tombstones, now))
                self._send(sender, sender_addr, "ack", ack, out)
        elif body == "ack":
            self._prober_step(self._prober.on_ack(envelope.ack.seq, now), now, out)
            self._check_tombstones(envelope.ack.tombstones, now, out)
            if self._hybrid is not None:
                self._prober_step(self._prober.tick(now), now, out)  # the next queued early probe may start
        elif body == "nack":
            nack = envelope.nack
            self._prober_step(self._prober.on_nack(nack.seq, nack.refused), now, out)
        elif body == "ping_req":
            req = envelope.ping_req
            rec = self._members.get(req.target)
            if req.target == self._id:  # asked to probe ourselves: we are evidently alive
                self._send(sender, sender_addr, "ack", pb.Ack(seq=req.seq, subject=self._id), out)
            elif rec is None or rec.state not in LIVE_STATES or not rec.addr:
                # Only a current member is probed, and at the address our view holds: a ping-req must not
                # make this node dial an address of the requester's choosing.
                out.refusals.append(Refusal("ping_req_not_member", req.target, "ping-req target is not a live member"))
            else:
                self._prober_step(self._prober.on_ping_req(sender, sender_addr, req, rec.addr, now), now, out)
        elif body == "gossip":
            if self._hb is not None:
                self._heartbeat_step(self._hb.on_gossip(sender, envelope.gossip, now), now, out)
                self._prober_step(self._prober.tick(now), now, out)  # rule (a) may have asked for a probe
                self._tell_if_dead(sender, sender_addr, now, out)
        elif body in ELECTION_BODIES and self._election is not None:
            self._election_step(self._election.receive(sender, envelope, now), now, out, sender=sender)
        self._after(now, out)
        return out

    def send_failed(self, to: str, refused: bool, now: float) -> Output:
        """The driver could not deliver a message to member ``to``. ``refused``: the connection was
        refused at once (nothing listens at the address: a process gone from a live host); False for a
        timeout or any other failure, which is mere silence and changes nothing here."""
        out = Output()
        if self._left or not refused:
            return out
        self._prober_step(self._prober.on_send_failed(to, refused), now, out)
        self._after(now, out)
        return out

    def handle_join(self, request: pb.JoinRequest, now: float) -> tuple[pb.JoinReply, Output]:
        """``prepare_join`` then ``admit_join``: for drivers whose reply cannot fail to arrive."""
        self.prepare_join(request, now)
        out = self.admit_join(request, now)
        reply = pb.JoinReply(header=self._header_copy())
        reply.members.extend(r.to_member() for r in self._members)
        return reply, out

    def prepare_join(self, request: pb.JoinRequest, now: float) -> pb.JoinReply:
        """Check a join request and build its reply without changing any state.

        The runtime sends the reply first and calls ``admit_join`` only once it was sent, so a join
        whose answer never arrived has no effect (a joiner that got no answer retries elsewhere).
        """
        validate_join(request, self._cfg.cluster, self._id, self._cfg)
        joiner = request.member
        existing = self._members.get(joiner.id)
        if existing is None and len(self._members) >= self._cfg.max_members:
            raise ProtocolError(f"membership is full ({self._cfg.max_members} members)")
        reason = self._plausible.refusal(
            joiner.incarnation, ALIVE, existing.incarnation if existing is not None else None, now
        )
        if reason is not None:
            raise ProtocolError(f"join of {joiner.id!r}: {reason}")
        reply = pb.JoinReply(header=self._header_copy())
        reply.members.extend(r.to_member() for r in self._members)
        if existing is None or _supersedes_alive(joiner.incarnation, existing):
            reply.members.append(_alive(joiner))
        return reply

    def admit_join(self, request: pb.JoinRequest, now: float) -> Output:
        """Apply a join ``prepare_join`` accepted and whose reply was sent: the joiner is admitted."""
        validate_join(request, self._cfg.cluster, self._id, self._cfg)
        joiner = request.member
        out = Output()
        if not self._left:
            self._apply(joiner, ALIVE, joiner.id, "", now, Source.JOIN, out)
        out.reports.append(reports.admitted_join(joiner, self._id))
        self._after(now, out)
        return out

    def apply_notice(self, notice: pb.Notice, now: float) -> tuple[bool, Output]:
        validate_notice(notice, self._cfg.cluster, self._cfg)
        out = Output()
        if self._left:
            return False, out
        upd = notice.update
        state = reports.KIND_STATE[notice.kind]
        from_id = getattr(upd, "from") or notice.origin
        if state == DEAD and from_id == upd.member.id:
            state = LEFT  # same convention as gossip: a member's own death notice means it left
        if notice.kind == pb.SUSPECTED and upd.member.id != self._id and not self._observes_alert():
            return False, out  # not one of its observers: the suspicion reaches us by gossip as before
        # A notice introduces a member only when an admitted member reported it (or it is about itself).
        vouched = notice.origin == self._id or self._is_live(notice.origin) or notice.origin == upd.member.id
        applied = self._apply(upd.member, state, from_id, upd.detector, now, Source.NOTICE, out, vouched=vouched)
        if notice.kind == pb.SUSPECTED:
            self._probe_on_alert(upd.member.id, upd.member.incarnation, now, out)
        self._after(now, out)
        return applied, out

    def _observes_alert(self) -> bool:
        """Whether this member is one of the about ``alert_observers`` members (each with probability
        K / n, as Rapid watches each member with K observers) that act on a SUSPECTED alert. The others
        ignore it: a suspicion then costs O(K) probes, the load per member stays flat in n, and the
        suspicion timers of the whole group are not started in the same instant."""
        k = self._cfg.alert_observers
        others = self._members.live_count - 2  # neither the suspect nor the member that raised it
        return not (0 < k < others) or self._rng.random() < k / others

    def _probe_on_alert(self, mid: str, incarnation: int, now: float, out: Output) -> None:
        """An observer of an alert probes the suspect at once, once per suspicion. A failure confirms
        the suspicion first-hand (Lifeguard); an answer carries the suspicion to the subject (buddy
        system), which refutes."""
        s = self._suspicions.get(mid)
        rec = self._members.get(mid)
        if s is None or s.alert_probed or s.incarnation != incarnation or rec is None or rec.state != SUSPECT:
            return
        s.alert_probed = True
        self._prober.request_probe(mid)
        self._prober_step(self._prober.tick(now), now, out)  # start it now, not at the next period

    def leave(self, now: float) -> Output:
        out = Output()
        if self._left:
            return out
        self._left = True
        self._members.merge(pb.Member(id=self._id, incarnation=self._self.incarnation), LEFT, now)
        upd = self._self_update()
        out.events.append(self._event(EventName.MEMBER_LEFT, self._self, now, Source.LOCAL))
        out.reports.append(reports.own_leave(self._self.to_member()))
        n = self._members.live_count
        limit = retransmit_limit(self._cfg.retransmit_mult, n)
        # Tell a few members directly (each then gossips it); the rest learn by infection.
        for target in self._prober.random_members(limit, {self._id}):
            rec = self._members.get(target)
            if rec is None:
                continue
            env = pb.Envelope(header=self._header_copy(), ping=pb.Ping(seq=0, target=target))
            env.updates.append(upd)
            out.messages.append(Outbound(target, rec.addr, env))
        self._prober.enabled = False
        self._prober.dead_probing = False
        return out

    def set_labels(self, labels: Mapping[str, str], now: float) -> Output:
        """Replace our own labels (ConfigError beyond the limits of swimfd.core.config).

        Labels belong to a life of a member (swimfd.core.membership), so a change takes a new
        incarnation: our next Alive update carries it and supersedes the old labels everywhere,
        and the output reports the new life so the dissemination service tells every member at
        once (gossip alone may miss a member in heartbeat mode). Same labels: nothing happens.
        """
        out = Output()
        pairs = check_labels(labels_from(labels))
        me = self._self
        if self._left or dict(pairs) == dict(me.labels) or me.incarnation + 1 >= MAX_INCARNATION:
            return out
        me.incarnation += 1
        me.labels = dict(pairs)
        self._queue.push(self._self_update())
        if self._hb is not None:
            self._hb.track(self._id, me.incarnation, now)
        out.reports.append(reports.new_life(me.to_member()))
        return out

    def _is_live(self, member_id: str) -> bool:
        rec = self._members.get(member_id)
        return rec is not None and rec.state in LIVE_STATES

    # ================================================================ merging
    def _apply(
        self,
        member: pb.Member,
        state: int,
        from_id: str,
        detector: str,
        now: float,
        source: Source,
        out: Output,
        rebroadcast: bool = True,
        vouched: bool = True,
    ) -> bool:
        """Merge one assertion; emit events; requeue it for gossip when it changed our view.

        ``vouched``: the assertion comes from an admitted member (or a join, a seed's reply, the static
        list), so it may introduce a member this node does not know. Implausible claims are refused
        (``swimfd.core.plausibility``) and reported in ``out.refusals``.
        """
        mid = member.id
        if mid == self._id:
            self._about_me(member, state, now, out)
            return False
        rec = self._members.get(mid)
        if rec is None and not vouched:
            out.refusals.append(Refusal("not_admitted", mid, "claim about a member no admitted member vouched for"))
            return False
        held = rec.incarnation if rec is not None else None
        reason = self._plausible.refusal(member.incarnation, state, held, now, by_subject=from_id == mid)
        if reason is not None:
            out.refusals.append(Refusal("implausible_incarnation", mid, reason))
            return False
        if rec is not None:
            # Fast path: most gossip repeats what we know. Only a newer assertion changes the view.
            inc = member.incarnation
            if inc < rec.incarnation or (inc == rec.incarnation and RANK[state] <= RANK[rec.state]):
                # Lifeguard: another member independently suspects the same incarnation.
                same_suspicion = state == SUSPECT and rec.state == SUSPECT and inc == rec.incarnation and from_id
                if same_suspicion and self._suspicions.confirm(mid, inc, from_id) and rebroadcast:
                    self._queue.push(_update(rec, from_id))
                return False
        if state == DEAD and not detector:
            detector = "swim"
        change = self._members.merge(member, state, now, detector)
        if change is None:
            return False
        rec = self._members.get(member.id)
        assert rec is not None
        self._on_change(rec, change, from_id, detector, now, source, out)
        if rebroadcast:
            self._queue.push(_update(rec, from_id))
        return True

    def _about_me(self, member: pb.Member, state: int, now: float, out: Output) -> None:
        """Only the subject raises its incarnation: refute suspicion/death, or outbid a newer life of ours."""
        if self._left:
            return
        me = self._self
        if not self._plausible.refutable(member.incarnation, state, me.incarnation, now):
            # Beyond what any node accepts (swimfd.core.plausibility): nobody holds it, so there is
            # nothing to outbid; raising to it would make our own Alive implausible everywhere.
            out.refusals.append(
                Refusal(
                    "implausible_incarnation",
                    self._id,
                    f"claim about this node at incarnation {member.incarnation} is beyond what any member accepts",
                )
            )
            if state != ALIVE and self._self_update_queued_for < now:
                self._self_update_queued_for = now
                self._queue.push(self._self_update())
            return
        outbid = member.incarnation > me.incarnation or (
            # Someone holds our id at our incarnation with another address: a previous life of ours.
            member.incarnation == me.incarnation and bool(member.addr) and member.addr != me.addr
        )
        if (state == ALIVE and outbid) or (state != ALIVE and member.incarnation >= me.incarnation):
            me.incarnation = member.incarnation + 1
            if state != ALIVE:
                self._health.apply(1)  # Lifeguard: having to refute hints that we are the slow one
                self._self_refutations += 1
                if self._cfg.broadcast_refutations:
                    # go-diss tells every member at once, so the refutation outruns the accusers' timers.
                    # One per incarnation: each report is about a new one.
                    out.reports.append(reports.refutation(self._self.to_member()))
            self._queue.push(self._self_update())
            if self._hb is not None:
                self._hb.track(self._id, me.incarnation, now)
        elif state != ALIVE and self._self_update_queued_for < now:
            # A stale accusation: its sender missed our refutation. Send our current Alive again
            # (same incarnation, so no new suspicion cycle); at most once per instant.
            self._self_update_queued_for = now
            self._queue.push(self._self_update())

    def _on_change(
        self, rec: Record, change: Change, from_id: str, detector: str, now: float, source: Source, out: Output
    ) -> None:
        old, new = change.old_state, change.new_state
        mid = rec.id
        # --- component bookkeeping
        if new in LIVE_STATES:
            if old not in LIVE_STATES:
                self._prober.add(mid)
            # A new life or a refutation is proof of life: (re)start its heartbeat.
            if self._hb is not None and (old not in LIVE_STATES or change.incarnation > change.old_incarnation):
                self._hb.track(mid, rec.incarnation, now)
        elif new == DEAD:
            self._prober.add_dead(mid)
            if self._hb is not None:
                self._hb.mark_dead(mid, rec.incarnation, now)
        else:  # LEFT
            if old in LIVE_STATES:
                self._prober.remove(mid)
            self._prober.remove_dead(mid)
            if self._hb is not None:
                self._hb.forget(mid)
        if new in LIVE_STATES:
            self._graves.discard(mid)
        else:
            since = self._graves.set(mid, rec.incarnation, new, since=now)
            self._unchecked.pop(mid, None)
            self._next_sweep = min(self._next_sweep, (now if since is None else since) + self._cfg.tombstone_ttl)
        if new == SUSPECT:
            self._suspicions.start(mid, rec.incarnation, from_id, self._members.live_count, now)
        else:
            self._suspicions.cancel(mid)
        # --- events: one per change of the member's state as this node sees it
        ev = out.events
        if old is None:
            if new in LIVE_STATES:
                ev.append(self._event(EventName.MEMBER_JOINED, rec, now, source))
        elif new in LIVE_STATES and old not in LIVE_STATES:
            name = EventName.MEMBER_JOINED if old == LEFT else EventName.MEMBER_ALIVE
            ev.append(self._event(name, rec, now, source, extra={"previous": _state_name(old)}))
        elif new == ALIVE and old == SUSPECT:
            ev.append(self._event(EventName.MEMBER_ALIVE, rec, now, source))
        elif new == ALIVE and change.addr_changed:
            ev.append(self._event(EventName.MEMBER_ALIVE, rec, now, source, extra={"addr_changed": True}))
        elif new == ALIVE and old == ALIVE and change.labels_changed:
            ev.append(self._event(EventName.MEMBER_UPDATED, rec, now, source, extra={"labels": dict(rec.labels)}))
        if new == SUSPECT and old != SUSPECT:
            ev.append(self._event(EventName.MEMBER_SUSPECTED, rec, now, source, extra={"by": from_id}))
        elif new == DEAD and old in LIVE_STATES:
            ev.append(self._event(EventName.MEMBER_FAILED, rec, now, source, detector=detector or "swim"))
            if source == Source.LOCAL:  # our own detector decided: the one failure we report
                out.reports.append(reports.confirmed_failure(rec.to_member(), self._id, detector or "swim"))
        elif new == LEFT and old is not None and old != LEFT:
            ev.append(self._event(EventName.MEMBER_LEFT, rec, now, source))

    # ================================================================ suspicion
    def _suspect(self, mid: str, now: float, out: Output, refused: bool = False, since: float | None = None) -> None:
        """Our own probe failed (or, in hybrid, the heartbeat expired): suspect the member. ``since``:
        the evidence is older than now (a recheck confirmed it), and our timer counts from then."""
        rec = self._members.get(mid)
        if rec is None or rec.state not in LIVE_STATES:
            return
        was = rec.state
        self._apply(
            pb.Member(id=mid, addr=rec.addr, incarnation=rec.incarnation), SUSPECT, self._id, "", now, Source.LOCAL, out
        )
        if since is not None:
            self._suspicions.backdate(mid, rec.incarnation, since)
            for ev in reversed(out.events):
                if ev.member == mid and ev.name == EventName.MEMBER_SUSPECTED:
                    ev.extra["failed_for_s"] = round(now - since, 3)
                    break
        if was == ALIVE and self._cfg.broadcast_suspicions and self._prober.enabled:
            # Our own probe failed: go-diss has every member probe it too (once per member and incarnation:
            # only a member we held ALIVE at this incarnation is raised here).
            now_rec = self._members.get(mid)
            if now_rec is not None and now_rec.state == SUSPECT:
                out.alerts.append(reports.raised_suspicion(now_rec.to_member(), self._id))
        if was == ALIVE and not refused and self._accusations.take(now, self._health.scale(self._cfg.probe_interval)):
            # Tell the suspect at once (one more probe, the suspicion riding first): gossip alone may
            # take long to reach it when queues are busy, e.g. while a whole cluster starts up.
            # Bounded per period (swimfd.core.backpressure), so a burst of suspicions adds little load.
            self._prober.request_probe(mid)

    def _suspicion_step(self, step: SuspicionStep, now: float, out: Output) -> None:
        for mid in step.probe:
            self._prober.request_probe(mid)
        for c in step.confirmed:
            rec = self._members.get(c.member)
            assert rec is not None  # Suspicions confirms only a member the table holds SUSPECT
            dead = pb.Member(id=c.member, addr=rec.addr, incarnation=c.incarnation)
            self._apply(dead, DEAD, self._id, c.detector, now, Source.LOCAL, out)

    # ================================================================ components
    def _prober_step(self, step: ProberStep, now: float, out: Output) -> None:
        if self._unchecked:
            self._settle_tombstones(step, now, out)
        for mid in step.failed:  # first, so that pings built below already carry the new suspicion
            rec = self._members.get(mid)
            if rec is not None and self._startup.holds(rec.last_ack, now):
                continue  # never answered since we started: probed in turn, not suspected yet (backpressure)
            if self._outlived(mid, step):
                continue
            self._suspect(mid, now, out, since=step.failed_since.get(mid))
        for mid in step.refused:
            if self._outlived(mid, step):
                continue
            self._suspect(mid, now, out, refused=True)
            rec = self._members.get(mid)
            if rec is not None and rec.state == SUSPECT:
                self._suspicions.refused(mid, rec.incarnation, now)
        for s in step.sends:
            self._send(s.to, s.addr, s.kind, s.body, out, ping_req=s.kind == "ping_req")
        for mid in step.acked:
            rec = self._members.own(mid)
            if rec is not None:
                rec.last_ack = now

    def _settle_tombstones(self, step: ProberStep, now: float, out: Output) -> None:
        """Our probe decided a tombstone heard in an ack: an answer drops it; a failure or a refusal
        is first-hand evidence that agrees with it, so the verdict is taken (the other members
        hold it already; a suspicion of our own would find nobody left to confirm it)."""
        for mid in step.acked:
            self._unchecked.pop(mid, None)
        for mid in (*step.failed, *step.refused):
            upd = self._unchecked.pop(mid, None)
            if upd is not None and not self._outlived(mid, step):
                self._apply(
                    upd.member, _asserted_state(upd), getattr(upd, "from"), upd.detector, now, Source.GOSSIP, out
                )

    def _incarnation_of(self, mid: str) -> int:
        rec = self._members.get(mid)
        return rec.incarnation if rec is not None else 0

    def _outlived(self, mid: str, step: ProberStep) -> bool:
        """The probe that failed was sent to an earlier life of ``mid``: it restarted (a higher
        incarnation) while the probe was out, so the failure, a refusal at connect above all, says
        nothing about the new life (docs/faults.md, finding 4)."""
        rec = self._members.get(mid)
        sent_to = step.incarnations.get(mid)
        return rec is not None and sent_to is not None and rec.incarnation > sent_to

    def _heartbeat_step(self, step: HeartbeatStep, now: float, out: Output) -> None:
        for target, msg in step.gossip:
            self._send(target, "", "gossip", msg, out)
        for mid in step.failed:
            rec = self._members.get(mid)
            if rec is None or rec.state not in LIVE_STATES:
                continue
            if self._hybrid is not None:
                # Hybrid rule (d): T_fail alone only raises a SWIM suspicion, or only a probe.
                if self._hybrid.raises_suspicion(mid, rec.last_ack, now):
                    self._suspect(mid, now, out)
                else:
                    self._prober.request_probe(mid)
            else:
                dead = pb.Member(id=mid, addr=rec.addr, incarnation=rec.incarnation)
                self._apply(dead, DEAD, self._id, "heartbeat", now, Source.LOCAL, out)
        # step.removed: the gossiper forgot a tombstone (T_cleanup). The member table keeps the DEAD
        # record until tombstone_ttl, so dead-probing can still re-merge a healed partition.

    def _expire_tombstones(self, now: float, out: Output) -> None:
        """Forget DEAD and LEFT members tombstone_ttl after they became so (bounded memory under churn)."""
        ttl = self._cfg.tombstone_ttl
        for mid, since in self._graves.dated():
            if since + ttl <= now:
                rec = self._members.get(mid)
                if rec is not None and rec.state not in LIVE_STATES:
                    self._forget(rec, now, out)  # discards the tombstone too
                else:
                    self._graves.discard(mid)
        self._next_sweep = min((since for _, since in self._graves.dated()), default=math.inf) + ttl

    def _forget(self, rec: Record, now: float, out: Output) -> None:
        mid = rec.id
        self._members.remove(mid)
        self._graves.discard(mid)
        self._prober.remove_dead(mid)
        self._queue.drop(mid)
        self._told_dead.pop(mid, None)
        if self._hb is not None:
            self._hb.forget(mid)
        out.events.append(self._event(EventName.MEMBER_REMOVED, rec, now, Source.LOCAL))

    def _tell_if_dead(self, sender: str, sender_addr: str, now: float, out: Output) -> None:
        """Answer gossip from a member we hold dead, at most once per gossip round.

        Heartbeat gossip never lists tombstones and nobody gossips to them, so a member declared
        dead while it was paused would never learn it. Our DEAD update about it rides on the answer
        (buddy system): it refutes with a higher incarnation, which revives it everywhere.
        """
        rec = self._members.get(sender)
        if rec is None or rec.state != DEAD:
            return
        told = self._told_dead.get(sender)
        if told is not None and now - told < self._cfg.gossip_interval:
            return
        if len(self._told_dead) >= _TOLD_DEAD_MAX:
            self._told_dead.clear()  # bounded; the worst case is one extra answer each
        self._told_dead[sender] = now
        self._send(sender, sender_addr, "gossip", pb.HeartbeatGossip(), out)

    def _check_election(self, sender: str, envelope: pb.Envelope) -> None:
        """Refuse (before any state changes) an election message with a forged term or about a non-member."""
        assert self._election is not None
        reason = self._election.term_refusal(sender, envelope)
        if reason is not None:
            raise ProtocolError(reason)
        if envelope.WhichOneof("body") == "i_am_leader":
            claimant = envelope.i_am_leader.leader.id
            if claimant != self._id and self._members.get(claimant) is None:
                raise ProtocolError(f"i_am_leader names {claimant!r}, which is not a member")

    def _election_step(self, step: ElectionStep, now: float, out: Output, sender: str | None = None) -> None:
        """Wrap swimfd.core.election's messages (ElectionMessage: to, addr, field, body) in envelopes."""
        for msg in step.send:
            rec = self._members.get(msg.to)
            addr = "" if rec is not None and rec.addr else msg.addr  # our view's address first
            self._send(msg.to, addr, msg.field, msg.body, out)
        out.events.extend(step.events)
        for m in step.learned:
            if m.id:
                state = m.state if m.state in KNOWN_STATES else ALIVE
                vouched = sender is None or m.id == sender or self._is_live(sender)
                self._apply(m, state, "", "", now, Source.JOIN, out, rebroadcast=False, vouched=vouched)

    def _after(self, now: float, out: Output) -> None:
        """Keep size-dependent parameters current and tell the election about membership events."""
        if self._election is not None and any(
            e.name not in (EventName.ELECTION_STARTED, EventName.LEADER_ELECTED) for e in out.events
        ):
            self._election_step(self._election.on_members(self.members_alive(), out.events, now), now, out)

    # ================================================================ sending
    def _header_copy(self) -> pb.Header:
        h = pb.Header()
        h.CopyFrom(self._header)
        h.sender_addr = self._self.addr
        return h

    def _check_tombstones(self, tombstones: Iterable[pb.Update], now: float, out: Output) -> None:
        """Anti-entropy (swimfd.core.antientropy): a member the acking node holds DEAD or LEFT and we
        still hold live is probed out of turn, not believed: after a partition heals, the other
        side's tombstones are verdicts about members we have just heard from. If our probe fails
        too, the verdict is taken (_settle_tombstones); if it is answered, it is dropped. A
        tombstone about ourselves is refuted like any accusation."""
        for upd in tombstones:
            mid = upd.member.id
            if upd.member.state not in (DEAD, LEFT):
                continue
            if mid == self._id:
                self._about_me(upd.member, _asserted_state(upd), now, out)
                continue
            rec = self._members.get(mid)
            if rec is not None and rec.state in LIVE_STATES and upd.member.incarnation >= rec.incarnation:
                if mid in self._unchecked or len(self._unchecked) < MAX_UNCHECKED_TOMBSTONES:
                    self._unchecked[mid] = upd
                self._prober.request_probe(mid)

    def _catch_up(self, their_digest: int, now: float) -> list[pb.Update]:
        """Tombstones for a pinger whose digest differs from ours (swimfd.core.antientropy). Those
        already riding our broadcast queue are left to it, and those older than half the tombstone
        TTL are not sent again: members forget a tombstone at different times, and one that has
        just forgotten it would probe a long-dead member for nothing."""
        graves = self._graves
        if their_digest == graves.digest or not len(graves):
            return []
        young = now - self._cfg.tombstone_ttl / 2
        out = []
        for mid in graves.sample(self._rng, max(1, self._cfg.max_piggyback // 4)):
            rec = self._members.get(mid)
            since = graves.since(mid)
            if rec is not None and mid not in self._queue and since is not None and since > young:
                out.append(_update(rec, self._id))
        return out

    def _send(self, to: str, addr: str, field: str, body: Message, out: Output, ping_req: bool = False) -> None:
        rec = self._members.get(to)
        if not addr:
            if rec is None or not rec.addr:
                return  # no way to reach it
            addr = rec.addr
        env = pb.Envelope(header=self._header_copy())
        getattr(env, field).CopyFrom(body)
        if ping_req:
            target = self._members.get(env.ping_req.target)
            if target is not None:
                env.ping_req.target_addr = target.addr
        elif field == "ping":
            env.ping.tombstones = self._graves.digest
        budget = self._cfg.max_piggyback
        skip = ""
        if rec is not None and rec.state in (SUSPECT, DEAD) and budget > 0:
            # Buddy system (Lifeguard): our suspicion of the receiver rides first, so it can refute at once.
            env.updates.append(_update(rec, self._id))
            budget -= 1
            skip = to
        if budget > 0 and len(self._queue):
            limit = retransmit_limit(self._cfg.retransmit_mult, self._members.live_count)
            env.updates.extend(self._queue.take(budget, limit, skip))
        out.messages.append(Outbound(to, addr, env))

    def _self_update(self) -> pb.Update:
        return _update(self._self, self._id)

    def _event(
        self,
        name: EventName,
        rec: Record,
        now: float,
        source: Source,
        detector: str | None = None,
        extra: dict[str, object] | None = None,
    ) -> MembershipEvent:
        return MembershipEvent(
            name=name,
            member=rec.id,
            incarnation=rec.incarnation,
            at=now,
            source=source,
            detector=detector,
            addr=rec.addr,
            extra=extra or {},
        )


# ==================================================================== helpers
def _asserted_state(upd: pb.Update) -> int:
    """A DEAD assertion made by the subject itself means it left (memberlist's convention)."""
    if upd.member.state == DEAD and getattr(upd, "from") == upd.member.id:
        return LEFT
    return upd.member.state


def _update(rec: Record, from_id: str) -> pb.Update:
    """The gossip form of a record. Every assertion carries the life's addresses and metadata, so
    whichever assertion about a new incarnation arrives first teaches them (order independence)."""
    u = pb.Update(member=rec.to_member(), detector=rec.detector if rec.state == DEAD else "")
    u.member.heartbeat = 0  # the heartbeat counter travels in HeartbeatGossip, not in updates
    setattr(u, "from", from_id)  # `from` is a Python keyword
    return u


def _alive(member: pb.Member) -> pb.Member:
    m = pb.Member()
    m.CopyFrom(member)
    m.state = ALIVE
    return m


def _supersedes_alive(incarnation: int, rec: Record) -> bool:
    """An Alive at ``incarnation`` would replace ``rec`` (the join reply then lists the joiner's new life)."""
    return (incarnation, RANK[ALIVE]) > (rec.incarnation, RANK[rec.state])


def _state_name(state: int | None) -> str:
    return STATE_NAMES.get(state or 0, "unknown")
