"""Gossip-style heartbeat failure detection (van Renesse, Minsky, Hayden, Middleware 1998).

One idea per module:
  tfail     T_fail from the group's mistake budget (derive_t_fail, rounds_to_reach)
  gossiper  the per-member state machine (HeartbeatGossiper, HeartbeatStep)
  storage   per-member state in slot-indexed numpy arrays (SlotTable), the shared base (HeartbeatBase)
  encoding  the wire form of pb.HeartbeatGossip (building, checking, HeartbeatGossipError)
"""

from swimfd.core.heartbeat.encoding import HeartbeatGossipError
from swimfd.core.heartbeat.gossiper import HeartbeatGossiper, HeartbeatStep
from swimfd.core.heartbeat.storage import HeartbeatBase
from swimfd.core.heartbeat.tfail import derive_t_fail, rounds_to_reach

__all__ = [
    "HeartbeatBase",
    "HeartbeatGossipError",
    "HeartbeatGossiper",
    "HeartbeatStep",
    "derive_t_fail",
    "rounds_to_reach",
]
