"""Gossip-style heartbeat failure detection (van Renesse, Minsky, Hayden, Middleware 1998)."""

from swimfd.core.heartbeat.gossiper import (
    HeartbeatGossiper,
    HeartbeatGossipError,
    HeartbeatStep,
    _packed_uint64,
    derive_t_fail,
    rounds_to_reach,
)

__all__ = [
    "HeartbeatGossipError",
    "HeartbeatGossiper",
    "HeartbeatStep",
    "_packed_uint64",
    "derive_t_fail",
    "rounds_to_reach",
]
