"""The gossip message the gossiper builds from cached wire bytes is exactly what protobuf encodes."""

from __future__ import annotations

import numpy as np
import pytest
from hb_helpers import gossip, gossiper

from swimfd.core.heartbeat import encoding
from swimfd.pb import swim_pb2 as pb

EDGES = [0, 1, 127, 128, 255, 16383, 16384, 2**21 - 1, 2**21, 2**35, 2**56 - 1, 2**56, 2**63, 2**64 - 1]


@pytest.mark.parametrize(
    "values",
    [[], [0] * 5, EDGES, [300] * 7, list(np.random.default_rng(3).integers(0, 2**64 - 1, 500, dtype=np.uint64))],
)
def test_built_message_encodes_and_decodes_as_protobuf(values):
    # Each peer carries one value as its incarnation and as its counter; "z" was never heard from.
    values = [int(v) for v in values]
    peers = [f"p{i:04d}" for i in range(len(values))]
    g = gossiper("a", ["a", *peers, "z"])
    for peer, value in zip(peers, values, strict=True):
        g.track(peer, value, 0.0)
    g.on_gossip("z", gossip([(p, v, v) for p, v in zip(peers, values, strict=True)]), 0.5)
    msg = g.tick(1.0).gossip[0][1]
    wire = msg.SerializeToString()
    reference = pb.HeartbeatGossip(
        ids=["a", *peers, "z"], incarnations=[0, *values, 0], heartbeats=[1, *values, 0], round=1
    )
    assert wire == reference.SerializeToString()
    decoded = pb.HeartbeatGossip.FromString(wire)
    assert decoded == reference
    assert list(decoded.heartbeats) == [1, *values, 0]
    assert list(decoded.incarnations) == [0, *values, 0]


@pytest.mark.parametrize("round_no", [0, 1, 2**64 - 1])
def test_ids_length_finds_the_ids_field_whatever_follows(round_no):
    ids = ["x", "yy", "zzz" * 50]
    msg = pb.HeartbeatGossip(ids=ids, incarnations=[0, 5, 2**64 - 1], heartbeats=[3, 0, 2**40], round=round_no)
    data = msg.SerializeToString()
    assert encoding.ids_length(msg, data) == len(encoding.ids_field(ids))
    assert data.startswith(encoding.ids_field(ids))
    assert encoding.ids_length(msg, data + b"\x20\x01") is None  # bytes that are not this message


def test_build_parses_the_cached_fields_and_counters():
    ids = ["a", "b", "c"]
    incs = np.array([0, 2**63, 1], dtype=np.uint64)
    hbs = np.array([2**64 - 1, 0, 128], dtype=np.uint64)
    msg = encoding.build(encoding.ids_field(ids), encoding.incarnations_field(incs), hbs, 9)
    assert msg == pb.HeartbeatGossip(ids=ids, incarnations=incs.tolist(), heartbeats=hbs.tolist(), round=9)


def test_built_message_carries_large_counters_and_incarnations_exactly():
    ids = ["a", "b", "c", "d"]
    g = gossiper("a", ids)
    g.track("c", 2**63 + 5, 0.0)
    g.on_gossip("b", gossip([("b", 7, 2**64 - 1), ("c", 2**63 + 5, 128), ("d", 0, 16384)]), 0.5)
    msg = g.tick(1.0).gossip[0][1]
    assert list(msg.ids) == ids
    assert list(msg.incarnations) == [0, 7, 2**63 + 5, 0]
    assert list(msg.heartbeats) == [1, 2**64 - 1, 128, 16384]
    assert msg.round == 1
    assert pb.HeartbeatGossip.FromString(msg.SerializeToString()) == msg
