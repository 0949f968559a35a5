"""SWIM's failure-detection component, with Lifeguard's refinements.

One probe per protocol period (SWIM, DSN 2002): ping the target; if no ack
arrives within the probe timeout, ask ``indirect_checks`` random members to
ping it for us (ping-req); if the period ends with no ack, the target fails the
probe and the node suspects it. Targets are taken round-robin from a shuffled
list, reshuffled after each pass, with newcomers inserted at random positions,
which bounds the gap between two probes of a member by 2n - 1 periods.

Lifeguard (arXiv 1707.00788): the period and timeout scale with the local
health multiplier; a ping-req proxy that hears nothing sends a Nack at
``nack_fraction`` of the probe timeout, and a failed probe only penalises our
health for nacks that did not come back.

Refusal evidence (docs/detection.md): when the driver reports that a ping was refused at
connect (``on_send_failed``), the requester asks its proxies at once instead of waiting for the
probe timeout, and a proxy whose ping was refused nacks at once with ``refused`` set. When
``refusal_quorum`` observers (us and the proxies) saw a refusal, the probe ends early and the
target is reported in ``ProberStep.refused``: the node suspects it with a short grace.

Two additions: hybrid mode may ask for an *urgent* probe of one member out of
turn (at most one in flight), and known-dead members are pinged every
``dead_probe_interval`` so that the two sides of a healed partition find each
other again (their refutations then revive them).

The prober only decides *what to send* and *who failed*; the node builds the
envelopes (header, piggybacked updates) and owns the member table.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from google.protobuf.message import Message

from swimfd.core.config import Config
from swimfd.core.health import LocalHealth
from swimfd.pb import swim_pb2 as pb

PROBE_RESULTS = ("ack", "indirect_ack", "nack", "timeout")  # nack counts Lifeguard nacks received
NUMPY_SHUFFLE_MIN = 2048  # members; below this the bootstrap shuffle is random.shuffle (no numpy)
MAX_PROXY_PROBES = 1024  # ping-reqs served at once; more are refused so a flood cannot grow memory


@dataclass(slots=True)
class Send:
    to: str  # member id
    addr: str  # "" means: the node resolves the member's address
    kind: str  # envelope body field: ping, ack, ping_req, nack
    body: Message


@dataclass(slots=True)
class ProberStep:
    sends: list[Send] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # targets that failed a probe: suspect them
    acked: list[str] = field(default_factory=list)  # targets that answered
    refused: list[str] = field(default_factory=list)  # refused by a quorum of observers: suspect, short grace
    # The incarnation each failed or refused target held when its probe was sent: the evidence is
    # about that life only (a member restarted meanwhile must not pay for its previous one).
    incarnations: dict[str, int] = field(default_factory=dict)
    # A failed target whose recheck failed too: when its first probe failed. The suspicion counts from
    # then, so the recheck delays what the cluster hears, not when this node's own timer runs out.
    failed_since: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class _Probe:
    seq: int
    target: str
    timeout_at: float
    end_at: float
    urgent: bool
    acked: bool = False
    indirect_sent: bool = False
    expected_nacks: int = 0
    nacks: int = 0
    refused: bool = False  # our own ping was refused at connect
    refusals: int = 0  # nacks that said the proxy's ping was refused
    incarnation: int = 0  # the target's incarnation when the probe was sent
    recheck_of: float | None = None  # a recheck: when the round-robin probe it repeats failed


@dataclass(slots=True)
class _ProxyProbe:
    requester: str
    requester_addr: str
    requester_seq: int
    target: str
    nack_at: float
    expires_at: float
    nacked: bool = False


class Prober:
    def __init__(
        self,
        config: Config,
        rng: random.Random,
        health: LocalHealth,
        now: float,
        is_live: Callable[[str], bool] | None = None,
        incarnation_of: Callable[[str], int] | None = None,
    ) -> None:
        """``is_live`` answers "is this member alive or suspect?" from the owner's table. Given it, the
        caller adds a member only when it becomes live and removes it when it stops (no duplicate
        set is kept: at 10,000 members that set alone would cost ~0.5 MB per node).
        ``incarnation_of`` gives the owner's incarnation of a member; each probe records it, and a
        failure or refusal is reported with it (``ProberStep.incarnations``)."""
        self._incarnation_of = incarnation_of
        self._cfg = config
        self._rng = rng
        self._health = health
        self._seq = rng.getrandbits(32)  # a restarted node does not reuse its previous life's seqs
        self._order: list[str] = []
        self._in_order: set[str] | None = None if is_live is not None else set()
        self._is_live = is_live
        self._pos = 0
        self._probes: dict[int, _Probe] = {}
        self._rr_seq: int | None = None  # the round-robin probe in flight
        self._urgent_seq: int | None = None
        self._urgent: deque[str] = deque()
        self._urgent_set: set[str] = set()
        self._rechecks: dict[str, float] = {}  # target -> when its round-robin probe failed; next probe rechecks
        self._proxies: dict[int, _ProxyProbe] = {}
        self._next_period = now
        self._dead: list[str] = []
        self._dead_index: dict[str, int] = {}
        self._next_dead_probe = now + config.dead_probe_interval
        self.enabled = True
        # Known-dead members are re-probed even when round-robin probing is off (heartbeat mode):
        # it is how the two sides of a healed partition, or a member declared dead while paused,
        # learn of each other again.
        self.dead_probing = True
        # Probe outcomes since start, by result (read by the runtime's metrics; see results()).
        self._results: dict[str, int] = dict.fromkeys(PROBE_RESULTS, 0)

    # ------------------------------------------------------------ membership
    def __contains__(self, member_id: str) -> bool:
        return self._live(member_id)

    def _live(self, member_id: str) -> bool:
        if self._is_live is not None:
            return self._is_live(member_id)
        assert self._in_order is not None
        return member_id in self._in_order

    @property
    def order(self) -> list[str]:
        """The current probe order (read-only view for tests and the node)."""
        return self._order

    def add(self, member_id: str) -> None:
        """A live member: insert at a random position of the round-robin list."""
        self.remove_dead(member_id)
        if self._in_order is not None:
            if member_id in self._in_order:
                return
            self._in_order.add(member_id)
        i = self._rng.randint(0, len(self._order))
        self._order.insert(i, member_id)
        if i < self._pos:
            self._pos += 1

    def add_all(self, member_ids: Iterable[str]) -> None:
        """Bulk add (bootstrap): the new order is one shuffled list, as after a pass."""
        if self._in_order is None:
            ids = list(member_ids)
        else:
            ids = [m for m in member_ids if m not in self._in_order]
            self._in_order.update(ids)
        order = self._order + ids
        if len(order) < NUMPY_SHUFFLE_MIN:
            self._rng.shuffle(order)
            self._order = order
        else:
            # Very large groups (simulations): shuffled in C, seeded from our rng so runs repeat.
            # random.shuffle of 10,000 ids took 7 ms, about a minute of the start of a 10,000-member
            # simulation (this takes 2 ms). Imported here so that swim-mode detectors never load numpy.
            import numpy as np

            perm = np.random.default_rng(self._rng.getrandbits(64)).permutation(len(order))
            self._order = np.array(order, dtype=object)[perm].tolist()
        self._pos = 0

    def remove(self, member_id: str) -> None:
        if self._in_order is not None:
            if member_id not in self._in_order:
                return
            self._in_order.discard(member_id)
        try:
            i = self._order.index(member_id)  # O(n) but only on a state change, never per tick
        except ValueError:
            return
        del self._order[i]
        if i < self._pos:
            self._pos -= 1

    def add_dead(self, member_id: str) -> None:
        self.remove(member_id)
        if member_id not in self._dead_index:
            self._dead_index[member_id] = len(self._dead)
            self._dead.append(member_id)

    def remove_dead(self, member_id: str) -> None:
        i = self._dead_index.pop(member_id, None)
        if i is None:
            return
        last = self._dead.pop()
        if last != member_id:
            self._dead[i] = last
            self._dead_index[last] = i

    def request_probe(self, member_id: str) -> None:
        """Probe ``member_id`` as soon as possible, out of round-robin turn."""
        if self._live(member_id) and member_id not in self._urgent_set:
            self._urgent.append(member_id)
            self._urgent_set.add(member_id)

    def random_members(self, k: int, exclude: set[str]) -> list[str]:
        """Up to ``k`` distinct random live members not in ``exclude`` (bounded attempts, no O(n) copy)."""
        n = len(self._order)
        if k <= 0 or n == 0:
            return []
        if n <= 4 * k + len(exclude):
            pool = [m for m in self._order if m not in exclude]
            return self._rng.sample(pool, min(k, len(pool)))
        chosen: list[str] = []
        seen = set(exclude)
        for _ in range(8 * k):
            m = self._order[self._rng.randrange(n)]
            if m not in seen:
                seen.add(m)
                chosen.append(m)
                if len(chosen) == k:
                    break
        return chosen

    # ------------------------------------------------------------ timers
    def next_deadline(self) -> float:
        if not self.enabled:
            return self._next_dead_probe if self.dead_probing and self._dead else float("inf")
        t = self._next_period
        for p in self._probes.values():
            if not p.acked and not p.indirect_sent:
                t = min(t, p.timeout_at)
            t = min(t, p.end_at)
        for px in self._proxies.values():
            t = min(t, px.expires_at if px.nacked else px.nack_at)
        if self._dead:
            t = min(t, self._next_dead_probe)
        return t

    def _new_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFFFFFFFFFF
        return self._seq

    def _next_target(self) -> str | None:
        if not self._order:
            return None
        if self._pos >= len(self._order):
            self._rng.shuffle(self._order)
            self._pos = 0
        target = self._order[self._pos]
        self._pos += 1
        return target

    def _start_probe(self, target: str, now: float, urgent: bool, step: ProberStep) -> None:
        seq = self._new_seq()
        probe = _Probe(
            seq=seq,
            target=target,
            timeout_at=now + self._health.scale(self._cfg.probe_timeout),
            end_at=now + self._health.scale(self._cfg.probe_interval),
            urgent=urgent,
            incarnation=self._incarnation_of(target) if self._incarnation_of is not None else 0,
            recheck_of=self._rechecks.pop(target, None),
        )
        self._probes[seq] = probe
        if urgent:
            self._urgent_seq = seq
        else:
            self._rr_seq = seq
        step.sends.append(Send(target, "", "ping", pb.Ping(seq=seq, target=target)))

    def _finish_probe(self, probe: _Probe, now: float, step: ProberStep) -> None:
        del self._probes[probe.seq]
        if probe.urgent:
            self._urgent_seq = None
        elif self._rr_seq == probe.seq:
            self._rr_seq = None
        if probe.acked:
            return
        self._results["timeout"] += 1
        if now - probe.end_at > self._health.scale(self._cfg.probe_timeout):
            # We overran the period by more than a probe timeout: this node was paused or starved,
            # so the silence says nothing about the target. Blame ourselves (Lifeguard's spirit).
            self._health.apply(1)
            return
        self._health.apply(LocalHealth.failed_probe_delta(probe.expected_nacks, probe.nacks))
        if not self._live(probe.target):  # it may have died or left meanwhile
            return
        if self._cfg.probe_recheck and not probe.urgent and probe.recheck_of is None:
            # One failed round under independent loss is common (about 1 in 1,600 probes at 5% loss);
            # two in a row are not. Probing again at once, before any suspicion is gossiped, keeps a
            # lost round from costing the whole cluster a suspicion and its refutation.
            self._rechecks[probe.target] = now
            if probe.target in self._urgent_set:
                self._urgent.remove(probe.target)
            self._urgent.appendleft(probe.target)  # ahead of other out-of-turn probes
            self._urgent_set.add(probe.target)
            return
        step.failed.append(probe.target)
        step.incarnations[probe.target] = probe.incarnation
        if probe.recheck_of is not None:
            step.failed_since[probe.target] = probe.recheck_of

    def tick(self, now: float) -> ProberStep:
        """Advance timers; urgent probes requested since the last call start now."""
        step = ProberStep()
        if not self.enabled:
            if self.dead_probing:
                self._probe_dead(now, step)
            return step
        for probe in list(self._probes.values()):
            if now >= probe.end_at:
                self._finish_probe(probe, now, step)
            elif not probe.acked and not probe.indirect_sent and now >= probe.timeout_at:
                self._ask_proxies(probe, step)
        if now >= self._next_period:
            if self._rr_seq is not None:  # driver was late: close the previous period first
                self._finish_probe(self._probes[self._rr_seq], now, step)
            target = self._next_target()
            if target is not None:
                self._start_probe(target, now, False, step)
            self._next_period = now + self._health.scale(self._cfg.probe_interval)
        while self._urgent and self._urgent_seq is None:
            target = self._urgent.popleft()
            self._urgent_set.discard(target)
            rr = self._probes.get(self._rr_seq) if self._rr_seq is not None else None
            if self._live(target) and (rr is None or rr.target != target):
                self._start_probe(target, now, True, step)
        for seq, px in list(self._proxies.items()):
            if now >= px.expires_at:
                del self._proxies[seq]
            elif not px.nacked and now >= px.nack_at:
                px.nacked = True
                step.sends.append(
                    Send(px.requester, px.requester_addr, "nack", pb.Nack(seq=px.requester_seq, subject=px.target))
                )
        self._probe_dead(now, step)
        return step

    def _ask_proxies(self, probe: _Probe, step: ProberStep) -> None:
        probe.indirect_sent = True
        proxies = self.random_members(self._cfg.indirect_checks, {probe.target})
        probe.expected_nacks = len(proxies)
        for proxy in proxies:
            step.sends.append(Send(proxy, "", "ping_req", pb.PingReq(seq=probe.seq, target=probe.target)))

    def _probe_dead(self, now: float, step: ProberStep) -> None:
        if now < self._next_dead_probe:
            return
        if self._dead:
            target = self._dead[self._rng.randrange(len(self._dead))]
            step.sends.append(Send(target, "", "ping", pb.Ping(seq=self._new_seq(), target=target)))
        self._next_dead_probe = now + self._cfg.dead_probe_interval

    # ------------------------------------------------------------ messages
    def on_ack(self, seq: int, now: float) -> ProberStep:
        step = ProberStep()
        probe = self._probes.get(seq)
        if probe is not None:
            if not probe.acked and now < probe.end_at:
                probe.acked = True
                self._results["indirect_ack" if probe.indirect_sent else "ack"] += 1
                self._health.apply(-1)
                step.acked.append(probe.target)
                if probe.urgent:  # an out-of-turn probe has no period to fill: free the slot for the next
                    self._finish_probe(probe, now, step)
            return step
        px = self._proxies.pop(seq, None)
        if px is not None:
            step.sends.append(
                Send(px.requester, px.requester_addr, "ack", pb.Ack(seq=px.requester_seq, subject=px.target))
            )
            step.acked.append(px.target)
        return step

    def on_nack(self, seq: int, refused: bool = False) -> ProberStep:
        step = ProberStep()
        probe = self._probes.get(seq)
        if probe is not None and probe.indirect_sent:
            probe.nacks += 1
            self._results["nack"] += 1
            if refused:
                probe.refusals += 1
                self._check_refusals(probe, step)
        return step

    def on_send_failed(self, to: str, refused: bool) -> ProberStep:
        """The driver could not deliver a message to ``to``. Only a refusal at connect is evidence
        (a process that died on a live host); any other failure is silence, which the timers handle."""
        step = ProberStep()
        if not refused or self._cfg.refusal_quorum <= 0:
            return step
        for probe in list(self._probes.values()):
            if probe.target != to or probe.acked or probe.refused:
                continue
            probe.refused = True
            if not probe.indirect_sent:
                self._ask_proxies(probe, step)  # at once: no point waiting for the probe timeout
            self._check_refusals(probe, step)
        for px in self._proxies.values():
            if px.target == to and not px.nacked:
                px.nacked = True
                nack = pb.Nack(seq=px.requester_seq, subject=px.target, refused=True)
                step.sends.append(Send(px.requester, px.requester_addr, "nack", nack))
        return step

    def _check_refusals(self, probe: _Probe, step: ProberStep) -> None:
        """End the probe early once ``refusal_quorum`` observers saw the target refuse."""
        quorum = self._cfg.refusal_quorum
        if quorum <= 0 or probe.acked or int(probe.refused) + probe.refusals < quorum:
            return
        del self._probes[probe.seq]
        if probe.urgent:
            self._urgent_seq = None
        elif self._rr_seq == probe.seq:
            self._rr_seq = None
        # No health penalty: the target's host answered us and our proxies, so our links work.
        if self._live(probe.target):
            step.refused.append(probe.target)
            step.incarnations[probe.target] = probe.incarnation

    def on_ping_req(
        self, requester: str, requester_addr: str, req: pb.PingReq, target_addr: str, now: float
    ) -> ProberStep:
        """Serve as a proxy: ping the target, relay its ack, or nack before the requester gives up."""
        step = ProberStep()
        if len(self._proxies) >= MAX_PROXY_PROBES or not target_addr:
            return step
        seq = self._new_seq()
        self._proxies[seq] = _ProxyProbe(
            requester=requester,
            requester_addr=requester_addr,
            requester_seq=req.seq,
            target=req.target,
            nack_at=now + self._cfg.nack_fraction * self._cfg.probe_timeout,
            expires_at=now + self._cfg.probe_interval,
        )
        step.sends.append(Send(req.target, target_addr, "ping", pb.Ping(seq=seq, target=req.target)))
        return step

    def results(self) -> dict[str, int]:
        """Copy of the probe outcome counts: ack, indirect_ack, nack (received), timeout."""
        return dict(self._results)

    def in_flight_target(self) -> str | None:
        """The round-robin probe's target, if one is in flight (tests, hybrid)."""
        if self._rr_seq is None:
            return None
        return self._probes[self._rr_seq].target
