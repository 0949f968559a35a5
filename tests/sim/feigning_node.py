"""A Node that feigns failure on a FeignSchedule, for the simulator (node_factory).

It behaves as the runtime does with --feign-failure: while down it drops every
incoming message and sends nothing (its timers still run, outputs are
discarded); when a down window ends it starts an election.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from swimfd.core.config import Config
from swimfd.core.events import Output
from swimfd.core.feign import FeignSchedule
from swimfd.core.node import Node
from swimfd.pb import swim_pb2 as pb


class FeigningNode:
    def __init__(self, config: Config, me: pb.Member, rng: random.Random, now: float, until: float) -> None:
        self.inner = Node(config, me, rng, now)
        self.schedule = FeignSchedule(config, random.Random(rng.getrandbits(64)), now)
        self.until = until  # stop feigning from then on (so the test can check that the cluster settles)
        self.down = False
        self.recoveries = 0

    def _poll(self, now: float) -> Output:
        out = Output()
        if now >= self.until:
            if self.down:
                self.down = False
                self.recoveries += 1
                out.extend(self.inner.start_election(now))
            return out
        state = self.schedule.poll(now)
        self.down = state.down
        if state.recovered and not state.down:
            self.recoveries += 1
            out.extend(self.inner.start_election(now))
        return out

    def _filter(self, out: Output) -> Output:
        return Output() if self.down else out

    def bootstrap(self, members: Iterable[pb.Member], now: float) -> Output:
        return self.inner.bootstrap(members, now)

    def tick(self, now: float) -> Output:
        out = self._poll(now)
        return self._filter(out.extend(self.inner.tick(now)))

    def next_deadline(self) -> float:
        d = self.inner.next_deadline()
        if self.schedule is not None and self.until > min(d, self.schedule.next_deadline()):
            d = min(d, self.schedule.next_deadline(), self.until)
        return d

    def receive(self, envelope: pb.Envelope, now: float) -> Output:
        out = self._poll(now)
        if self.down:
            return Output()
        return out.extend(self.inner.receive(envelope, now))

    def handle_join(self, request: pb.JoinRequest, now: float) -> tuple[pb.JoinReply, Output]:
        return self.inner.handle_join(request, now)

    def leave(self, now: float) -> Output:
        return self.inner.leave(now)

    def view(self) -> list[pb.MembershipView]:
        return self.inner.view()

    def leader(self) -> pb.LeaderInfo | None:
        return self.inner.leader()
