"""Cost of building and merging one heartbeat gossip message at n members (not a test).

    .venv/bin/python bench/heartbeat_speed.py [--n 10000] [--reps 200]

Prints milliseconds per operation (median of ``reps``):
  tick      HeartbeatGossiper.tick at a round start: bump, pick targets, build the message, detect
  merge     on_gossip of a message whose id list equals the receiver's view (the common case)
  merge_foreign_cached  a different id list that was seen before (mapping cached)
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pyserver"))

from swimfd.config import Config
from swimfd.heartbeat import HeartbeatGossiper


def median_ms(fn: Callable[[int], object], reps: int) -> float:
    samples = []
    for i in range(reps):
        t0 = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--detector", choices=("fixed", "phi"), default="fixed")
    args = ap.parse_args()
    n, reps = args.n, args.reps
    cfg = Config(mode="heartbeat", t_fail=1e9, heartbeat_detector=args.detector)
    ids = [f"member-{i:05d}" for i in range(n)]
    sender = HeartbeatGossiper(cfg, ids[0], random.Random(1), 0.0)
    receiver = HeartbeatGossiper(cfg, ids[1], random.Random(2), 0.0)
    odd = HeartbeatGossiper(cfg, ids[2], random.Random(3), 0.0)  # knows one extra member
    for g in (sender, receiver, odd):
        for m in ids:
            g.track(m, 0, 0.0)
    odd.track("extra-member", 0, 0.0)
    interval = cfg.gossip_interval
    msgs = []

    def tick(i: int) -> None:
        step = sender.tick((i + 1) * interval)
        msgs.append(step.gossip[0][1])

    t_tick = median_ms(tick, reps)
    t_merge = median_ms(lambda i: receiver.on_gossip(ids[0], msgs[i], (i + 1) * interval), reps)
    foreign = [odd.tick((i + 1) * interval).gossip[0][1] for i in range(reps)]

    def cold_merge(i: int) -> None:
        receiver._foreign = None  # force the full lookup path
        receiver.on_gossip(ids[2], foreign[i], (reps + i + 1) * interval)

    t_cold = median_ms(cold_merge, reps)
    t_cached = median_ms(lambda i: receiver.on_gossip(ids[2], foreign[i], (2 * reps + i + 1) * interval), reps)
    size = msgs[0].ByteSize()
    print(f"n={n} detector={args.detector} message={size} bytes")
    print(f"tick (build + send list)     {t_tick:.3f} ms")
    print(f"merge (same view)            {t_merge:.3f} ms")
    print(f"merge_foreign_cached         {t_cached:.3f} ms")
    print(f"merge_foreign_cold           {t_cold:.3f} ms")


if __name__ == "__main__":
    main()
