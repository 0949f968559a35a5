"""PNG plots of a bench run (matplotlib, headless Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

MODES = ("swim", "heartbeat", "hybrid")
MEMBERLIST = "memberlist"
COLORS = {"swim": "tab:blue", "heartbeat": "tab:orange", "hybrid": "tab:green", MEMBERLIST: "black"}


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _series(rows: Sequence[dict], system: str, source: str, scenario: str, field: str) -> tuple[list, list]:
    pts = sorted(
        (r["n"], _num(r.get(field)))
        for r in rows
        if r["system"] == system and r["source"] == source and r["scenario"] == scenario
    )
    pts = [(n, v) for n, v in pts if v is not None]
    return [p[0] for p in pts], [p[1] for p in pts]


def _size_ticks(ax, rows: Sequence[dict]) -> None:
    """Label the log x axis with the sizes actually run, not just powers of ten."""
    sizes = sorted({r["n"] for r in rows if isinstance(r.get("n"), int)})
    if sizes:
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.minorticks_off()


def _lines(ax, rows: Sequence[dict], scenario: str, field: str, sim: bool) -> bool:
    _size_ticks(ax, [r for r in rows if r["scenario"] == scenario])
    drew = False
    for system in (*MODES, MEMBERLIST):
        xs, ys = _series(rows, system, "real", scenario, field)
        if xs:
            style = {"lw": 2.5, "ls": "-", "marker": "D"} if system == MEMBERLIST else {"marker": "o"}
            ax.plot(xs, ys, color=COLORS[system], label=f"{system} (real)", **style)
            drew = True
        if sim and system in MODES:
            xs, ys = _series(rows, system, "simulator", scenario, field)
            if xs:
                ax.plot(xs, ys, color=COLORS[system], ls="--", marker="s", label=f"{system} (simulator)")
                drew = True
    return drew


def detection_vs_n(rows: Sequence[dict], path: Path) -> bool:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    drew = False
    for ax, field, title in (
        (axes[0], "detect_first_p50_s", "until the first member reports it (p50)"),
        (axes[1], "detect_all_p50_s", "until every live member reports it (p50)"),
    ):
        ax.set_xscale("log")
        drew |= _lines(ax, rows, "crash", field, sim=True)
        ax.set_xlabel("members N")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("seconds after SIGKILL")
    if drew:
        axes[0].legend(fontsize=8)
    fig.suptitle("Crash detection latency vs N (memberlist: black line)")
    return _save(fig, path, drew)


def bytes_vs_n(rows: Sequence[dict], path: Path) -> bool:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.set_xscale("log")
    ax.set_yscale("log")
    drew = _lines(ax, rows, "crash", "bytes_per_member_s", sim=True)
    ax.set_xlabel("members N")
    ax.set_ylabel("bytes sent per member per second")
    ax.set_title("Network load vs N (crash scenario, whole run)")
    ax.grid(True, which="both", alpha=0.3)
    if drew:
        ax.legend(fontsize=8)
    return _save(fig, path, drew)


def false_positives_under_loss(rows: Sequence[dict], path: Path) -> bool:
    scenarios = sorted({r["scenario"] for r in rows if str(r["scenario"]).startswith("loss") and r["source"] == "real"})
    if not scenarios:
        return False
    fig, axes = plt.subplots(1, len(scenarios), figsize=(6 * len(scenarios), 4.5), squeeze=False)
    systems = (*MODES, MEMBERLIST)
    drew = False
    for ax, scenario in zip(axes[0], scenarios, strict=True):
        sizes = sorted({r["n"] for r in rows if r["scenario"] == scenario and r["source"] == "real"})
        width = 0.8 / len(systems)
        for i, system in enumerate(systems):
            xs, ys = _series(rows, system, "real", scenario, "fp_per_member_hour")
            pos = [sizes.index(n) + (i - (len(systems) - 1) / 2) * width for n in xs]
            if xs:
                bars = ax.bar(pos, ys, width=width, color=COLORS[system], label=system)
                ax.bar_label(bars, fmt="%.0f", fontsize=7)  # a zero bar is invisible without its label
                drew = True
        ax.set_xticks(range(len(sizes)), [str(n) for n in sizes])
        ax.set_xlabel("members N")
        ax.set_ylabel("false positives per member-hour")
        loss = next((r["loss"] for r in rows if r["scenario"] == scenario), "")
        ax.set_title(f"{scenario}: loss {loss} on send and on receive", fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle("False positives under message loss (no member is faulty)")
    return _save(fig, path, drew)


def _save(fig, path: Path, drew: bool) -> bool:
    if drew:
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    plt.close(fig)
    return drew


def write_all(rows: Sequence[dict], out_dir: Path) -> list[Path]:
    """Draw every plot the rows have data for; returns the files written."""
    written = []
    for name, draw in (
        ("detection_latency_vs_n.png", detection_vs_n),
        ("bytes_per_member_vs_n.png", bytes_vs_n),
        ("false_positives_under_loss.png", false_positives_under_loss),
    ):
        if draw(rows, out_dir / name):
            written.append(out_dir / name)
    return written
