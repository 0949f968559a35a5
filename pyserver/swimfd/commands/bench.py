"""`python -m swimfd bench`: swim, heartbeat and hybrid against hashicorp/memberlist on loopback.

    python -m swimfd bench --quick                      # N = 5, 10; 30 s under loss
    python -m swimfd bench                              # N = 5, 10, 20, 40; 180 s under loss
    python -m swimfd bench --simulate                   # plus the simulator at N = 100, 1000, 10000

Writes results/bench-<UTC timestamp>/ with results.csv, report.md, PNG plots
and each run's node logs, and prints that folder's name when it ends.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from tqdm import tqdm

from swimfd.bench import plots, report, simjoin
from swimfd.bench.scenarios import FULL_SIZES, QUICK_SIZES, SCENARIOS, SYSTEMS, RunSpec, plan
from swimfd.commands.config_file import load
from swimfd.core.config import Config, ConfigError

REPO = Path(__file__).resolve().parents[3]
DEFAULT_SIM_SIZES = (100, 1000, 10000)
NO_ELECTION = {"election": False}


def _csv(kind: type, what: str):
    def parse(text: str) -> list:
        try:
            items = [kind(x.strip()) for x in text.split(",") if x.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what}: {text!r} is not a comma-separated list") from None
        if not items:
            raise argparse.ArgumentTypeError(f"{what}: empty list")
        return items

    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help=f"N = {QUICK_SIZES}, 30 s under loss (unless overridden)")
    p.add_argument("--systems", type=_csv(str, "--systems"), default=list(SYSTEMS), help="default: all four")
    p.add_argument("--sizes", type=_csv(int, "--sizes"), default=None, help=f"cluster sizes, default {FULL_SIZES}")
    p.add_argument(
        "--scenarios", type=_csv(str, "--scenarios"), default=list(SCENARIOS), help=f"default {','.join(SCENARIOS)}"
    )
    p.add_argument("--loss-duration", type=float, default=None, help="seconds observed under loss (180; quick 30)")
    p.add_argument(
        "--detect-timeout", type=float, default=None, help="give up on a detection after this (default 2*Max+10)"
    )
    p.add_argument("--recover-timeout", type=float, default=60.0, help="pause: wait this long for the comeback (60)")
    p.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="crash, hang: single failures per run (at most (N-1)/2); short_pause: pauses per run (1)",
    )
    p.add_argument("--seed", type=int, default=1, help="picks victims and loss streams (same for every system)")
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="swimfd JSON config for the nodes (default: swimfd's defaults with the election off, like memberlist)",
    )
    p.add_argument(
        "--memberlist-stream-loss",
        action="store_true",
        help="under loss, also fail memberlist's TCP streams (push-pull, fallback ping) with P at each end",
    )
    p.add_argument(
        "--tls",
        choices=("off", "on", "both"),
        default="off",
        help="on: swimfd with mutual TLS and memberlist with its AES-GCM keyring (rows swim+tls, memberlist+keyring); "
        "both: every run secured and in plaintext, side by side (default off)",
    )
    p.add_argument("--simulate", action="store_true", help="add simulator rows for swimfd modes at --sim-sizes")
    p.add_argument("--sim-sizes", type=_csv(int, "--sim-sizes"), default=list(DEFAULT_SIM_SIZES))
    p.add_argument("--sim-timeout", type=float, default=1800.0, help="seconds per simulator run before giving up")
    p.add_argument("--out", type=Path, default=REPO / "results", help="parent of the bench-<timestamp> folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (one line per run instead)")


def _tool_version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except OSError:
        return "unavailable"


def parameters(args: argparse.Namespace, runs: list[RunSpec], swimfd_config: Config) -> list[str]:
    lines = [
        f"- command: `python -m swimfd bench {' '.join(shlex.quote(a) for a in args.argv)}`",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
        f"Python {platform.python_version()}, {_tool_version(['go', 'version'])}",
        f"- systems: {', '.join(args.systems)}; sizes: {args.sizes}; scenarios: {', '.join(args.scenarios)}; "
        f"seed {args.seed}",
        "- every member is its own process tree on 127.0.0.1 (swimfd: `python -m swimfd run` + its go-diss child; "
        "memberlist: bin/ml-node, one memberlist.Memberlist with DefaultLANConfig)",
        f"- crash: SIGKILL 1 member ({args.repeats} in turn with --repeats, at most (N-1)/2), wait until every "
        "survivor logs member_failed, settle 2 s, SIGKILL 30% of N at once (at least 1); detection observers = "
        "members never killed",
        f"- hang: SIGSTOP 1 member ({args.repeats} in turn) until every other logs member_failed, then SIGKILL it; "
        "detection samples only",
        f"- short_pause: SIGSTOP 1 member ({args.repeats} in turn) for half of Lifeguard's Min suspicion timeout, "
        "SIGCONT, wait Min; then watch Max more; every member_failed is a false positive",
        f"- pause: SIGSTOP 1 member until every other logs member_failed, hold {runs[0].hold_s if runs else 2} s more, "
        f"SIGCONT, wait up to {args.recover_timeout} s for member_alive/member_joined from every other",
        "- loss: drop P of messages on send and again on receive at every member (swimfd `--test-loss P`, "
        "ml-node `--loss P` on UDP packets; memberlist's TCP streams (push-pull, fallback ping) "
        + (
            "fail with P at each end too (--memberlist-stream-loss)"
            if args.memberlist_stream_loss
            else "are not dropped"
        )
        + f"), observed {args.loss_duration} s",
        "- warm-up before any fault: until every member has logged node_started 5 s ago and member_joined for every "
        "other, at most 15 + N/2 s (column converged says whether that happened)",
        "- detection timeout per wait: "
        + ", ".join(f"N={n}: {r.detect_timeout_s:.0f} s" for n, r in {r.n: r for r in runs}.items()),
        "- traffic: transport_stats (cumulative, every 5 s) sent messages and bytes, per member over its own first-"
        "to-last sample (crash/pause: whole run incl. start-up; loss: the observed window), mean over members",
        "- CPU share: (utime+stime)/wall of the member's process tree after warm-up, mean over members; "
        "peak RSS: sum of VmHWM over the tree, mean over members",
        "- percentiles: nearest rank over the faults of one run (crash: repeats + 30% of N samples; hang: repeats)",
        f"- swimfd config (`--config {args.config}`): `{dataclasses.asdict(swimfd_config)}`",
        "- memberlist: DefaultLANConfig (ProbeInterval 1 s, ProbeTimeout 500 ms, IndirectChecks 3, SuspicionMult 4, "
        "SuspicionMaxTimeoutMult 6, GossipNodes 3 every 200 ms, PushPullInterval 30 s), hashicorp/memberlist v0.7.0",
    ]
    if args.simulate:
        lines.append(
            f"- simulator: `python -m swimfd simulate --nodes N --mode M --kill 1 --fault-at {simjoin.FAULT_AT_S} "
            f"--duration <10 + 2*Max + 20> --seed {args.seed} --config {args.config} --json` at N = {args.sim_sizes}"
        )
    return lines


class Bar:
    """tqdm over estimated seconds; each run may advance up to its own estimate, the rest at its end."""

    def __init__(self, runs: list[RunSpec], enabled: bool) -> None:
        self.total = sum(r.estimate_s() for r in runs)
        self.bar = tqdm(
            total=round(self.total),
            unit="s",
            disable=not enabled,
            dynamic_ncols=True,
            bar_format="{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} est. s [{elapsed}<{remaining}]",
        )
        self.enabled = enabled
        self._run_start = 0.0
        self._budget = 0.0
        self._done = 0.0

    def begin(self, i: int, n: int, run: RunSpec) -> None:
        self._run_start = time.time()
        self._budget = run.estimate_s()
        self._done = 0.0
        self.bar.set_description(f"run {i}/{n}: {run.label}")
        if not self.enabled:
            print(f"run {i}/{n}: {run.label} ...", file=sys.stderr, flush=True)

    def _advance(self, step: float) -> None:
        step = min(round(step), self.bar.total - self.bar.n)  # estimates are rounded; never overshoot
        if step > 0:
            self.bar.update(step)
            self._done += step

    def tick(self, now: float) -> None:
        step = min(now - self._run_start, self._budget) - self._done
        if step >= 1:
            self._advance(step)

    def end(self) -> None:
        self._advance(self._budget - self._done)

    def close(self) -> None:
        self.bar.close()


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    args.argv = getattr(args, "argv", None) or sys.argv[2:]
    if args.sizes is None:
        args.sizes = list(QUICK_SIZES if args.quick else FULL_SIZES)
    if args.loss_duration is None:
        args.loss_duration = 30.0 if args.quick else 180.0
    try:
        swimfd_config = load(args.config) if args.config else Config()
        runs = plan(
            args.systems,
            args.sizes,
            args.scenarios,
            args.seed,
            args.loss_duration,
            detect_timeout_s=args.detect_timeout,
            recover_timeout_s=args.recover_timeout,
            repeats=args.repeats,
            security={"off": (False,), "on": (True,), "both": (False, True)}[args.tls],
        )
    except (ValueError, ConfigError) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    if "memberlist" in args.systems and not (REPO / "bin" / "ml-node").exists():
        print("bench: bin/ml-node is missing: run `make ml-node` (make bench builds it)", file=sys.stderr)
        return 2

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = args.out / f"bench-{stamp}"
    out_dir.mkdir(parents=True, exist_ok=False)
    if args.config is None:
        # memberlist elects no leader; keep swimfd's election traffic out of a like-for-like comparison.
        args.config = out_dir / "swimfd-config.json"
        args.config.write_text(json.dumps(NO_ELECTION) + "\n")
        swimfd_config = Config(**NO_ELECTION)
    from swimfd.bench.runner import run_one  # imports grpc-free modules only, but keep --help fast

    rows: list[dict] = []
    bar = Bar(runs, enabled=not args.no_progress)
    # Members run in their own sessions; turn SIGTERM/SIGHUP into the Ctrl-C path so they are always killed.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    interrupted = False
    try:
        for i, spec in enumerate(runs, 1):
            bar.begin(i, len(runs), spec)
            run_dir = out_dir / "runs" / f"{i:03d}-{spec.system_label}-n{spec.n}-{spec.scenario.name}"
            rows.append(run_one(spec, REPO, run_dir, bar.tick, args.config, args.memberlist_stream_loss))
            bar.end()
            report.write_csv(rows, out_dir / "results.csv")  # keep partial results if interrupted
    except KeyboardInterrupt:
        interrupted = True
        print("\nbench: interrupted; writing what ran so far", file=sys.stderr)
    finally:
        bar.close()
    if args.simulate and not interrupted:
        modes = [s for s in args.systems if s != "memberlist"]
        for n in args.sim_sizes:
            for mode in modes:
                print(f"simulator: {mode} N={n} ...", file=sys.stderr, flush=True)
                rows.append(simjoin.run_sim(mode, n, args.seed, REPO, args.sim_timeout, args.config))
    report.write_csv(rows, out_dir / "results.csv")
    pngs = plots.write_all(rows, out_dir)
    header = [
        f"# swimfd benchmark {stamp}",
        "",
        f"{len(rows)} runs; files: results.csv, " + ", ".join(p.name for p in pngs) + ", runs/<run>/node-*.log",
    ]
    (out_dir / "report.md").write_text(report.markdown(rows, header, parameters(args, runs, swimfd_config)))
    failed = sum(1 for r in rows if r.get("error"))
    print(f"bench: {len(rows)} runs ({failed} failed); results in {out_dir}")
    if interrupted:
        return 130
    return 1 if failed == len(rows) else 0
