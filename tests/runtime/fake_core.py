"""A minimal stand-in protocol core for testing the runtime's I/O without the real Node.

It pings every known peer each `interval` seconds, answers pings with acks,
and records every call, so tests can see what the runtime fed it and when.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from swimfd.core.config import PROTOCOL_VERSION, Config
from swimfd.core.events import EventName, MembershipEvent, Outbound, Output, Source
from swimfd.core.reports import own_leave
from swimfd.core.wire import ProtocolError
from swimfd.pb import swim_pb2 as pb


class FakeCore:
    interval = 0.05

    def __init__(self, config: Config, me: pb.Member, rng: random.Random, now: float) -> None:
        self.config = config
        self.me = me
        self.peers: dict[str, str] = {}
        self.next_at = now
        self.seq = 0
        self.ticks: list[float] = []
        self.received: list[pb.Envelope] = []
        self.acks_from: set[str] = set()
        self.notices: list[pb.Notice] = []
        self.joins: list[pb.JoinRequest] = []
        self.admitted: list[pb.JoinRequest] = []  # joins whose reply was delivered (admit_join)
        self.left = False
        self.last_change = now
        self.send_failures: list[tuple[str, bool]] = []  # (to, refused) as the runtime reported them
        self.health = 0  # Lifeguard score; the fake never counts lag against it
        self.lags: list[float] = []

    def observe_lag(self, lag: float, now: float) -> bool:
        self.lags.append(lag)
        return False

    def _env(self, **body: object) -> pb.Envelope:
        header = pb.Header(
            version=PROTOCOL_VERSION, cluster=self.config.cluster, sender=self.me.id, sender_addr=self.me.addr
        )
        return pb.Envelope(header=header, **body)

    def bootstrap(self, members: Iterable[pb.Member], now: float) -> Output:
        out = Output()
        for m in members:
            if m.id != self.me.id and m.id not in self.peers:
                self.peers[m.id] = m.addr
                out.events.append(MembershipEvent(EventName.MEMBER_JOINED, m.id, m.incarnation, now, Source.JOIN))
        return out

    def tick(self, now: float) -> Output:
        out = Output()
        if now < self.next_at:
            return out
        self.ticks.append(now)
        self.next_at = now + self.interval
        for pid, addr in sorted(self.peers.items()):
            self.seq += 1
            out.messages.append(Outbound(pid, addr, self._env(ping=pb.Ping(seq=self.seq, target=pid))))
        return out

    def next_deadline(self) -> float:
        return self.next_at

    def receive(self, env: pb.Envelope, now: float) -> Output:
        if env.WhichOneof("body") is None:
            raise ProtocolError("envelope has no body")
        self.received.append(env)
        out = Output()
        sender = env.header.sender
        if env.HasField("ping"):
            ack = self._env(ack=pb.Ack(seq=env.ping.seq, subject=self.me.id))
            out.messages.append(Outbound(sender, env.header.sender_addr, ack))
        elif env.HasField("ack"):
            self.acks_from.add(env.ack.subject)
        return out

    def send_failed(self, to: str, refused: bool, now: float) -> Output:
        self.send_failures.append((to, refused))
        return Output()

    def handle_join(self, req: pb.JoinRequest, now: float) -> tuple[pb.JoinReply, Output]:
        self.joins.append(req)
        out = self.bootstrap([req.member], now)
        members = [self.me, *(pb.Member(id=i, addr=a, state=pb.ALIVE) for i, a in self.peers.items())]
        return pb.JoinReply(members=members), out

    def prepare_join(self, req: pb.JoinRequest, now: float) -> pb.JoinReply:
        self.joins.append(req)  # requests seen; admitted ones (reply delivered) land in `admitted`
        members = [self.me, req.member, *(pb.Member(id=i, addr=a, state=pb.ALIVE) for i, a in self.peers.items())]
        return pb.JoinReply(members=members)

    def admit_join(self, req: pb.JoinRequest, now: float) -> Output:
        self.admitted.append(req)
        return self.bootstrap([req.member], now)

    def apply_notice(self, notice: pb.Notice, now: float) -> tuple[bool, Output]:
        self.notices.append(notice)
        return True, Output()

    def leave(self, now: float) -> Output:
        self.left = True
        self.me.state = pb.LEFT
        return Output(reports=[own_leave(self.me)])  # as the real core reports its own leave

    def view(self) -> list[pb.MembershipView]:
        views = [pb.MembershipView(member=self.me, last_change=self.last_change)]
        views += [
            pb.MembershipView(member=pb.Member(id=i, addr=a, state=pb.ALIVE), last_change=self.last_change)
            for i, a in self.peers.items()
        ]
        return views

    def leader(self) -> pb.LeaderInfo | None:
        return None

    def addr_owner(self, addr: str) -> str | None:
        if addr == self.me.addr:
            return self.me.id
        return next((i for i, a in self.peers.items() if a == addr), None)
