"""`python -m swimfd.sim.table`: the README's simulator table (`make sim-table`).

Runs `python -m swimfd simulate --json` once per (mode, n) cell, each in its
own process so one cell's memory cannot affect the next, and writes a
markdown table. A cell the simulator refuses (memory budget) is listed with
its reason rather than silently dropped.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from swimfd.core.config import MODES


def run_cell(mode: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "swimfd",
        "simulate",
        "--nodes",
        str(n),
        "--mode",
        mode,
        "--loss",
        str(args.loss),
        "--kill",
        str(args.kill),
        "--duration",
        str(args.duration),
        "--seed",
        str(args.seed),
        "--max-rss-gb",
        str(args.max_rss_gb),
        "--json",
    ]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.cell_timeout, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().removeprefix("simulate: "), "command": " ".join(cmd[1:])}
    result = json.loads(proc.stdout)
    result["command"] = "python " + " ".join(cmd[1:])
    result["wall_s"] = round(time.perf_counter() - started, 1)
    return result


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def table(cells: list[tuple[str, int, dict[str, Any]]], args: argparse.Namespace) -> str:
    lines = [
        "# Simulator: swim vs heartbeat vs hybrid",
        "",
        f"`make sim-table`: {args.kill} members crash at t = 10 s, {args.loss:.0%} message loss, "
        f"{args.duration:g} virtual seconds, seed {args.seed}, default config (memberlist LAN profile), "
        "one-way delay U(1 ms, 10 ms). Detection columns are seconds from the crash until the first / every "
        "live member reported `member_failed` (p50 / p95 / max over the crashed members); false positives "
        "count `member_failed` reports about live members; load is per member per second after t = 10 s, "
        "in real protobuf bytes. Converged: every live member lists exactly the live members at the end.",
        "",
        "| mode | n | first p50/p95/max (s) | all p50/p95/max (s) | detected by all | false positives "
        "| msgs/member/s | bytes/member/s | converged | wall (s) |",
        "|---|---:|---|---|---:|---:|---:|---:|---|---:|",
    ]
    notes = []
    for mode, n, r in cells:
        if "error" in r:
            lines.append(f"| {mode} | {n:,} | not run | | | | | | | |")
            notes.append(f"- {mode}, n = {n:,}: {r['error']}")
            continue
        f, a = r["detect_first_s"], r["detect_all_s"]
        lines.append(
            f"| {mode} | {n:,} | {_s(f['p50'])} / {_s(f['p95'])} / {_s(f['max'])} "
            f"| {_s(a['p50'])} / {_s(a['p95'])} / {_s(a['max'])} | {r['detected_by_all']}/{r['killed']} "
            f"| {r['false_positives']} | {r['msgs_per_node_s']:.2f} | {r['bytes_per_node_s']:,.0f} "
            f"| {'yes' if r['converged'] else 'no'} | {r['wall_s']:.0f} |"
        )
    if notes:
        lines += ["", "Cells not run:", "", *notes]
    lines += [
        "",
        "Each cell is `python -m swimfd simulate --nodes N --mode MODE "
        f"--loss {args.loss} --kill {args.kill} --duration {args.duration:g} --seed {args.seed} --json`.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m swimfd.sim.table", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="results/sim-table.md")
    p.add_argument("--nodes", default="100,1000,10000", help="comma-separated member counts")
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--loss", type=float, default=0.05)
    p.add_argument("--kill", type=int, default=10)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-rss-gb", type=float, default=8.0)
    p.add_argument("--cell-timeout", type=float, default=1800.0, help="wall seconds per cell")
    p.add_argument(
        "--plot",
        default="docs/sim-scaling.png",
        help="also draw detection time and bytes against n here (needs matplotlib, a dev dependency); '' for none",
    )
    p.add_argument(
        "--merge",
        nargs="+",
        metavar="JSON",
        help="no runs: render the table from earlier runs' .json files (cells in the order given)",
    )
    args = p.parse_args(argv)
    if args.merge:
        cells = []
        for path in args.merge:
            for cell in json.loads(Path(path).read_text()):
                cells.append((cell.pop("mode"), cell.pop("n"), cell))
        return _write(cells, args)
    sizes = [int(x) for x in args.nodes.split(",") if x]
    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in MODES:
            p.error(f"--modes: {m!r} is not one of {', '.join(MODES)}")
    cells = []
    for n in sizes:
        for mode in modes:
            print(f"sim-table: {mode} n={n} ...", file=sys.stderr, flush=True)
            try:
                r = run_cell(mode, n, args)
            except subprocess.TimeoutExpired:
                r = {"error": f"took longer than {args.cell_timeout:.0f} s of wall time (--cell-timeout)"}
            cells.append((mode, n, r))
            status = r["error"] if "error" in r else f"done in {r['wall_s']:.0f} s"
            print(f"sim-table: {mode} n={n}: {status}", file=sys.stderr)
    return _write(cells, args)


def _write(cells: list[tuple[str, int, dict[str, Any]]], args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table(cells, args))
    (out.with_suffix(".json")).write_text(json.dumps([{"mode": m, "n": n, **r} for m, n, r in cells], indent=1))
    print(f"wrote {out}", file=sys.stderr)
    if args.plot:
        plot(cells, Path(args.plot))
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def plot_series(cells: list[tuple[str, int, dict[str, Any]]]) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Per mode, (n, value) points for the plot: detection p95 (first / all members) and bytes/member/s."""
    series: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for mode, n, r in sorted(cells, key=lambda c: c[1]):
        if "error" in r:
            continue
        s = series.setdefault(mode, {"first_p95": [], "all_p95": [], "bytes": []})
        if r["detect_first_s"]["p95"] is not None:
            s["first_p95"].append((n, r["detect_first_s"]["p95"]))
        if r["detect_all_s"]["p95"] is not None:
            s["all_p95"].append((n, r["detect_all_s"]["p95"]))
        s["bytes"].append((n, r["bytes_per_node_s"]))
    return series


def plot(cells: list[tuple[str, int, dict[str, Any]]], path: Path) -> None:
    """Detection p95 and bytes per member per second against n, one line per mode (log n axis)."""
    import matplotlib  # a dev dependency: imported only when a plot is asked for

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = plot_series(cells)
    fig, (det, load) = plt.subplots(1, 2, figsize=(10, 4))
    for i, (mode, s) in enumerate(series.items()):
        color = f"C{i}"  # one colour per mode in both panels
        for key, style in (("first_p95", "--"), ("all_p95", "-")):
            if s[key]:
                xs, ys = zip(*s[key], strict=True)
                det.plot(
                    xs, ys, style, marker="o", label=f"{mode}, {'first' if key == 'first_p95' else 'every'} member"
                )
        if s["bytes"]:
            xs, ys = zip(*s["bytes"], strict=True)
            load.plot(xs, ys, color=color, marker="o", label=mode)
    det.set(xscale="log", xlabel="members (n)", ylabel="detection p95 (s)", title="Detection after a crash")
    load.set(xscale="log", yscale="log", xlabel="members (n)", ylabel="bytes / member / s", title="Load per member")
    det.legend(fontsize="small")
    load.legend(fontsize="small")
    for ax in (det, load):
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle("make sim-table: 10 crashes, 5% loss, seed 1")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
