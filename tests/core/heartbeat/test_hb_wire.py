"""The gossip message the gossiper builds from cached wire bytes is exactly what protobuf encodes."""

from __future__ import annotations

import numpy as np
import pytest
from hb_helpers import gossip, gossiper

from swimfd.core.heartbeat import _packed_uint64
from swimfd.pb import swim_pb2 as pb

EDGES = [0, 1, 127, 128, 255, 16383, 16384, 2**21 - 1, 2**21, 2**35, 2**56 - 1, 2**56, 2**63, 2**64 - 1]


@pytest.mark.parametrize(
    "values",
    [[], [0] * 5, EDGES, [300] * 7, list(np.random.default_rng(3).integers(0, 2**64 - 1, 500, dtype=np.uint64))],
)
def test_packed_encoding_matches_protobuf(values):
    arr = np.array(values, dtype=np.uint64)
    body = _packed_uint64(arr)
    reference = pb.HeartbeatGossip(heartbeats=[int(v) for v in values]).SerializeToString()
    assert reference == (b"\x1a" + varint(len(body)) + body if values else b"")
    assert list(pb.HeartbeatGossip.FromString(reference).heartbeats) == [int(v) for v in values]


def varint(n: int) -> bytes:
    out = []
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


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
