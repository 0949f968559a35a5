"""A tiny stand-in protocol core for testing the simulator's machinery.

Every `interval` seconds it pings every peer; a peer that has not been heard
from (ping or ack) for `fail_after` seconds is reported failed once, and alive
again when heard from. It records every tick time and every message it sent,
so tests can check what the simulator did with them.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from swimfd.core.config import PROTOCOL_VERSION, Config
from swimfd.core.events import EventName, MembershipEvent, Outbound, Output, Source
from swimfd.pb import swim_pb2 as pb


class EchoError(ValueError):
    pass


class EchoNode:
    interval = 1.0
    fail_after = 3.5

    def __init__(self, config: Config, me: pb.Member, rng: random.Random, now: float) -> None:
        self.config = config
        self.me = me
        self.rng = rng
        self.addrs: dict[str, str] = {}
        self.last_heard: dict[str, float] = {}
        self.failed: set[str] = set()
        self.left: set[str] = set()
        self.next_probe = now
        self.seq = 0
        self.ticks: list[float] = []
        self.received: list[tuple[float, str, str]] = []  # (time, sender, body kind)
        self.sent: list[pb.Envelope] = []

    def _env(self, **body: object) -> pb.Envelope:
        header = pb.Header(
            version=PROTOCOL_VERSION, cluster=self.config.cluster, sender=self.me.id, sender_addr=self.me.addr
        )
        return pb.Envelope(header=header, **body)

    def _out(self, to: str, env: pb.Envelope, out: Output) -> None:
        self.sent.append(env)
        out.messages.append(Outbound(to, self.addrs.get(to, ""), env))

    def _event(self, name: EventName, member: str, now: float, source: Source = Source.LOCAL) -> MembershipEvent:
        return MembershipEvent(name, member, 0, now, source, "swim" if name == EventName.MEMBER_FAILED else None)

    def bootstrap(self, members: Iterable[pb.Member], now: float) -> Output:
        for m in members:
            if m.id != self.me.id:
                self.addrs[m.id] = m.addr
                self.last_heard[m.id] = now
        return Output()

    def tick(self, now: float) -> Output:
        self.ticks.append(now)
        out = Output()
        for peer, heard in self.last_heard.items():
            if peer not in self.failed and peer not in self.left and now - heard > self.fail_after:
                self.failed.add(peer)
                out.events.append(self._event(EventName.MEMBER_FAILED, peer, now))
        if now >= self.next_probe:
            while self.next_probe <= now:
                self.next_probe += self.interval
            for peer in self.addrs:
                if peer not in self.left:
                    self.seq += 1
                    self._out(peer, self._env(ping=pb.Ping(seq=self.seq, target=peer)), out)
        return out

    def next_deadline(self) -> float:
        return self.next_probe

    def receive(self, envelope: pb.Envelope, now: float) -> Output:
        h = envelope.header
        if h.version != PROTOCOL_VERSION or h.cluster != self.config.cluster:
            raise EchoError("foreign envelope")
        sender = h.sender
        kind = envelope.WhichOneof("body") or ""
        self.received.append((now, sender, kind))
        out = Output()
        for u in envelope.updates:
            if u.member.state == pb.LEFT and u.member.id not in self.left:
                self.left.add(u.member.id)
                out.events.append(self._event(EventName.MEMBER_LEFT, u.member.id, now, Source.GOSSIP))
        if sender in self.left:
            return out
        if sender not in self.addrs:
            self.addrs[sender] = h.sender_addr
            out.events.append(self._event(EventName.MEMBER_JOINED, sender, now, Source.GOSSIP))
        self.last_heard[sender] = now
        if sender in self.failed:
            self.failed.discard(sender)
            out.events.append(self._event(EventName.MEMBER_ALIVE, sender, now))
        if kind == "ping":
            self._out(sender, self._env(ack=pb.Ack(seq=envelope.ping.seq, subject=self.me.id)), out)
        return out

    def handle_join(self, request: pb.JoinRequest, now: float) -> tuple[pb.JoinReply, Output]:
        joiner = request.member
        out = Output()
        if joiner.id not in self.addrs:
            self.addrs[joiner.id] = joiner.addr
            out.events.append(self._event(EventName.MEMBER_JOINED, joiner.id, now, Source.JOIN))
        self.last_heard[joiner.id] = now
        members = [self.me] + [pb.Member(id=p, addr=a, state=pb.ALIVE) for p, a in self.addrs.items()]
        return pb.JoinReply(members=members), out

    def leave(self, now: float) -> Output:
        out = Output()
        gone = pb.Member(id=self.me.id, addr=self.me.addr, state=pb.LEFT)
        for peer in self.addrs:
            self.seq += 1
            env = self._env(ping=pb.Ping(seq=self.seq, target=peer), updates=[pb.Update(member=gone)])
            self._out(peer, env, out)
        return out

    def view(self) -> list[pb.MembershipView]:
        views = [pb.MembershipView(member=pb.Member(id=self.me.id, state=pb.ALIVE))]
        for peer in self.addrs:
            state = pb.LEFT if peer in self.left else pb.DEAD if peer in self.failed else pb.ALIVE
            views.append(pb.MembershipView(member=pb.Member(id=peer, state=state)))
        return views


class SharedEnvelopeNode(EchoNode):
    """Sends one envelope object to every peer (as heartbeat gossip may), to
    check that bytes are counted per message even when ByteSize is cached."""

    def tick(self, now: float) -> Output:
        self.ticks.append(now)
        out = Output()
        if now >= self.next_probe:
            while self.next_probe <= now:
                self.next_probe += self.interval
            self.seq += 1
            env = self._env(ping=pb.Ping(seq=self.seq, target="*"))
            for peer in self.addrs:
                self._out(peer, env, out)
        return out


def echo_factory(cls: type[EchoNode] = EchoNode):
    def make(config: Config, me: pb.Member, rng: random.Random, now: float) -> EchoNode:
        return cls(config, me, rng, now)

    return make
