"""The wire form of ``pb.HeartbeatGossip``: building the outgoing message from cached field bytes,
checking a received one, and recognising a received id list by its bytes.

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

from swimfd.pb import swim_pb2 as pb

U64_MAX = 2**64 - 1  # incarnations and counters travel as uint64


class HeartbeatGossipError(ValueError):
    """A gossip message is malformed (parallel arrays disagree, too many entries)."""


def check_incarnation(incarnation: int) -> int:
    if type(incarnation) is not int or not 0 <= incarnation <= U64_MAX:
        raise ValueError(f"incarnation must be an integer in [0, 2^64), got {incarnation!r}")
    return incarnation


def check_gossip(msg: pb.HeartbeatGossip, max_members: int) -> None:
    """Raise HeartbeatGossipError unless ``msg`` is well formed and lists at most ``max_members``.

    ids, incarnations and heartbeats are parallel (the members named explicitly); the base fields
    must describe ``base_size`` counters of one width, and no position beyond the base.
    """
    k = len(msg.ids)
    if len(msg.incarnations) != k or len(msg.heartbeats) != k:
        raise HeartbeatGossipError(
            f"gossip arrays differ in length: {k} ids, {len(msg.incarnations)} incarnations, "
            f"{len(msg.heartbeats)} heartbeats"
        )
    size = msg.base_size
    if not msg.base_digest:
        if size or msg.base_heartbeats or msg.base_inc_positions or msg.base_inc_values or msg.base_ids:
            raise HeartbeatGossipError("gossip has base fields but no base_digest")
    else:
        width = msg.base_heartbeat_width
        if width not in WIDTHS or len(msg.base_heartbeats) != size * width:
            raise HeartbeatGossipError(
                f"base_heartbeats holds {len(msg.base_heartbeats)} bytes, not {size} counters of width {width}"
            )
        if msg.base_ids and len(msg.base_ids) != size:
            raise HeartbeatGossipError(f"base_ids lists {len(msg.base_ids)} ids for a base of {size}")
        positions = msg.base_inc_positions
        if len(positions) != len(msg.base_inc_values):
            raise HeartbeatGossipError("base_inc_positions and base_inc_values differ in length")
        if positions and max(positions) >= size:
            raise HeartbeatGossipError(f"base_inc_positions beyond the base of {size}")
    if k + size > max_members:
        raise HeartbeatGossipError(f"gossip lists {k + size} members, more than max_members={max_members}")


WIDTHS = {1: np.dtype("<u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4"), 8: np.dtype("<u8")}


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
