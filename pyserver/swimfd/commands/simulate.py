"""`python -m swimfd simulate`: run one seeded scenario in the simulator.

    python -m swimfd simulate --nodes 1000 --mode hybrid --loss 0.05 --kill 10 --seed 1 --json

Timeline: members start within the first probe interval; at --fault-at
(default 10 s, after warm-up) --kill members crash and --pause members stop
for the given time; --partition cuts a random fraction of the members off
from the rest between two times. The run ends at --duration. Load figures
count from --fault-at, so start-up traffic does not inflate them.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import sys
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any

from swimfd.commands.config_file import load
from swimfd.core.config import MODES, Config, ConfigError
from swimfd.sim.engine import PausedInbound, SimulationError, Simulator, member_record
from swimfd.sim.network import Network, NetworkError

# Views of more members than this are checked on a seeded sample (each view is O(n) to build).
DEFAULT_CONVERGENCE_SAMPLE = 2000


class UsageError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class PartitionSpec:
    fraction: float
    start: float
    heal: float | None


@dataclass(frozen=True, slots=True)
class PauseSpec:
    count: int
    seconds: float


def _number(text: str, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise UsageError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(v):
        raise UsageError(f"{what}: {text!r} is not a finite number")
    return v


def parse_partition(text: str) -> PartitionSpec:
    """FRACTION:START[:HEAL], e.g. 0.3:20:50 cuts 30% of the members off from t=20 s to t=50 s."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise UsageError(f"--partition: expected FRACTION:START[:HEAL], got {text!r}")
    fraction = _number(parts[0], "--partition FRACTION")
    start = _number(parts[1], "--partition START")
    heal = _number(parts[2], "--partition HEAL") if len(parts) == 3 and parts[2] else None
    if not 0 < fraction < 1:
        raise UsageError(f"--partition: FRACTION must be between 0 and 1 (exclusive), got {fraction}")
    if start < 0:
        raise UsageError(f"--partition: START must be >= 0, got {start}")
    if heal is not None and heal <= start:
        raise UsageError(f"--partition: HEAL ({heal}) must be after START ({start})")
    return PartitionSpec(fraction, start, heal)


def parse_pause(text: str) -> PauseSpec:
    """K:SECONDS, e.g. 2:5 pauses 2 members for 5 s at --fault-at."""
    parts = text.split(":")
    if len(parts) != 2:
        raise UsageError(f"--pause: expected K:SECONDS, got {text!r}")
    try:
        count = int(parts[0])
    except ValueError:
        raise UsageError(f"--pause: K must be an integer, got {parts[0]!r}") from None
    seconds = _number(parts[1], "--pause SECONDS")
    if count < 1 or seconds <= 0:
        raise UsageError(f"--pause: need K >= 1 and SECONDS > 0, got {text!r}")
    return PauseSpec(count, seconds)


