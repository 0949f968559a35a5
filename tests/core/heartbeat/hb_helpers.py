"""Shared helpers for the heartbeat tests: configs, messages and a lockstep cluster."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Sequence

from swimfd.core.config import Config
from swimfd.core.heartbeat.gossiper import HeartbeatGossiper, HeartbeatStep
from swimfd.pb import swim_pb2 as pb


def config(**overrides: object) -> Config:
    base: dict[str, object] = {"mode": "heartbeat", "gossip_interval": 1.0, "t_fail": 5.0}
    base.update(overrides)
    return Config(**base)  # type: ignore[arg-type]


def gossip(entries: Iterable[tuple[str, int, int]], round_no: int = 0) -> pb.HeartbeatGossip:
    """A message from (id, incarnation, heartbeat) triples."""
    ids, incs, hbs = [], [], []
    for member_id, inc, hb in entries:
        ids.append(member_id)
        incs.append(inc)
        hbs.append(hb)
    return pb.HeartbeatGossip(ids=ids, incarnations=incs, heartbeats=hbs, round=round_no)


def gossiper(self_id: str, members: Sequence[str], cfg: Config | None = None, now: float = 0.0, seed: int = 7):
    g = HeartbeatGossiper(cfg or config(), self_id, random.Random(seed), now)
    for m in members:
        g.track(m, 0, now)
    return g


class Lockstep:
    """Members that all tick at t = r * interval, then receive that round's messages instantly."""

    def __init__(self, ids: Sequence[str], cfg: Config) -> None:
        self.cfg = cfg
        self.nodes = {i: gossiper(i, ids, cfg, seed=k) for k, i in enumerate(ids)}
        self.steps: dict[str, list[HeartbeatStep]] = {i: [] for i in ids}

    def round(self, r: int, drop: set[tuple[str, str]] | None = None, silent: set[str] | None = None) -> None:
        now = r * self.cfg.gossip_interval
        outbox = []
        for i, node in self.nodes.items():
            if silent and i in silent:
                continue
            step = node.tick(now)
            self.steps[i].append(step)
            outbox.extend((i, to, msg) for to, msg in step.gossip)
        for sender, to, msg in outbox:
            if (drop and (sender, to) in drop) or (silent and to in silent):
                continue
            self.steps[to].append(self.nodes[to].on_gossip(sender, msg, now))


def advance(g: HeartbeatGossiper, until: float, max_ticks: int = 100_000) -> HeartbeatStep:
    """Tick at every deadline before ``until``, then at ``until``, as a running process does
    (a tick much later than the gossiper's own deadline means the process was paused, which the
    gossiper excuses). Returns every tick's output combined."""
    total = HeartbeatStep()
    for _ in range(max_ticks):
        t = g.next_deadline()
        if t >= until:
            break
        _combine(total, g.tick(t))
    else:
        raise AssertionError(f"more than {max_ticks} ticks before {until}")
    _combine(total, g.tick(until))
    return total


def _combine(total: HeartbeatStep, step: HeartbeatStep) -> None:
    for f in dataclasses.fields(HeartbeatStep):  # every field is a list
        getattr(total, f.name).extend(getattr(step, f.name))
