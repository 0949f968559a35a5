"""Time bounds of the lab's cells, derived from the protocol configuration, never from machine speed.

crash_bound: swimfd.core.bounds.detection_bound (swim, hybrid, heartbeat), which
assumes healthy survivors (Lifeguard health score 0). One crash (or one paused or
vanished member) leaves every survivor's links intact, so the proxies of a
ping-req nack and no survivor's health degrades.

degraded_bound: when the survivors' proxies can be unreachable too (a partition:
proxies on the far side; several crashes: a proxy that crashed as well), a
failed probe's missing nacks raise the prober's Lifeguard health score, up to
awareness_max_multiplier - 1, and every probe period and probe timeout is then
stretched by up to M = awareness_max_multiplier. Suspicion timeouts are not
scaled. So the swim bound with each probing or dissemination period at M * P:

    (F + 1) * M * P + Max(n) + D(n) * M * P + 2 * M * P      (hybrid: + stale_after + Min(n))

heal_bound: after the heal, every view shows every member alive within

    stall(T) + dead_probe_interval + (D(n) + 3) * M * P

* stall(T) = min(T + RTO_min, RTO_max): gRPC keeps one TCP connection per peer. A segment sent
  during a cut of length T is retransmitted at exponentially growing intervals (RTO_min = 200 ms,
  doubled each time, at most RTO_max = 120 s), so the first retransmission after the heal, the
  one that unblocks the connection, comes at most T + RTO_min after it.
* dead_probe_interval: every member pings one of its tombstones this often; the ping carries the
  target's DEAD record (buddy system), so the target refutes, and the ack carries the prober's
  DEAD record, so the prober refutes too.
* (D(n) + 3) periods, still at the degraded M * P: one for that exchange, D(n) for the refutations
  (new incarnations) to spread to everyone, two of slack.

leader_bound: once the views agree, every live member names the same leader (and term) within

    reclaim_interval + leader_wait_timeout + 3 * election_timeout

  A member following a failed leader starts an election as soon as its view holds the failure
  (Elect, silence or GotIt, then a claim and its objection-free round: 3 election timeouts, plus
  leader_wait_timeout when a higher member answered and its claim was lost). Two leaders left by
  a partition or by lost claims meet within one reclaim_interval, when each repeats its claim.

join_bound: a member that joins through a list of seeds, some of them down, is ALIVE in every
view: one join call per seed that is down (a crashed seed's host answers with a reset, at most
JOIN_TIMEOUT), then rejoin_bound.

churn_bound: after members restart repeatedly, every view shows every member alive within
crash_bound + rejoin_bound of the last restart: a verdict on a member's previous life can still
be reached up to crash_bound after that life ended; the new life's Alive spreads within
rejoin_bound of it (an observer that already holds the new incarnation ignores the older verdict).

loss_window: how long the loss cell watches for false positives: one crash bound, the time in
which any suspicion raised by a lost probe either matures into a failure or is refuted.
"""

from __future__ import annotations

from swimfd.core.bounds import (
    detection_bound,
    dissemination_periods,
    first_probe_periods,
    heartbeat_bound,
    heartbeat_t_fail,
)
from swimfd.core.config import Config
from swimfd.core.election import reclaim_interval
from swimfd.core.hybrid import stale_after
from swimfd.core.suspicion import suspicion_min_max
from swimfd.runtime.diss_process import BACKOFF_MIN as DISS_BACKOFF_MIN
from swimfd.runtime.process import JOIN_TIMEOUT

TCP_RTO_MIN = 0.2  # Linux TCP_RTO_MIN
TCP_RTO_MAX = 120.0  # Linux TCP_RTO_MAX


def crash_bound(config: Config, n: int) -> float:
    return detection_bound(config, n)


def degraded_period(config: Config) -> float:
    """A probe period at the largest Lifeguard health multiplier."""
    return config.probe_interval * config.awareness_max_multiplier


def degraded_bound(config: Config, n: int) -> float:
    if config.mode == "heartbeat":
        return heartbeat_bound(config, n)  # gossip rounds are not scaled by Lifeguard health
    p = degraded_period(config)
    lo, hi = suspicion_min_max(config, n)
    bound = (first_probe_periods(n) + 1) * p + hi + dissemination_periods(config, n) * p + 2 * p
    if config.mode == "hybrid":
        bound += stale_after(config, heartbeat_t_fail(config, n)) + lo
    return bound


def settle(config: Config, n: int) -> float:
    """Time for a side's failure verdicts to leave its broadcast queues: D(n) degraded periods."""
    return dissemination_periods(config, n) * degraded_period(config)


def tcp_stall(cut_s: float) -> float:
    return min(cut_s + TCP_RTO_MIN, TCP_RTO_MAX)


def heal_bound(config: Config, n: int, cut_s: float) -> float:
    p = degraded_period(config)
    return tcp_stall(cut_s) + config.dead_probe_interval + (dissemination_periods(config, n) + 3) * p


def detection_bound_for(config: Config, n: int, lost: int) -> float:
    """The bound for ``lost`` members failing at once: healthy for one, degraded for more."""
    return crash_bound(config, n) if lost <= 1 else degraded_bound(config, n)


def loss_window(config: Config, n: int) -> float:
    return crash_bound(config, n)


def rejoin_bound(config: Config, n: int) -> float:
    """A restarted member (same id, new incarnation) is ALIVE in every view: one period for its first
    exchange with a seed, D(n) periods for the new incarnation to spread, one of slack."""
    return (dissemination_periods(config, n) + 2) * config.probe_interval


def diss_restart_bound(config: Config) -> float:
    """A killed go-diss child is back: the supervisor's first backoff plus two periods for it to start."""
    return DISS_BACKOFF_MIN + 2 * config.probe_interval


def leader_bound(config: Config) -> float:
    return reclaim_interval(config) + config.leader_wait_timeout + 3 * config.election_timeout


def join_bound(config: Config, n: int, seeds_down: int) -> float:
    return seeds_down * JOIN_TIMEOUT + rejoin_bound(config, n)


def churn_bound(config: Config, n: int) -> float:
    return crash_bound(config, n) + rejoin_bound(config, n)
