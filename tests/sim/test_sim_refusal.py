"""Refusal in the simulator (docs/detection.md): a crash on a live host refuses connections, a host
that is down, a paused process or a partition is silent. Real cores, fixed seeds, virtual seconds."""

from __future__ import annotations

from swimfd.core.config import Config
from swimfd.core.events import Source
from swimfd.core.suspicion import suspicion_min_max
from swimfd.sim.engine import Simulator
from swimfd.sim.network import Network

WARMUP = 10.0


def _first_failed(sim: Simulator, member: str) -> tuple[str, float] | None:
    found = [(e.at, o) for o, e in sim.events if e.name == "member_failed" and e.member == member]
    return (min(found)[1], min(found)[0]) if found else None


def _gap(sim: Simulator, observer: str, member: str, failed_at: float) -> float:
    """From the evidence of the observer's suspicion (its first failed probe, when a recheck
    confirmed it: the event's failed_for_s) to its member_failed."""
    suspected = [
        e.at - float(e.extra.get("failed_for_s", 0.0))
        for o, e in sim.events
        if o == observer and e.member == member and e.name == "member_suspected"
    ]
    return failed_at - max(t for t in suspected if t <= failed_at)


def _wrong(sim: Simulator) -> list[tuple[str, str]]:
    return [(o, e.member) for o, e in sim.events if e.name == "member_failed" and sim.truth.alive_at(e.member, e.at)]


def test_a_refusing_crash_is_confirmed_a_grace_after_the_suspicion_and_a_silent_one_is_not() -> None:
    cfg = Config(election=False)
    gaps = {}
    for refuse in (True, False):
        sim = Simulator(30, cfg, seed=5)
        sim.crash("9", at=WARMUP, refuse=refuse)
        sim.run(WARMUP + 40.0)
        first = _first_failed(sim, "9")
        assert first is not None
        gaps[refuse] = _gap(sim, first[0], "9", first[1])
        assert (sim.refused > 0) == refuse
        assert _wrong(sim) == []
    assert gaps[True] <= cfg.refusal_grace_s + 0.05
    assert gaps[False] >= suspicion_min_max(cfg, 30)[0] - 1e-9  # the Min itself, up to float rounding


def test_crash_refuses_by_default_and_crash_refuses_false_makes_every_crash_silent() -> None:
    cfg = Config(election=False)
    sim = Simulator(10, cfg, seed=1, crash_refuses=False)
    sim.crash("3", at=WARMUP)
    sim.run(WARMUP + 30.0)
    assert sim.refused == 0 and sim.result()["messages"]["refused"] == 0


def test_pauses_and_a_partition_are_silence_and_never_confirmed_fast() -> None:
    """Members paused for 0.75 x Min at 5% loss are never declared failed, and a partition gives no
    refusal: both are silent, so only the Lifeguard path applies, whose floor is Min."""
    cfg = Config(election=False)
    n = 40
    lo, _ = suspicion_min_max(cfg, n)
    sim = Simulator(n, cfg, seed=8, network=Network(loss=0.05, seed=8), dissemination=True)
    for m in ("3", "14", "25"):
        sim.pause(m, at=WARMUP, duration=0.75 * lo)
    sim.partition([["30", "31"]], at=WARMUP + 10.0, heal_at=WARMUP + 30.0)
    sim.run(WARMUP + 60.0)
    assert sim.refused == 0
    assert [w for w in _wrong(sim) if w[1] in ("3", "14", "25")] == []
    # ... the sides declared each other failed, each on its own evidence only after at least Min.
    local = [(o, e.member, e.at) for o, e in sim.events if e.name == "member_failed" and e.source == Source.LOCAL]
    assert local
    assert all(_gap(sim, o, m, at) >= lo for o, m, at in local)


def _alive_spread(broadcast: bool) -> tuple[float, int]:
    """A member paused for 0.75 x Min at 5% loss with go-diss: (seconds from the first member_alive
    about its first refutation to the last, members that suspected it before)."""
    cfg = Config(election=False, broadcast_refutations=broadcast)
    lo, _ = suspicion_min_max(cfg, 40)
    sim = Simulator(40, cfg, seed=4, network=Network(loss=0.05, seed=4), dissemination=True)
    sim.pause("7", at=WARMUP, duration=0.75 * lo)
    sim.run(WARMUP + 30.0)
    assert _wrong(sim) == []
    # The first accusation (incarnation 0) and its refutation (incarnation 1); probes that were in
    # flight during the pause may start later cycles, each refuted the same way.
    suspecters = {o for o, e in sim.events if e.member == "7" and e.name == "member_suspected" and e.incarnation == 0}
    revived = {o: e.at for o, e in sim.events if e.member == "7" and e.name == "member_alive" and e.incarnation == 1}
    assert suspecters and revived
    if broadcast:
        assert suspecters <= set(revived)  # every accuser got the refutation itself
    return max(revived.values()) - min(revived.values()), len(suspecters)


def test_a_broadcast_refutation_reaches_every_accuser_within_one_notice_delay() -> None:
    spread, accusers = _alive_spread(broadcast=True)
    assert accusers > 1
    assert spread <= 0.05  # one go-diss notice: a 1-10 ms delay, not gossip rounds
    slow, _ = _alive_spread(broadcast=False)
    assert slow > spread


def _silent_crash_first_p50(alerts: bool, seed: int) -> float:
    cfg = Config(election=False, broadcast_suspicions=alerts)
    sim = Simulator(10, cfg, seed=seed, network=Network(loss=0.05, seed=seed), dissemination=True, crash_refuses=False)
    for m in ("2", "5", "8"):
        sim.crash(m, at=WARMUP)
    sim.run(WARMUP + 60.0)
    r = sim.result()
    assert r["detected_by_all"] == 3 and r["false_positives"] == 0
    return r["detect_first_s"]["p50"]


def test_alerted_observers_bring_a_silent_crash_to_the_minimum_timeout_sooner() -> None:
    """n = 10, Min 4 s: with SUSPECTED alerts the observers' own failed probes confirm at once.
    Three crashes per run are few, so the medians of four seeded runs are summed."""
    seeds = range(1, 5)
    with_alerts = sum(_silent_crash_first_p50(True, s) for s in seeds)
    without = sum(_silent_crash_first_p50(False, s) for s in seeds)
    assert with_alerts < without
