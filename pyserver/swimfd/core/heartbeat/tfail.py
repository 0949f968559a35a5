"""T_fail: how long a heartbeat counter may stay still before its member counts as failed.

``derive_t_fail`` turns the group's mistake budget ``p_mistake`` into a timeout through the
mean-field epidemic model in ``rounds_to_reach`` (van Renesse, Minsky, Hayden, Middleware 1998).
``bench/heartbeat_tfail_check.py`` checks the model against Monte Carlo push gossip.
"""

from __future__ import annotations

import math

_MAX_ROUNDS = 100_000  # rounds_to_reach gives up (returns this many rounds) beyond it


def derive_t_fail(n: int, gossip_interval: float, fanout: int, p_mistake: float) -> float:
    """T_fail such that, in any gossip round, some member wrongly declares some other failed with
    probability at most ``p_mistake`` (van Renesse, Minsky, Hayden, Middleware 1998: P_mistake is a
    property of the whole group, so T_fail grows with n).

    Union bound over the ``n (n - 1)`` ordered (observer, subject) pairs: each pair may miss a
    heartbeat increase for T_fail with probability at most ``p_mistake / (n (n - 1))``, and
    :func:`rounds_to_reach` gives the rounds that takes. A heartbeat increase takes up to one extra
    interval to start spreading (the subject gossips only at its next round), so

        T_fail = (rounds_to_reach(n, fanout, p_mistake / (n (n - 1))) + 1) * gossip_interval.

    Bounding each pair by ``p_mistake`` alone is not enough: at n = 2,000 with 5% loss the
    simulator saw a few pairs miss within a minute, and each wrong tombstone stops that member
    relaying the subject's heartbeat, so more misses follow (a cascade of false failures).
    Gossip with deterministic schedules (round robin, binary) spreads at least as fast, so the
    value is safe for them too. Message loss is not modelled: raise T_fail with ``config.t_fail``
    on very lossy networks.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not (gossip_interval > 0 and math.isfinite(gossip_interval)):
        raise ValueError(f"gossip_interval must be positive, got {gossip_interval}")
    if fanout < 1:
        raise ValueError(f"fanout must be >= 1, got {fanout}")
    if not 0 < p_mistake < 1:
        raise ValueError(f"p_mistake must be in (0, 1), got {p_mistake}")
    if n <= 2:
        # n = 1: nobody to miss anything; n = 2: the only other member is the target every round.
        return 2 * gossip_interval
    return (rounds_to_reach(n, fanout, p_mistake / (n * (n - 1))) + 1) * gossip_interval


def rounds_to_reach(n: int, fanout: int, p_miss: float) -> int:
    """Rounds after which one member has not heard one heartbeat increase with probability <= p_miss.

    Model: one member increases its counter; every round each member that has heard the increase
    sends its list to ``fanout`` distinct members chosen uniformly among the other ``n - 1``. Let
    ``p_r`` be the probability that a given member has not heard it after ``r`` rounds,
    ``p_0 = (n - 1) / n``. An uninformed member stays uninformed in a round only if none of the
    ``n (1 - p_r)`` informed members picks it, each independently with probability
    ``fanout / (n - 1)``:

        p_{r+1} = p_r * (1 - fanout / (n - 1)) ** (n * (1 - p_r))

    (the mean-field epidemic recurrence; the paper's "rounds to reach everyone ~ log n").
    Returns the first ``r`` with ``p_r <= p_miss`` (at most ``_MAX_ROUNDS``).
    """
    if n <= 1:
        return 0
    q = min(1.0, fanout / (n - 1))
    log_stay = math.log1p(-q) if q < 1 else -math.inf
    p = (n - 1) / n
    rounds = 0
    while p > p_miss and rounds < _MAX_ROUNDS:
        informed = n * (1.0 - p)
        p = p * math.exp(log_stay * informed) if log_stay != -math.inf else 0.0
        rounds += 1
    return rounds
