"""Gossip target schedules (Ranganathan et al., Cluster Computing 2001)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hb_helpers import Lockstep, config

from swimfd.core.target_selection import (
    binary_offsets,
    expected_senders,
    round_robin_offsets,
    select_targets,
)

RING7 = [f"n{i}" for i in range(7)]


def test_round_robin_matches_the_paper_formula():
    n = len(RING7)
    for i in range(n):
        for r in range(1, n):  # paper round r is our round number r - 1
            assert select_targets("round_robin", RING7, i, r - 1, 1, random.Random(0)) == [RING7[(i + r) % n]]


@pytest.mark.parametrize("start", [0, 3, 1000])
def test_round_robin_covers_all_others_in_n_minus_1_rounds_without_duplicates(start):
    n = len(RING7)
    for i in range(n):
        seen = [t for r in range(start, start + n - 1) for t in select_targets("round_robin", RING7, i, r, 1, None)]
        assert sorted(seen) == sorted(set(RING7) - {RING7[i]})


def test_round_robin_every_member_hears_from_exactly_one_member_each_round():
    for r in range(10):
        received = Counter(t for i in range(len(RING7)) for t in select_targets("round_robin", RING7, i, r, 1, None))
        assert received == Counter(RING7)


def test_round_robin_with_fanout_covers_everyone_in_ceil_rounds():
    ring = [f"m{i}" for i in range(10)]
    for i in range(10):
        per_round = [select_targets("round_robin", ring, i, r, 3, None) for r in range(3)]
        assert all(len(ts) == 3 for ts in per_round)
        flat = [t for ts in per_round for t in ts]
        assert sorted(flat) == sorted(set(ring) - {ring[i]})


def test_binary_offsets_are_powers_of_two_cycling_every_log2_n_rounds():
    assert [binary_offsets(r, 8, 1) for r in range(7)] == [[1], [2], [4], [1], [2], [4], [1]]
    assert [binary_offsets(r, 5, 1) for r in range(4)] == [[1], [2], [4], [1]]  # ceil(log2 5) = 3
    assert binary_offsets(0, 8, 2) == [1, 2]
    assert binary_offsets(1, 8, 5) == [4, 1, 2]  # fanout beyond the cycle: no duplicates


@pytest.mark.parametrize("n", [2, 4, 8, 16])
def test_binary_round_robin_reaches_everyone_in_log2_n_rounds(n):
    ids = [f"p{i:02d}" for i in range(n)]
    cluster = Lockstep(ids, config(gossip_target="binary_round_robin", t_fail=1000.0))
    source = ids[0]
    informed_per_round = []
    for r in range(1, n.bit_length()):  # log2 n rounds
        cluster.round(r)
        informed_per_round.append(sum(1 for node in cluster.nodes.values() if (node.counter(source) or 0) >= 1))
    # Doubling each round with no redundant message: 2, 4, ..., n.
    assert informed_per_round == [2**k for k in range(1, n.bit_length())]


def test_random_targets_are_distinct_others_and_seeded():
    ring = [f"m{i}" for i in range(20)]
    picks = [select_targets("random", ring, 4, r, 3, random.Random(r)) for r in range(200)]
    assert all(len(p) == 3 and len(set(p)) == 3 and "m4" not in p for p in picks)
    assert picks == [select_targets("random", ring, 4, r, 3, random.Random(r)) for r in range(200)]
    assert {t for p in picks for t in p} == set(ring) - {"m4"}
    assert select_targets("random", ring[:3], 0, 0, 5, random.Random(1)) in (["m1", "m2"], ["m2", "m1"])


@pytest.mark.parametrize("strategy", ["round_robin", "binary_round_robin", "sequence_check"])
@pytest.mark.parametrize("fanout", [1, 2])
def test_expected_senders_inverts_the_schedule(strategy, fanout):
    ring = [f"m{i}" for i in range(9)]
    for r in range(12):
        sends = {(ring[i], t) for i in range(9) for t in select_targets(strategy, ring, i, r, fanout, None)}
        expects = {(s, ring[j]) for j in range(9) for s in expected_senders(strategy, ring, j, r, fanout)}
        assert sends == expects


def test_degenerate_rings_and_unknown_strategy():
    assert select_targets("round_robin", ["a"], 0, 3, 1, None) == []
    assert select_targets("binary_round_robin", ["a", "b"], 1, 5, 2, None) == ["a"]
    assert round_robin_offsets(0, 1, 1) == []
    assert expected_senders("random", ["a", "b"], 0, 0, 1) == []
    with pytest.raises(ValueError, match="gossip_target"):
        select_targets("broadcast", ["a", "b"], 0, 0, 1, random.Random(0))
