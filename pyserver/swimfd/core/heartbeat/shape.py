"""The shape of a received ``pb.HeartbeatGossip``: what a well-formed message looks like.

Kept apart from ``encoding`` (which builds messages with numpy) so that ``swimfd.core.wire`` can
check every incoming message without loading numpy in a swim-mode detector.
"""

from __future__ import annotations

from swimfd.pb import swim_pb2 as pb

U64_MAX = 2**64 - 1  # incarnations and counters travel as uint64


class HeartbeatGossipError(ValueError):
    """A gossip message is malformed (parallel arrays disagree, too many entries)."""


def check_incarnation(incarnation: int) -> int:
    if type(incarnation) is not int or not 0 <= incarnation <= U64_MAX:
        raise ValueError(f"incarnation must be an integer in [0, 2^64), got {incarnation!r}")
    return incarnation


COUNTER_WIDTHS = (1, 2, 4, 8)  # bytes per counter in base_heartbeats (encoding.pack_counters)


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
        if width not in COUNTER_WIDTHS or len(msg.base_heartbeats) != size * width:
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
