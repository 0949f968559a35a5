"""A tiny deterministic message router for core tests: virtual clock, fixed delay, optional crashes.

It is deliberately minimal (the real simulator is swimfd.sim.engine); it exists so the core's
tests do not depend on another owner's code.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from swimfd.core.config import Config
from swimfd.core.events import MembershipEvent
from swimfd.core.membership import SharedView
from swimfd.core.node import Node
from swimfd.core.reports import Report
from swimfd.pb import swim_pb2 as pb


def member(i: int | str) -> pb.Member:
    return pb.Member(id=str(i), addr=f"127.0.0.1:{50050 + int(i)}", diss_addr=f"127.0.0.1:{50060 + int(i)}")


@dataclass
class Router:
    config: Config
    seed: int = 1
    delay: float = 0.01
    now: float = 0.0
    nodes: dict[str, Node] = field(default_factory=dict)
    crashed: set[str] = field(default_factory=set)
    refusing: set[str] = field(default_factory=set)  # crashed on a live host: senders hear send_failed(refused)
    events: list[tuple[str, MembershipEvent]] = field(default_factory=list)
    reports: list[tuple[str, Report]] = field(default_factory=list)  # (reporter, report) for go-diss
    alerts: list[tuple[str, Report]] = field(default_factory=list)  # (reporter, alert) for go-diss
    drop: set[tuple[str, str]] = field(default_factory=set)  # (from, to) links that lose everything
    block: Callable[[str, str, pb.Envelope], bool] | None = None  # (from, to, envelope) -> lose it?
    messages: int = 0
    _queue: list[tuple[float, int, str, pb.Envelope]] = field(default_factory=list)
    _seq: itertools.count = field(default_factory=itertools.count)

    def add(self, i: int | str, bootstrap: list[pb.Member] | None = None) -> Node:
        node = Node(self.config, member(i), random.Random(self.seed * 1000 + int(i)), self.now)
        self.nodes[node.id] = node
        if bootstrap is not None:
            self._dispatch(node.id, node.bootstrap(bootstrap, self.now))
        return node

    def cluster(self, n: int, shared: bool = False) -> list[Node]:
        members = [member(i) for i in range(1, n + 1)]
        view = SharedView(members, self.now) if shared else None
        for i in range(1, n + 1):
            if view is None:
                self.add(i, members)
            else:
                node = self.add(i)
                self._dispatch(node.id, node.bootstrap_shared(view, self.now))
        return list(self.nodes.values())

    def _dispatch(self, sender: str, out) -> None:
        for ev in out.events:
            self.events.append((sender, ev))
        self.reports.extend((sender, r) for r in out.reports)
        self.alerts.extend((sender, a) for a in out.alerts)
        for msg in out.messages:
            self.messages += 1
            if (sender, msg.to) in self.drop or (self.block is not None and self.block(sender, msg.to, msg.envelope)):
                continue
            heapq.heappush(self._queue, (self.now + self.delay, next(self._seq), msg.to, msg.envelope))

    def run(self, until: float, max_steps: int = 2_000_000) -> None:
        for _ in range(max_steps):
            live = [n for nid, n in self.nodes.items() if nid not in self.crashed]
            t_node = min((n.next_deadline() for n in live), default=float("inf"))
            t_msg = self._queue[0][0] if self._queue else float("inf")
            t = min(t_node, t_msg)
            if t > until:
                self.now = until
                return
            self.now = max(self.now, t)
            if t_msg <= t_node:
                _, _, to, env = heapq.heappop(self._queue)
                node = self.nodes.get(to)
                if node is not None and to not in self.crashed:
                    self._dispatch(to, node.receive(env, self.now))
                elif to in self.refusing:
                    sender = env.header.sender
                    if sender in self.nodes and sender not in self.crashed:
                        self._dispatch(sender, self.nodes[sender].send_failed(to, True, self.now))
            else:
                for n in live:
                    if n.next_deadline() <= self.now:
                        self._dispatch(n.id, n.tick(self.now))
        raise AssertionError("router did not reach `until` within max_steps")

    def crash(self, node_id: str, refuse: bool = False) -> None:
        self.crashed.add(node_id)
        if refuse:
            self.refusing.add(node_id)

    def seen(self, observer: str, name: str, member_id: str) -> list[MembershipEvent]:
        return [e for o, e in self.events if o == observer and e.name == name and e.member == member_id]
