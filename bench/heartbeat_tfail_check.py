"""Check rounds_to_reach, the epidemic model behind derive_t_fail, against Monte Carlo push gossip.

    .venv/bin/python bench/heartbeat_tfail_check.py [--trials 2000] [--seed 1]

Not a test. For each (n, fanout, p_miss) it prints the rounds r that rounds_to_reach budgets for
one member to miss one heartbeat increase with probability p_miss, and the measured fraction of
members that have not heard the increase after r rounds (and after r - 1) of uniform random push
gossip. The model is the mean-field recurrence, so small groups can exceed p_miss slightly;
derive_t_fail's union bound over all pairs and its extra interval are the safety margin.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pyserver"))

from swimfd.core.heartbeat import rounds_to_reach

CASES = ((10, 1, 1e-2), (10, 1, 1e-3), (20, 1, 1e-2), (50, 1, 1e-2), (50, 2, 1e-2), (100, 1, 1e-3))


def miss_fraction(n: int, fanout: int, rounds: int, trials: int, rng: random.Random) -> float:
    missed = 0
    for _ in range(trials):
        informed = {0}
        for _ in range(rounds):
            reached: set[int] = set()
            for sender in informed:
                picks = rng.sample(range(n - 1), fanout)
                reached.update(p if p < sender else p + 1 for p in picks)  # skip the sender itself
            informed |= reached
        missed += n - len(informed)
    return missed / (trials * (n - 1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    print(f"{'n':>5} {'M':>2} {'p_miss':>9} {'rounds':>6} {'miss@r':>9} {'miss@r-1':>9}")
    for n, fanout, p in CASES:
        rounds = rounds_to_reach(n, fanout, p)
        at_r = miss_fraction(n, fanout, rounds, args.trials, rng)
        before = miss_fraction(n, fanout, rounds - 1, args.trials, rng)
        print(f"{n:>5} {fanout:>2} {p:>9.0e} {rounds:>6} {at_r:>9.5f} {before:>9.5f}")


if __name__ == "__main__":
    main()
