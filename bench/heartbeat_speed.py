"""Cost of building and merging one heartbeat gossip message at n members (not a test).

    .venv/bin/python bench/heartbeat_speed.py [--n 10000] [--reps 100] [--detector fixed|phi]

Counters are realistic (random values up to 2^20, so 1-3 byte varints) and every merged message
raises every counter, the most expensive merge. Prints the median milliseconds per call of:
  tick                  HeartbeatGossiper.tick at a round start: bump, pick targets, build, detect
  merge (same view)     on_gossip of a list equal to the receiver's view (the common case)
  merge_foreign_cached  a different id list already seen once (mapping found by digest)
  merge_foreign_cold    a different id list seen for the first time (every id looked up)
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pyserver"))

from swimfd.core.config import Config
from swimfd.core.heartbeat.gossiper import HeartbeatGossiper
from swimfd.pb import swim_pb2 as pb


def median_ms(fn: Callable[[int], object], reps: int) -> float:
    samples = []
    for i in range(reps):
        t0 = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1e3


def messages(ids: list[str], reps: int, base: np.ndarray) -> list[pb.HeartbeatGossip]:
    """reps messages over ids whose counters all grow from one message to the next."""
    zeros = [0] * len(ids)
    return [
        pb.HeartbeatGossip(ids=ids, incarnations=zeros, heartbeats=(base + 5 * (i + 1)).tolist(), round=i + 1)
        for i in range(reps)
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--detector", choices=("fixed", "phi"), default="fixed")
    args = ap.parse_args()
    n, reps = args.n, args.reps
    cfg = Config(mode="heartbeat", t_fail=1e9, heartbeat_detector=args.detector)
    ids = sorted(str(i) for i in range(1, n + 1))  # the simulator's ids, in ring (sorted) order
    base = np.random.default_rng(1).integers(1 << 10, 1 << 20, n).astype(np.uint64)

    def member(me: str) -> HeartbeatGossiper:
        g = HeartbeatGossiper(cfg, me, random.Random(1), 0.0)
        for m in ids:
            g.track(m, 0, 0.0)
        g.on_gossip(ids[5], pb.HeartbeatGossip(ids=ids, incarnations=[0] * n, heartbeats=base.tolist()), 0.1)
        return g

    sender, receiver = member(ids[0]), member(ids[1])
    interval = cfg.gossip_interval
    t_tick = median_ms(lambda i: sender.tick((i + 1) * interval), reps)

    same = messages(ids, 3 * reps, base)
    t_same = median_ms(lambda i: receiver.on_gossip(ids[0], same[i], 1.0 + i), reps)
    other_ids = sorted([*ids[1:], "joiner"])  # one member more and one less than the receiver knows
    other = messages(other_ids, reps, base + 5 * 3 * reps)

    def cold(i: int) -> None:
        receiver._foreign = None  # forget the cached mapping: every id is looked up
        receiver.on_gossip(ids[2], other[i], 1000.0 + i)

    t_cold = median_ms(cold, reps // 2)
    t_cached = median_ms(lambda i: receiver.on_gossip(ids[2], other[reps // 2 + i], 2000.0 + i), reps // 2)
    size = sender.tick((reps + 1) * interval).gossip[0][1].ByteSize()
    print(f"n={n} detector={args.detector} message={size} bytes")
    print(f"tick (build + send list)     {t_tick:.3f} ms")
    print(f"merge (same view)            {t_same:.3f} ms")
    print(f"merge_foreign_cached         {t_cached:.3f} ms")
    print(f"merge_foreign_cold           {t_cold:.3f} ms")


if __name__ == "__main__":
    main()
