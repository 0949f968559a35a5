"""The wire form of ``pb.HeartbeatGossip``: building the outgoing message from cached field bytes,
and recognising a received id list by its bytes (checking a received one: ``shape``).

Everything is encoded and parsed by the protobuf library. A hand-written numpy varint encoder
used to pack the counter arrays; ``bench/heartbeat_encoding.py`` showed that building the message
through it was no faster than the library (docs/heartbeat.md, Performance), so it went.

Two protobuf properties carry the speed: serialized messages concatenate into their merge, so a
message parses from cached wire bytes of its fields; and upb serializes fields in number order,
so the ids field leads every serialized message, where one ``startswith`` or one digest finds it.
"""

from __future__ import annotations

import hashlib

import numpy as np

from swimfd.core.heartbeat.shape import COUNTER_WIDTHS
from swimfd.pb import swim_pb2 as pb

WIDTHS = {w: np.dtype(f"<u{w}") for w in COUNTER_WIDTHS}


def pack_counters(counters: np.ndarray) -> tuple[bytes, int]:
    """Counters as little-endian integers of the narrowest width that holds the largest."""
    top = int(counters.max()) if len(counters) else 0
    width = 1 if top < 1 << 8 else 2 if top < 1 << 16 else 4 if top < 1 << 32 else 8
    return counters.astype(WIDTHS[width]).tobytes(), width


def unpack_counters(data: bytes, width: int) -> np.ndarray:
    return np.frombuffer(data, dtype=WIDTHS[width]).astype(np.uint64)


def base_digest(ids_field_bytes: bytes) -> int:
    """The base's name on the wire: the first 8 bytes of BLAKE2b over its serialized ids field.

    Stable across processes (unlike ``hash``), nonzero (0 means "no base")."""
    return int.from_bytes(hashlib.blake2b(ids_field_bytes, digest_size=8).digest(), "little") or 1


def ids_field(ids: list[str]) -> bytes:
    """Wire bytes of the ids field alone: how it starts every message listing ``ids``."""
    return pb.HeartbeatGossip(ids=ids).SerializeToString()


def incarnations_field(incarnations: np.ndarray) -> bytes:
    """Wire bytes of the incarnations field alone."""
    return pb.HeartbeatGossip(incarnations=incarnations.tolist()).SerializeToString()


def build(ids: bytes, incarnations: bytes, heartbeats: np.ndarray, round_no: int) -> pb.HeartbeatGossip:
    """The gossip message from the cached ids and incarnations fields and the current counters."""
    msg = pb.HeartbeatGossip.FromString(ids + incarnations)
    msg.heartbeats.extend(heartbeats.tolist())
    msg.round = round_no
    return msg


def ids_length(msg: pb.HeartbeatGossip, data: bytes) -> int | None:
    """Length of the ids field at the start of ``data`` (``msg`` serialized), None if not there."""
    rest = pb.HeartbeatGossip(incarnations=msg.incarnations, heartbeats=msg.heartbeats, round=msg.round)
    rest_bytes = rest.SerializeToString()
    return len(data) - len(rest_bytes) if data.endswith(rest_bytes) else None


def digest(data: bytes) -> int:
    # 64-bit keyed SipHash: an accidental match (which would mis-map ids) has probability 2^-64,
    # and it is five times faster than blake2b on a 60 KB id list.
    return hash(data)
