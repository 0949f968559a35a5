"""The election on real protocol cores in the deterministic simulator (swimfd.sim.engine), fixed seeds."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from feigning_node import FeigningNode

from swimfd.core.bounds import detection_bound
from swimfd.core.config import Config
from swimfd.core.events import EventName
from swimfd.sim.engine import Simulator

N = 20
CFG = Config()  # memberlist LAN profile; election_timeout 1 s, leader_wait_timeout 3 s
MAX_DELAY = 0.010  # Network's default one-way delay is U(1 ms, 10 ms)


def takeover_bound(cfg: Config, n: int) -> float:
    """Seconds after the leader crashes by which every survivor believes in its successor (docs/election.md).

    The successor S (highest survivor) starts its election by whichever comes first:
    * its detector: every survivor reports member_failed within detection_bound; with nobody above it left
      in its view, S claims at once;
    * its own leader probe: sent within leader_probe_max, unanswered after election_timeout; S then waits
      one election_timeout of silence from the crashed leader, still in its view, and claims.
    Followers accept the claim on arrival; S believes it after one objection-free election_timeout.
    Each step adds at most a one-way delay or a reply round trip.
    """
    via_detector = detection_bound(cfg, n)
    via_probe = cfg.leader_probe_max + 2 * cfg.election_timeout
    return min(via_detector, via_probe) + cfg.election_timeout + 4 * MAX_DELAY


def beliefs(sim: Simulator, members: Sequence[str]) -> dict[str, tuple[str, int] | None]:
    out: dict[str, tuple[str, int] | None] = {}
    for m in members:
        info = sim.nodes[m].leader()
        out[m] = None if info is None else (info.leader.id, int(info.term))
    return out


class LeadershipWatch:
    """Samples every member's belief every `step` seconds: records any term that two members that are
    running (not paused, crashed or feigning) both believe they lead, and any member whose term went down."""

    def __init__(self, sim: Simulator, until: float, step: float = 0.05) -> None:
        self.sim = sim
        self.shared_terms: list[tuple[float, int, list[str]]] = []
        self.term_went_down: list[tuple[float, str]] = []
        self._terms: dict[str, int] = {}
        t = step
        while t < until:
            sim.at(t, self.sample)
            t += step

    def sample(self, now: float) -> None:
        by_term: dict[int, list[str]] = {}
        for m in self.sim.ids:
            node = self.sim.nodes[m]
            if self.sim.status(m) != "running" or getattr(node, "down", False):
                continue
            info = node.leader()
            if info is None:
                continue
            if int(info.term) < self._terms.get(m, 0):
                self.term_went_down.append((now, m))
            self._terms[m] = int(info.term)
            if info.leader.id == m:
                by_term.setdefault(int(info.term), []).append(m)
        self.shared_terms.extend((now, t, who) for t, who in by_term.items() if len(who) > 1)


def settle_time(sim: Simulator, members: Sequence[str], after: float) -> float:
    """When the last of `members` emitted its final leader_elected after `after`."""
    last = {}
    for observer, ev in sim.events:
        if ev.name is EventName.LEADER_ELECTED and ev.at > after and observer in members:
            last[observer] = ev.at
    assert set(last) == set(members), f"no leader_elected after {after} at {set(members) - set(last)}"
    return max(last.values())


@pytest.mark.parametrize("seed", [1, 2])
def test_startup_elects_exactly_one_leader_the_highest(seed: int) -> None:
    sim = Simulator(N, CFG, seed=seed)
    watch = LeadershipWatch(sim, until=30.0)
    # Members start within one probe interval (start_stagger); "20" claims on start and its claim is believed
    # one election_timeout later; one contested round (a lower member that started alone and claimed first)
    # costs one more election_timeout.
    bound = CFG.probe_interval + 2 * CFG.election_timeout + 4 * MAX_DELAY
    sim.run(bound)
    [(leader, term)] = set(beliefs(sim, sim.ids).values())
    assert leader == "20"
    sim.run(30.0)
    assert set(beliefs(sim, sim.ids).values()) == {("20", term)}  # stable: no spurious elections
    assert [e for _, e in sim.events if e.name is EventName.ELECTION_STARTED and e.at > bound] == []
    assert watch.shared_terms == [] and watch.term_went_down == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_killed_leader_is_replaced_by_the_next_highest_within_the_bound(seed: int) -> None:
    sim = Simulator(N, CFG, seed=seed)
    watch = LeadershipWatch(sim, until=80.0)
    sim.run(10.0)
    [(_, term)] = set(beliefs(sim, sim.ids).values())
    sim.crash("20", 10.0)
    bound = 10.0 + takeover_bound(CFG, N)
    sim.run(bound)
    survivors = [m for m in sim.ids if m != "20"]
    assert set(beliefs(sim, survivors).values()) == {("19", term + 1)}
    assert settle_time(sim, survivors, after=10.0) <= bound
    sim.run(80.0)
    assert set(beliefs(sim, survivors).values()) == {("19", term + 1)}
    assert watch.shared_terms == [] and watch.term_went_down == []


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_concurrent_elections_after_losing_the_top_two_end_with_one_leader_and_one_term(seed: int) -> None:
    sim = Simulator(N, CFG, seed=seed)
    watch = LeadershipWatch(sim, until=80.0)
    sim.run(10.0)
    sim.crash("20", 10.0)
    sim.crash("19", 10.0)
    bound = 10.0 + takeover_bound(CFG, N)
    sim.run(bound)
    survivors = [m for m in sim.ids if m not in ("19", "20")]
    starters = {o for o, e in sim.events if e.name is EventName.ELECTION_STARTED and e.at > 10.0}
    assert len(starters) >= 2  # several members ran elections at overlapping times
    values = set(beliefs(sim, survivors).values())
    assert len(values) == 1
    [(leader, _)] = values
    assert leader == "18"
    assert watch.shared_terms == [] and watch.term_went_down == []


def test_old_leader_coming_back_takes_over_with_a_higher_term() -> None:
    sim = Simulator(N, CFG, seed=7)
    watch = LeadershipWatch(sim, until=90.0)
    sim.run(10.0)
    [(_, term)] = set(beliefs(sim, sim.ids).values())
    away = detection_bound(CFG, N) + 5.0  # long enough for everyone to declare it failed
    sim.pause("20", 10.0, away)
    sim.run(10.0 + away)
    others = [m for m in sim.ids if m != "20"]
    assert set(beliefs(sim, others).values()) == {("19", term + 1)}
    sim.run(90.0)
    [(leader, new_term)] = set(beliefs(sim, sim.ids).values())
    assert leader == "20" and new_term > term + 1
    assert watch.shared_terms == [] and watch.term_went_down == []


@pytest.mark.parametrize("seed", [1, 2])
def test_members_feigning_failure_all_the_time_never_share_a_believed_term(seed: int) -> None:
    until = 120.0
    sim = Simulator(
        N,
        CFG,
        seed=seed,
        node_factory=lambda c, me, rng, now: FeigningNode(c, me, rng, now, until=until),
    )
    watch = LeadershipWatch(sim, until=until + 40.0)
    sim.run(until + 40.0)
    assert sum(sim.nodes[m].recoveries for m in sim.ids) > 200  # the chaos really happened
    assert watch.shared_terms == []
    assert watch.term_went_down == []
    [(leader, _)] = set(beliefs(sim, sim.ids).values())
    assert leader == "20"


@pytest.mark.parametrize("mode", ["heartbeat", "hybrid"])
def test_takeover_bound_holds_in_the_other_detector_modes(mode: str) -> None:
    cfg = Config(mode=mode)
    sim = Simulator(N, cfg, seed=1)
    sim.run(10.0)
    [(leader, term)] = set(beliefs(sim, sim.ids).values())
    assert leader == "20"
    sim.crash("20", 10.0)
    bound = 10.0 + takeover_bound(cfg, N)
    sim.run(bound)
    survivors = [m for m in sim.ids if m != "20"]
    assert set(beliefs(sim, survivors).values()) == {("19", term + 1)}
    assert settle_time(sim, survivors, after=10.0) <= bound
