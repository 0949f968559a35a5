"""A tiny deterministic router for Election state machines (no Node, no simulator).

Virtual clock, seeded delays and loss, and an idealised failure detector: a
crash is reported to every member that is up (``member_failed``) after
``detect_after`` seconds. Feigning members (``swimfd.core.feign``) drop everything
they receive and send nothing, but keep ticking, as the runtime does.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from swimfd.core.config import PROTOCOL_VERSION, Config
from swimfd.core.election import Election, ElectionStep, Phase
from swimfd.core.events import EventName, MembershipEvent, Source
from swimfd.core.feign import FeignSchedule
from swimfd.pb import swim_pb2 as pb


@dataclass
class Violation:
    at: float
    term: int
    leaders: list[str]


@dataclass
class BullyCluster:
    ids: Sequence[str]
    config: Config = field(default_factory=Config)
    seed: int = 1
    delay: tuple[float, float] = (0.001, 0.01)
    loss: float = 0.0
    priorities: dict[str, int] = field(default_factory=dict)
    detect_after: float = 2.0

    def __post_init__(self) -> None:
        self.now = 0.0
        self.rng = random.Random(self.seed)
        self.members = {
            mid: pb.Member(id=mid, addr=f"127.0.0.1:{50050 + i}", priority=self.priorities.get(mid, 0))
            for i, mid in enumerate(self.ids)
        }
        self.elections: dict[str, Election] = {}
        self.up: set[str] = set()
        self.views: dict[str, set[str]] = {}
        self.dead_to: dict[str, set[str]] = {}  # observer -> members its detector declared failed
        self.feign: dict[str, FeignSchedule] = {}
        self.feigning: set[str] = set()
        self.events: list[tuple[str, MembershipEvent]] = []
        self.sent: dict[str, int] = {}
        self.violations: list[Violation] = []
        self.max_terms: dict[str, int] = {}
        self.term_went_down: list[tuple[str, int, int]] = []
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._groups: list[set[str]] | None = None
        self._feign_until = 0.0

    # ----------------------------------------------------------- scenario --

    def start(self, mid: str, at: float | None = None) -> None:
        """Start (or restart, with fresh state) member ``mid``; everyone up sees it join."""

        def act() -> None:
            ident = pb.ElectionIdentity(priority=self.members[mid].priority, id=mid)
            e = Election(self.config, ident, random.Random(f"{self.seed}:{mid}:{self.now}"), self.now)
            self.elections[mid] = e
            self.max_terms.pop(mid, None)  # a restart forgets its terms; monotonicity is per process
            self.up.add(mid)
            self.views[mid] = set(self.up)
            self.dead_to[mid] = set()
            self._apply(mid, e.on_members(self._alive(mid), [], self.now))
            for other in sorted(self.up - {mid}):
                self.dead_to.get(other, set()).discard(mid)
                if mid not in self.views[other]:
                    self.views[other].add(mid)
                    ev = MembershipEvent(EventName.MEMBER_JOINED, mid, 0, self.now, Source.JOIN)
                    self._apply(other, self.elections[other].on_members(self._alive(other), [ev], self.now))
            self._apply(mid, e.start(self.now))

        self._at(self.now if at is None else at, act)

    def start_all(self, at: float = 0.0) -> None:
        """Start everyone at once, each knowing the full static member list (like MEMBERS)."""

        def act() -> None:
            for mid in self.ids:
                ident = pb.ElectionIdentity(priority=self.members[mid].priority, id=mid)
                self.elections[mid] = Election(self.config, ident, random.Random(f"{self.seed}:{mid}"), self.now)
                self.up.add(mid)
                self.views[mid] = set(self.ids)
            for mid in self.ids:
                self._apply(mid, self.elections[mid].on_members(self._alive(mid), [], self.now))
            for mid in self.ids:
                self._apply(mid, self.elections[mid].start(self.now))

        self._at(at, act)

    def crash(self, mid: str, at: float, detected: bool = True) -> None:
        def act() -> None:
            self.up.discard(mid)
            if detected:
                self._at(self.now + self.detect_after, lambda: self._report_failed(mid))

        self._at(at, act)

    def partition(self, groups: Sequence[set[str]], at: float, heal_at: float) -> None:
        """Cut links between groups; each side's detector reports the other side failed, and alive on heal."""

        def cut() -> None:
            self._groups = [set(g) for g in groups]
            for g in self._groups:
                for mid in sorted(set(self.ids) - g):
                    self._report_failed(mid, observers=g)

        def heal() -> None:
            self._groups = None
            for mid in sorted(self.up):
                for other in sorted(self.up - {mid}):
                    if other not in self.views[mid]:
                        self.views[mid].add(other)
                        self.dead_to.get(mid, set()).discard(other)
                        ev = MembershipEvent(EventName.MEMBER_ALIVE, other, 1, self.now, Source.GOSSIP)
                        self._apply(mid, self.elections[mid].on_members(self._alive(mid), [ev], self.now))

        self._at(at, cut)
        self._at(heal_at, heal)

    def feign_all(self, until: float) -> None:
        """Every member feigns failure on its own seeded schedule until ``until``."""
        for mid in self.ids:
            self.feign[mid] = FeignSchedule(self.config, random.Random(f"feign:{self.seed}:{mid}"), 0.0)
        self._feign_until = until

        def stop_feigning() -> None:
            for mid in sorted(self.feigning):
                self.feigning.discard(mid)
                if mid in self.up:
                    self._apply(mid, self.elections[mid].start(self.now, reason="recovered"))
            self.feign.clear()

        self._at(until, stop_feigning)

    def at(self, when: float, action: Callable[[], None]) -> None:
        self._at(when, action)

    # -------------------------------------------------------------- run --

    def run(self, until: float) -> None:
        for _ in range(2_000_000):  # bounded; a scenario never needs this many steps
            t_next = self._heap[0][0] if self._heap else math.inf
            mid_next, t_tick = None, math.inf
            for mid in sorted(self.up):
                d = self.elections[mid].next_deadline()
                if d < t_tick:
                    mid_next, t_tick = mid, d
            t_feign = min((self.feign[m].next_deadline() for m in self.feign), default=math.inf)
            if self._feign_until <= self.now:
                t_feign = math.inf
            t = min(t_next, t_tick, t_feign)
            if t > until:
                self.now = until
                return
            self.now = max(self.now, t)
            if t_feign == t:
                self._poll_feign()
            elif t_tick <= t_next and mid_next is not None:
                self._apply(mid_next, self.elections[mid_next].tick(self.now))
            else:
                _, _, act = heapq.heappop(self._heap)
                act()
            self._check()
        raise AssertionError("bully cluster did not reach the end time (runaway loop?)")

    # ---------------------------------------------------------- queries --

    def leaders(self, members: Sequence[str] | None = None) -> dict[str, tuple[str, int] | None]:
        out: dict[str, tuple[str, int] | None] = {}
        for mid in members if members is not None else sorted(self.up):
            info = self.elections[mid].leader()
            out[mid] = None if info is None else (info.leader.id, int(info.term))
        return out

    def self_leaders(self) -> list[str]:
        return [m for m in sorted(self.up) if self.elections[m].phase is Phase.LEADER and m not in self.feigning]

    def named(self, name: EventName, observer: str | None = None) -> list[tuple[str, MembershipEvent]]:
        return [(o, e) for o, e in self.events if e.name == name and (observer is None or o == observer)]

    # ---------------------------------------------------------- internals --

    def _at(self, when: float, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, action))

    def _alive(self, mid: str) -> list[pb.Member]:
        return [self.members[m] for m in sorted(self.views[mid]) if m != mid]

    def _report_failed(self, dead: str, observers: set[str] | None = None) -> None:
        for mid in sorted(self.up if observers is None else observers & self.up):
            if dead in self.views[mid] and dead != mid:
                self.views[mid].discard(dead)
                self.dead_to.setdefault(mid, set()).add(dead)
                ev = MembershipEvent(EventName.MEMBER_FAILED, dead, 0, self.now, Source.LOCAL, detector="swim")
                self._apply(mid, self.elections[mid].on_members(self._alive(mid), [ev], self.now))

    def _poll_feign(self) -> None:
        for mid in sorted(self.feign):
            if mid not in self.up:
                continue
            state = self.feign[mid].poll(self.now)
            if state.down:
                self.feigning.add(mid)
            else:
                self.feigning.discard(mid)
            if state.recovered and not state.down:
                self._apply(mid, self.elections[mid].start(self.now, reason="recovered"))

    def _apply(self, mid: str, step: ElectionStep) -> None:
        for ev in step.events:
            self.events.append((mid, ev))
        for m in step.learned:
            # Like the real merge rules: a learned member at the same incarnation cannot undo a failure.
            if m.id in self.up and m.id not in self.views[mid] and m.id not in self.dead_to.get(mid, set()):
                self.views[mid].add(m.id)
        if step.learned:
            self._apply(mid, self.elections[mid].on_members(self._alive(mid), [], self.now))
        if mid in self.feigning:
            return  # sends nothing while pretending to be dead
        for msg in step.send:
            self.sent[msg.field] = self.sent.get(msg.field, 0) + 1
            if self.loss and self.rng.random() < self.loss:
                continue
            header = pb.Header(
                version=PROTOCOL_VERSION, cluster=self.config.cluster, sender=mid, sender_addr=self.members[mid].addr
            )
            env = pb.Envelope(header=header, **{msg.field: msg.body})
            lo, hi = self.delay
            self._at(self.now + self.rng.uniform(lo, hi), self._deliver(mid, msg.to, env))

    def _deliver(self, src: str, dst: str, env: pb.Envelope) -> Callable[[], None]:
        def act() -> None:
            if dst not in self.up or dst in self.feigning:
                return
            if self._groups and not any(src in g and dst in g for g in self._groups):
                return
            self._apply(dst, self.elections[dst].receive(src, env, self.now))

        return act

    def _check(self) -> None:
        by_term: dict[int, list[str]] = {}
        for mid in self.self_leaders():
            info = self.elections[mid].leader()
            assert info is not None
            by_term.setdefault(int(info.term), []).append(mid)
        for term, who in by_term.items():
            if len(who) > 1:
                self.violations.append(Violation(self.now, term, who))
        for mid in self.up:
            t = self.elections[mid].term
            if t < self.max_terms.get(mid, 0):
                self.term_went_down.append((mid, self.max_terms[mid], t))
            self.max_terms[mid] = max(self.max_terms.get(mid, 0), t)