def parse_delay(text: str) -> tuple[float, float]:
    parts = text.split(":")
    if len(parts) != 2:
        raise UsageError(f"--delay: expected MIN:MAX in seconds, got {text!r}")
    lo, hi = _number(parts[0], "--delay MIN"), _number(parts[1], "--delay MAX")
    if not 0 <= lo <= hi:
        raise UsageError(f"--delay: need 0 <= MIN <= MAX, got {text!r}")
    return lo, hi


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nodes", type=int, required=True, help="number of members (>= 2)")
    p.add_argument("--mode", choices=MODES, default="swim", help="failure detector (default swim)")
    p.add_argument("--loss", type=float, default=0.0, help="probability each message is lost (default 0)")
    p.add_argument(
        "--delay", default="0.001:0.010", help="one-way delay MIN:MAX seconds, uniform (default %(default)s)"
    )
    p.add_argument("--kill", type=int, default=0, help="members that crash at --fault-at")
    p.add_argument(
        "--crash-silent",
        action="store_true",
        help="killed members' hosts go down too: silence instead of refused connections",
    )
    p.add_argument("--pause", default=None, help="K:SECONDS: K other members stop for SECONDS at --fault-at")
    p.add_argument("--partition", default=None, help="FRACTION:START[:HEAL]: cut a random FRACTION off, heal later")
    p.add_argument("--fault-at", type=float, default=10.0, help="virtual time of kills and pauses (default 10)")
    p.add_argument("--duration", type=float, default=60.0, help="virtual seconds to run in total (default 60)")
    p.add_argument("--seed", type=int, default=1, help="seed for everything random (default 1)")
    p.add_argument("--config", default=None, help="JSON config file (--mode overrides its mode)")
    p.add_argument(
        "--election",
        choices=("on", "off"),
        default=None,
        help="run the bully election too (default: the config file's setting, else off)",
    )
    p.add_argument(
        "--paused-inbound",
        choices=("drop", "queue"),
        default="drop",
        help="messages to a paused member: lost (default) or delivered on resume",
    )
    p.add_argument(
        "--convergence-sample",
        type=int,
        default=DEFAULT_CONVERGENCE_SAMPLE,
        help="check the views of at most this many live members (default %(default)s; 0 = all)",
    )
    p.add_argument(
        "--max-rss-gb", type=float, default=12.0, help="abort cleanly if the simulator grows beyond this (default 12)"
    )
    p.add_argument(
        "--dissemination",
        action="store_true",
        help="model go-diss: local failures and leaves are broadcast as notices to every member",
    )
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


@dataclass(frozen=True, slots=True)
class Scenario:
    config: Config
    nodes: int
    loss: float
    delay: tuple[float, float]
    kill: int
    pause: PauseSpec | None
    partition: PartitionSpec | None
    fault_at: float
    duration: float
    seed: int
    paused_inbound: PausedInbound
    convergence_sample: int | None
    max_rss_bytes: int
    dissemination: bool = False
    crash_silent: bool = False


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    if args.nodes < 2:
        raise UsageError(f"--nodes: need at least 2 members, got {args.nodes}")
    if not (math.isfinite(args.loss) and 0 <= args.loss < 1):
        raise UsageError(f"--loss: must be in [0, 1), got {args.loss}")
    if not (math.isfinite(args.duration) and args.duration > 0):
        raise UsageError(f"--duration: must be a positive number of seconds, got {args.duration}")
    if not (math.isfinite(args.fault_at) and 0 <= args.fault_at < args.duration):
        raise UsageError(f"--fault-at: must be in [0, --duration), got {args.fault_at}")
    if args.kill < 0:
        raise UsageError(f"--kill: must be >= 0, got {args.kill}")
    pause = parse_pause(args.pause) if args.pause else None
    paused = pause.count if pause else 0
    if args.kill + paused > args.nodes - 1:
        raise UsageError(f"--kill {args.kill} and --pause {paused} leave no live member out of {args.nodes}")
    partition = parse_partition(args.partition) if args.partition else None
    if partition is not None and partition.start >= args.duration:
        raise UsageError(f"--partition: START ({partition.start}) is after --duration ({args.duration})")
    if args.convergence_sample < 0:
        raise UsageError(f"--convergence-sample: must be >= 0, got {args.convergence_sample}")
    if not args.max_rss_gb > 0:
        raise UsageError(f"--max-rss-gb: must be positive, got {args.max_rss_gb}")
    overrides: dict[str, Any] = {"mode": args.mode}
    if args.election is not None:
        overrides["election"] = args.election == "on"
    config = load(args.config, **overrides) if args.config else Config(**{"election": False, **overrides})
    return Scenario(
        config=config,
        nodes=args.nodes,
        loss=args.loss,
        delay=parse_delay(args.delay),
        kill=args.kill,
        pause=pause,
        partition=partition,
        fault_at=args.fault_at,
        duration=args.duration,
        seed=args.seed,
        paused_inbound=args.paused_inbound,
        convergence_sample=args.convergence_sample or None,
        max_rss_bytes=int(args.max_rss_gb * 2**30),
        dissemination=args.dissemination,
        crash_silent=args.crash_silent,
    )


class MemoryBudgetExceeded(RuntimeError):
    pass


