"""swimfd: SWIM and gossip-heartbeat cluster membership and failure detection."""

__version__ = "0.1.0"
