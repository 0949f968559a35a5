"""Tombstone TTL: DEAD and LEFT members are forgotten tombstone_ttl after they became so."""

from __future__ import annotations

import pytest

from swimfd.core.config import Config, ConfigError
from swimfd.core.events import EventName
from swimfd.sim.engine import Simulator

TTL = 100.0


def first(sim: Simulator, name: EventName, observer: str, member: str) -> float | None:
    times = [e.at for o, e in sim.events if o == observer and e.name == name and e.member == member]
    return times[0] if times else None


@pytest.mark.parametrize("mode", ["swim", "hybrid"])
def test_a_failed_member_is_removed_exactly_tombstone_ttl_after_it_was_declared(mode: str) -> None:
    sim = Simulator(5, Config(mode=mode, election=False, tombstone_ttl=TTL), seed=3)
    sim.crash("2", at=5.0)
    sim.run(60.0)
    survivors = ["1", "3", "4", "5"]
    failed_at = {m: first(sim, EventName.MEMBER_FAILED, m, "2") for m in survivors}
    assert all(t is not None for t in failed_at.values()), failed_at
    assert all(sim.nodes[m].member("2") is not None for m in survivors)  # a tombstone until the TTL
    sim.run(max(failed_at.values()) + TTL)  # type: ignore[type-var]
    for m in survivors:
        assert first(sim, EventName.MEMBER_REMOVED, m, "2") == failed_at[m] + TTL
        assert sim.nodes[m].member("2") is None
    assert sim.result()["converged"]


def test_a_left_member_is_removed_exactly_tombstone_ttl_after_it_left() -> None:
    sim = Simulator(4, Config(mode="swim", election=False, tombstone_ttl=TTL), seed=4)
    sim.leave("4", at=5.0)
    sim.run(5.0 + TTL - 10.0)
    assert all(sim.nodes[m].member("4") is not None for m in ("1", "2", "3"))
    sim.run(5.0 + TTL + 10.0)
    for m in ("1", "2", "3"):
        left_at = first(sim, EventName.MEMBER_LEFT, m, "4")
        assert left_at is not None
        assert first(sim, EventName.MEMBER_REMOVED, m, "4") == left_at + TTL
        assert sim.nodes[m].member("4") is None
    assert sim.result()["false_positives"] == 0


def test_tombstone_ttl_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="tombstone_ttl"):
        Config(tombstone_ttl=0)