def _rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


@dataclass(frozen=True, slots=True)
class Preflight:
    bytes_per_member: float  # one core's state after bootstrapping the full list
    bootstrap_s_per_member: float

    def total_bytes(self, n: int) -> float:
        return n * self.bytes_per_member

    def bootstrap_s(self, n: int) -> float:
        return n * self.bootstrap_s_per_member


def preflight(config: Config, n: int, sample: int = 2) -> Preflight:
    """Bootstrap a few cores with the full n-member list and measure them.

    Every member keeps a view of all n; cores that share one immutable view of
    the static list (Node.bootstrap_shared) keep only their own changes and an
    O(n) probe order. Measuring two cores predicts memory and start-up time
    before the real run can exhaust the shared machine."""
    from swimfd.core.membership import SharedView
    from swimfd.core.node import Node

    members = [member_record(str(k), k) for k in range(1, n + 1)]
    view = SharedView(members, 0.0)

    def boot(k: int) -> Node:
        node = Node(config, members[k], random.Random(k), 0.0)
        node.bootstrap_shared(view, 0.0)
        return node

    started = time.perf_counter()
    for k in range(sample):
        boot(k)
    seconds = (time.perf_counter() - started) / sample
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        keep = [boot(k) for k in range(sample)]
        used = (tracemalloc.get_traced_memory()[0] - base) / len(keep)
    finally:
        tracemalloc.stop()
    return Preflight(bytes_per_member=used, bootstrap_s_per_member=seconds)


def build(sc: Scenario) -> tuple[Simulator, dict[str, list[str]]]:
    """The simulator with the scenario's faults scheduled, and who got which fault."""
    net = Network(loss=sc.loss, delay=sc.delay, seed=sc.seed)
    sim = Simulator(
        sc.nodes,
        sc.config,
        seed=sc.seed,
        network=net,
        paused_inbound=sc.paused_inbound,
        warmup=sc.fault_at,
        dissemination=sc.dissemination,
        crash_refuses=not sc.crash_silent,
    )
    pick = random.Random(f"swimfd-scenario-{sc.seed}")
    chosen = pick.sample(sim.ids, sc.kill + (sc.pause.count if sc.pause else 0))
    killed, paused = chosen[: sc.kill], chosen[sc.kill :]
    for m in killed:
        sim.crash(m, at=sc.fault_at)
    for m in paused:
        assert sc.pause is not None
        sim.pause(m, at=sc.fault_at, duration=sc.pause.seconds)
    cut: list[str] = []
    if sc.partition is not None:
        size = min(sc.nodes - 1, max(1, round(sc.partition.fraction * sc.nodes)))
        cut = pick.sample(sim.ids, size)
        sim.partition([cut], at=sc.partition.start, heal_at=sc.partition.heal)
    return sim, {"killed": killed, "paused": paused, "partitioned": cut}


