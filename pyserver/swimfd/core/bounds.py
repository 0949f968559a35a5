"""Time bounds that tests and benchmarks check the detectors against.

``detection_bound(config, n)``: seconds after a crash within which every
surviving member has reported ``member_failed`` for it, in a healthy group
(survivors' local health score 0, message delay well under a period).

swim (SWIM, DSN 2002 + Lifeguard, arXiv 1707.00788), with P = probe_interval:

    bound = (F + 1) * P + Max(n) + D(n) * P + 2 * P

* F = min(2n - 1, ceil(ln(1 / 1e-6))) = min(2n - 1, 14) periods until some survivor probes the
  crashed member: round-robin bounds one prober's gap by 2n - 1 periods, and with n - 1
  probers walking independent shuffled orders the chance that nobody has probed it after F
  periods is about e^-F (SWIM section 4.2 gives the expectation, e/(e-1) periods).
* + 1 period: that probe (direct + ping-req) fails only at the end of its period.
* Max(n) = suspicion_max_timeout_mult * Min(n): the suspicion timeout without any independent
  confirmation; confirmations only shorten it (Lifeguard). Every survivor that heard the
  suspicion runs its own timer, so the slowest confirmation is by Max after the suspicion.
* D(n) = dissemination_periods(n) periods for the Dead update to reach everyone.
* + P: a survivor that only heard the suspicion (no first-hand evidence) probes the member once
  more before confirming, which guards against a refutation it missed (swimfd.core.suspicion).
* + P of slack for driver granularity and message delay.

heartbeat (van Renesse, Minsky, Hayden, Middleware 1998):

    bound = G(n) + T_fail(n) + T_gossip,  G(n) = gossip_rounds_to_all(n, M) * T_gossip

the last increase of the crashed member's counter reaches everyone within G(n), after which each
survivor declares it failed T_fail later (checked every T_gossip).

hybrid: the swim bound plus one vetoed round (hybrid rule (c)): a survivor that saw the counter
increase after the suspicion began restarts its timer once; by then (or after ``stale_after``)
the heartbeat is stale and corroborates, so the restarted timer is Min(n):

    bound = swim_bound + stale_after(n) + Min(n),  stale_after(n) = T_fail(n) / 2 by default

``dissemination_periods(config, n)``: the c*log(n) periods used by the spread test: an update is
retransmitted retransmit_mult * ceil(log10(n + 1)) times and every member sends at least one
message (its probe) per period, so infection-style spread is complete within that many periods
with overwhelming probability (SWIM section 4.1: n^-(2*lambda-2) left uninformed).
"""

from __future__ import annotations

import math

from swimfd.core.config import Config
from swimfd.core.heartbeat import derive_t_fail
from swimfd.core.hybrid import gossip_rounds_to_all, stale_after
from swimfd.core.piggyback import retransmit_limit
from swimfd.core.suspicion import suspicion_min_max

FIRST_PROBE_PERIODS = math.ceil(math.log(1 / 1e-6))  # 14


def dissemination_periods(config: Config, n: int) -> int:
    return retransmit_limit(config.retransmit_mult, n)


def first_probe_periods(n: int) -> int:
    return min(2 * max(n, 1) - 1, FIRST_PROBE_PERIODS)


def swim_bound(config: Config, n: int) -> float:
    p = config.probe_interval
    _, hi = suspicion_min_max(config, n)
    return (first_probe_periods(n) + 1) * p + hi + dissemination_periods(config, n) * p + 2 * p


def heartbeat_t_fail(config: Config, n: int) -> float:
    """T_fail as the heartbeat detector uses it (configured, or derived by swimfd.core.heartbeat)."""
    if config.t_fail is not None:
        return config.t_fail
    return float(derive_t_fail(n, config.gossip_interval, config.gossip_fanout, config.p_mistake))


def heartbeat_bound(config: Config, n: int) -> float:
    g = gossip_rounds_to_all(n, config.gossip_fanout) * config.gossip_interval
    return g + heartbeat_t_fail(config, n) + config.gossip_interval


def hybrid_bound(config: Config, n: int) -> float:
    lo, _ = suspicion_min_max(config, n)
    return swim_bound(config, n) + stale_after(config, heartbeat_t_fail(config, n)) + lo


def detection_bound(config: Config, n: int) -> float:
    """Seconds within which every survivor reports member_failed for a crashed member."""
    if config.mode == "heartbeat":
        return heartbeat_bound(config, n)
    if config.mode == "hybrid":
        return hybrid_bound(config, n)
    return swim_bound(config, n)
