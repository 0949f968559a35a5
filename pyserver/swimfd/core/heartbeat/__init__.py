"""Gossip-style heartbeat failure detection (van Renesse, Minsky, Hayden, Middleware 1998).

One idea per module:
  tfail     T_fail from the group's mistake budget (derive_t_fail, rounds_to_reach)
  gossiper  the per-member state machine (HeartbeatGossiper, HeartbeatStep)
  storage   per-member state in slot-indexed numpy arrays (SlotTable), the shared base (HeartbeatBase)
  encoding  the wire form of pb.HeartbeatGossip (building, checking, HeartbeatGossipError)

Only ``tfail`` is re-exported here: gossiper, storage and encoding need numpy (about 20 MB of a
detector's memory), so they are imported from their own modules by code that runs heartbeat
gossip, and a swim-mode detector, which also imports this package for T_fail bounds, never loads
numpy.
"""

from swimfd.core.heartbeat.tfail import derive_t_fail, rounds_to_reach

__all__ = ["derive_t_fail", "rounds_to_reach"]
