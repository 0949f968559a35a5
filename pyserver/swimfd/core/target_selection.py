"""Gossip target selection for heartbeat gossip (Ranganathan et al., Cluster Computing 4, 2001).

Every strategy works on the *ring*: the sorted list of ids a member currently tracks as alive,
itself included. Sorting makes positions agree on every member whose view agrees, which the
deterministic schedules need. Rounds are numbered by the caller (heartbeat/gossiper.py uses the global
round ``floor(now / gossip_interval)`` so that members sharing a time base share round numbers).

With fanout ``M`` a member sends ``M`` messages per round:

* ``random``: ``M`` distinct members drawn uniformly with the injected rng (van Renesse 1998).
* ``round_robin``: the round-robin offsets ``1 .. n-1`` are consumed ``M`` per round, so round
  ``r`` uses offsets ``((r*M + j) mod (n-1)) + 1`` for ``j < M``: ``M = 1`` is the paper's
  ``(i + r) mod n``, and any ``ceil((n-1)/M)`` consecutive rounds reach every other member once.
* ``binary_round_robin``: offsets ``2^k`` with ``k = (r*M + j) mod ceil(log2 n)``: ``M = 1`` is the
  paper's ``(i + 2^(r-1)) mod n``; any ``ceil(log2 n)`` consecutive rounds spread a value to all
  members when ``n`` is a power of two (every distance ``< n`` is a sum of distinct powers of two).
* ``sequence_check``: the round-robin schedule, plus :func:`expected_senders` so a receiver knows
  who must gossip to it in a round; a missing message is evidence against that sender.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from swimfd.core.config import GOSSIP_TARGETS


def round_robin_offsets(round_no: int, n: int, fanout: int) -> list[int]:
    """Ring offsets (1..n-1) a member gossips to in ``round_no`` under round robin."""
    if n < 2:
        return []
    span = n - 1
    base = round_no * fanout
    offsets = [((base + j) % span) + 1 for j in range(min(fanout, span))]
    return offsets


def binary_offsets(round_no: int, n: int, fanout: int) -> list[int]:
    """Ring offsets (powers of two below n) used in ``round_no`` under binary round robin."""
    if n < 2:
        return []
    steps = max(1, (n - 1).bit_length())  # ceil(log2 n)
    base = round_no * fanout
    seen: dict[int, None] = {}  # ordered de-duplication when fanout exceeds the cycle
    for j in range(min(fanout, steps)):
        seen[1 << ((base + j) % steps)] = None
    return list(seen)


def schedule_offsets(strategy: str, round_no: int, n: int, fanout: int) -> list[int]:
    """Offsets for the deterministic strategies (``random`` has no schedule)."""
    if strategy in ("round_robin", "sequence_check"):
        return round_robin_offsets(round_no, n, fanout)
    if strategy == "binary_round_robin":
        return binary_offsets(round_no, n, fanout)
    raise ValueError(f"gossip_target {strategy!r} has no deterministic schedule")


def select_targets(
    strategy: str, ring: Sequence[str], self_pos: int, round_no: int, fanout: int, rng: random.Random
) -> list[str]:
    """Members to gossip to this round. ``ring[self_pos]`` is the caller; it is never chosen."""
    if strategy not in GOSSIP_TARGETS:
        raise ValueError(f"unknown gossip_target {strategy!r}")
    n = len(ring)
    if n < 2:
        return []
    if strategy == "random":
        picks = rng.sample(range(n - 1), min(fanout, n - 1))
        return [ring[(self_pos + 1 + p) % n] for p in picks]
    return [ring[(self_pos + off) % n] for off in schedule_offsets(strategy, round_no, n, fanout)]


def expected_senders(strategy: str, ring: Sequence[str], self_pos: int, round_no: int, fanout: int) -> list[str]:
    """Members whose schedule makes them gossip to ``ring[self_pos]`` in ``round_no``.

    The inverse of :func:`select_targets` for the deterministic strategies: the member at
    ``self_pos - offset`` sends to us when it uses ``offset``.
    """
    n = len(ring)
    if n < 2 or strategy == "random":
        return []
    return [ring[(self_pos - off) % n] for off in schedule_offsets(strategy, round_no, n, fanout)]