def run_scenario(sc: Scenario) -> dict[str, Any]:
    started = time.perf_counter()
    pre = preflight(sc.config, sc.nodes)
    if pre.total_bytes(sc.nodes) > sc.max_rss_bytes:
        raise MemoryBudgetExceeded(
            f"{sc.nodes} members would need about {pre.total_bytes(sc.nodes) / 2**30:.1f} GiB "
            f"({pre.bytes_per_member / 2**20:.2f} MiB per member, measured on a bootstrapped core) "
            f"and about {pre.bootstrap_s(sc.nodes) / 60:.0f} min just to bootstrap; "
            f"the budget is {sc.max_rss_bytes / 2**30:.2f} GiB (--max-rss-gb)"
        )
    sim, faults = build(sc)
    # Run in slices so a run that would exhaust the shared machine stops with a clear error instead;
    # fine slices during start-up, when every member builds its view.
    startup = 1.5 * sc.config.probe_interval
    t = 0.0
    while t < sc.duration:
        t = min(sc.duration, t + (0.01 if t < startup else 1.0))
        sim.run(t)
        if _rss_bytes() > sc.max_rss_bytes:
            raise MemoryBudgetExceeded(
                f"simulator memory passed {sc.max_rss_bytes / 2**30:.2f} GiB at virtual t={t:.0f}s "
                f"with {sc.nodes} members; "
                "use fewer --nodes or raise --max-rss-gb"
            )
    result = sim.result(convergence_sample=sc.convergence_sample)
    wall = time.perf_counter() - started
    result["params"] = {
        "nodes": sc.nodes,
        "mode": sc.config.mode,
        "loss": sc.loss,
        "delay_s": list(sc.delay),
        "kill": sc.kill,
        "pause": {"count": sc.pause.count, "seconds": sc.pause.seconds} if sc.pause else None,
        "partition": (
            {"fraction": sc.partition.fraction, "start": sc.partition.start, "heal": sc.partition.heal}
            if sc.partition
            else None
        ),
        "fault_at": sc.fault_at,
        "duration": sc.duration,
        "seed": sc.seed,
        "election": sc.config.election,
        "paused_inbound": sc.paused_inbound,
        "dissemination": sc.dissemination,
        "crash_silent": sc.crash_silent,
    }
    result["faults"] = {k: len(v) for k, v in faults.items()}
    result["wall_s"] = round(wall, 2)
    result["preflight"] = {
        "mib_per_member": round(pre.bytes_per_member / 2**20, 3),
        "bootstrap_ms_per_member": round(pre.bootstrap_s_per_member * 1000, 2),
    }
    result["peak_rss_mib"] = round(_rss_bytes() / 2**20)
    return result


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def summary(r: dict[str, Any]) -> str:
    p = r["params"]
    lines = [
        f"swimfd simulation: {p['nodes']} members, mode {p['mode']}, loss {p['loss']:.0%}, seed {p['seed']}, "
        f"{p['duration']:g} virtual s in {r['wall_s']:.1f} s wall"
        + (", with go-diss notices" if p["dissemination"] else ""),
    ]
    faults = r["faults"]
    lines.append(
        f"faults at t={p['fault_at']:g}s: {faults['killed']} killed"
        + (" (hosts down: silent)" if p.get("crash_silent") else "")
        + f", {faults['paused']} paused"
        + (f" for {p['pause']['seconds']:g}s" if p["pause"] else "")
        + (
            f"; partition of {faults['partitioned']} members from t={p['partition']['start']:g}s"
            + (f" to {p['partition']['heal']:g}s" if p["partition"]["heal"] is not None else " (never heals)")
            if p["partition"]
            else ""
        )
    )
    if r["killed"]:
        f, a = r["detect_first_s"], r["detect_all_s"]
        lines.append(
            f"detection, first member (s): p50 {_fmt(f['p50'])}  p95 {_fmt(f['p95'])}  max {_fmt(f['max'])}"
            f"  ({r['detected_by_some']}/{r['killed']} detected)"
        )
        lines.append(
            f"detection, every member (s): p50 {_fmt(a['p50'])}  p95 {_fmt(a['p95'])}  max {_fmt(a['max'])}"
            f"  ({r['detected_by_all']}/{r['killed']} detected by all)"
        )
    lines.append(f"false positives: {r['false_positives']} reports about {r['false_positive_members']} live members")
    lines.append(f"load per member: {r['msgs_per_node_s']:.2f} msgs/s, {r['bytes_per_node_s']:.0f} bytes/s")
    va = r["view_agreement"]
    lines.append(
        f"converged: {'yes' if r['converged'] else 'no'} ({va['agreeing']}/{va['checked']} checked views agree"
        f"{', and match the live members' if va['matches_truth'] else ', not the live members'})"
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        sc = scenario_from_args(args)
        result = run_scenario(sc)
    except (UsageError, ConfigError, NetworkError, SimulationError) as e:
        print(f"simulate: {e}", file=sys.stderr)
        return 2
    except MemoryBudgetExceeded as e:
        print(f"simulate: {e}", file=sys.stderr)
        return 3
    print(json.dumps(result, sort_keys=True) if args.json else summary(result))
    return 0
