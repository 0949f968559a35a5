"""The scenario schedule, identical for every system, and the plan of runs.

crash: SIGKILL one member; once every survivor reported it (or the timeout),
       SIGKILL 30% of the members at once.
pause: SIGSTOP one member until every other member reported it failed (so the
       pause outlasts the suspicion timeout, whatever the system), hold a little
       longer, SIGCONT, and wait for every member to see it alive again.
hang:  an unresponsive member: SIGSTOP one member (its host still accepts
       connections, nothing answers) and hold it until every other member
       reported it failed, then SIGKILL it (no recovery is measured: that is
       pause's job). Detection samples only, --repeats victims one after another.
short_pause: SIGSTOP one member for half the Lifeguard Min suspicion timeout
       (``short_pause_s``), SIGCONT, and watch for the Max suspicion timeout
       after; --repeats victims one after another. Nobody may declare it failed:
       every member_failed is a false positive.
loss10 / loss30: 10% / 30% loss injected on every link (each message dropped
       with P on send and again with P on receive, the same on both sides), no
       fault, for --loss-duration seconds; every member_failed is a false positive.

--repeats K (crash and hang): K single failures per run, each detected by every
survivor before the next, instead of one (at most ``single_failures``, so half
of the members stay up), so the p50 of a cell rests on more samples.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from swimfd.bench.cluster import MEMBERLIST, SWIMFD_MODES

SYSTEMS: tuple[str, ...] = (*SWIMFD_MODES, MEMBERLIST)
FULL_SIZES: tuple[int, ...] = (5, 10, 20, 40)
QUICK_SIZES: tuple[int, ...] = (5, 10)
CRASH_FRACTION = 0.3


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    kind: str  # crash | pause | hang | short_pause | loss
    loss: float = 0.0


SCENARIOS: dict[str, Scenario] = {
    "crash": Scenario("crash", "crash"),
    "pause": Scenario("pause", "pause"),
    "hang": Scenario("hang", "hang"),
    "short_pause": Scenario("short_pause", "short_pause"),
    "loss10": Scenario("loss10", "loss", 0.10),
    "loss30": Scenario("loss30", "loss", 0.30),
}


@dataclass(frozen=True, slots=True)
class RunSpec:
    system: str  # swim | heartbeat | hybrid | memberlist
    n: int
    scenario: Scenario
    seed: int
    warmup_s: float  # wait at most this long for every member to know every other
    detect_timeout_s: float  # give up waiting for detection after this long
    recover_timeout_s: float  # pause: give up waiting for the member to come back
    hold_s: float  # pause: stay stopped this long after everyone reported it failed
    loss_duration_s: float
    repeats: int = 1  # crash, hang: single failures per run; short_pause: short pauses per run
    secure: bool = False  # swimfd with mutual TLS, memberlist with its AES-GCM keyring

    @property
    def system_label(self) -> str:
        """The system as reports name it: secured runs are a system of their own (swim+tls, memberlist+keyring)."""
        if not self.secure:
            return self.system
        return f"{self.system}+keyring" if self.system == "memberlist" else f"{self.system}+tls"

    @property
    def label(self) -> str:
        return f"{self.system_label} n={self.n} {self.scenario.name}"

    def crash_count(self, live: int) -> int:
        """How many members the second crash kills: 30% of n, at least one, leaving at least one alive."""
        return max(1, min(live - 1, round(CRASH_FRACTION * self.n)))

    def single_failures(self) -> int:
        """crash, hang: members failed one at a time, ``repeats`` but at most (n - 1) // 2, at least one."""
        return max(1, min(self.repeats, (self.n - 1) // 2))

    def estimate_s(self) -> float:
        """A rough wall-clock budget for the progress bar (start-up + typical waits)."""
        start = 3.0 + 0.1 * self.n
        detect = min(self.detect_timeout_s, suspicion_max_s(self.n) / 2 + 5)
        if self.scenario.kind == "crash":
            return start + self.warmup_s / 2 + (self.single_failures() + 1) * (detect + 2)
        if self.scenario.kind == "hang":
            return start + self.warmup_s / 2 + self.single_failures() * (detect + 2)
        if self.scenario.kind == "short_pause":
            each = short_pause_s(self.n) + suspicion_min_s(self.n)
            return start + self.warmup_s / 2 + self.repeats * each + suspicion_max_s(self.n)
        if self.scenario.kind == "pause":
            return start + self.warmup_s / 2 + detect + self.hold_s + min(self.recover_timeout_s, 15)
        return start + self.warmup_s / 2 + self.loss_duration_s

    def params(self) -> dict[str, object]:
        d = asdict(self)
        d["scenario"] = self.scenario.name
        d["loss"] = self.scenario.loss
        return d


def suspicion_min_s(n: int, probe_interval: float = 1.0, mult: int = 4) -> float:
    """Lifeguard's Min suspicion timeout with memberlist's LAN defaults (protocols.md)."""
    return mult * max(1.0, math.log10(max(n, 1))) * probe_interval


def suspicion_max_s(n: int, probe_interval: float = 1.0, mult: int = 4, max_mult: int = 6) -> float:
    """Lifeguard's Max suspicion timeout with memberlist's LAN defaults (protocols.md)."""
    return max_mult * suspicion_min_s(n, probe_interval, mult)


def short_pause_s(n: int) -> float:
    """short_pause: how long a member stays stopped, half of Min, so no suspicion may ripen."""
    return suspicion_min_s(n) / 2


def default_detect_timeout(n: int) -> float:
    """Generous: twice the longest suspicion timeout plus a probe round trip, so only a broken run times out."""
    return 2 * suspicion_max_s(n) + 10


def plan(
    systems: list[str],
    sizes: list[int],
    scenarios: list[str],
    seed: int,
    loss_duration_s: float,
    detect_timeout_s: float | None = None,
    recover_timeout_s: float = 60.0,
    hold_s: float = 2.0,
    repeats: int = 1,
    security: tuple[bool, ...] = (False,),
) -> list[RunSpec]:
    """Every (size, scenario, system, security); systems side by side for each scenario so partial results
    compare. ``security`` (False: plaintext, True: secured) runs every system once per entry."""
    for s in systems:
        if s not in SYSTEMS:
            raise ValueError(f"unknown system {s!r}: choose from {', '.join(SYSTEMS)}")
    for s in scenarios:
        if s not in SCENARIOS:
            raise ValueError(f"unknown scenario {s!r}: choose from {', '.join(SCENARIOS)}")
    if repeats < 1:
        raise ValueError(f"repeats {repeats}: need at least 1")
    for n in sizes:
        if n < 3:
            raise ValueError(f"cluster size {n}: need at least 3 members (one crash must leave two observers)")
    runs: list[RunSpec] = []
    for n in sizes:
        for sc in scenarios:
            for system, secure in ((s, sec) for sec in security for s in systems):
                runs.append(
                    RunSpec(
                        system=system,
                        secure=secure,
                        n=n,
                        scenario=SCENARIOS[sc],
                        seed=seed,
                        warmup_s=15.0 + 0.5 * n,
                        detect_timeout_s=detect_timeout_s or default_detect_timeout(n),
                        recover_timeout_s=recover_timeout_s,
                        hold_s=hold_s,
                        loss_duration_s=loss_duration_s,
                        repeats=repeats,
                    )
                )
    return runs
