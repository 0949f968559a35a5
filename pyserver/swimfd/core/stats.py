"""A read-only snapshot of counts only the core knows, for the runtime's metrics.

The runtime derives most metrics from the core's Output (events, messages);
what it cannot see there (probe outcomes, refutations of ourselves, queue
lengths, heartbeat staleness, the election term) the node reports here. The
core never imports a metrics library: it only counts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CoreStats:
    members: dict[str, int]  # members this node holds, by state name (alive, suspect, dead, left), self included
    probe_results: dict[str, int]  # ack, indirect_ack, nack, timeout (swimfd.core.prober.PROBE_RESULTS)
    self_refutations: int  # times we raised our incarnation to refute a suspicion or death of ours
    health: int  # Lifeguard local health score (0 is healthy)
    piggyback_queue: int  # membership updates waiting to be piggybacked
    heartbeat_staleness: float  # seconds since the stalest alive member's heartbeat rose (0 without heartbeats)
    election_term: int  # highest election term seen (0 without elections)
