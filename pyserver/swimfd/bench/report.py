"""CSV of every run, and a markdown report: parameters, figures, swimfd/memberlist ratios."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

MEMBERLIST = "memberlist"
MODES = ("swim", "heartbeat", "hybrid")

# Fixed leading columns; anything else a row carries follows in sorted order.
COLUMNS: tuple[str, ...] = (
    "system",
    "source",
    "n",
    "scenario",
    "loss",
    "detect_first_p50_s",
    "detect_first_p95_s",
    "detect_first_max_s",
    "detect_all_p50_s",
    "detect_all_p95_s",
    "detect_all_max_s",
    "undetected",
    "false_positives",
    "observed_s",
    "fp_per_member_hour",
    "msgs_per_member_s",
    "bytes_per_member_s",
    "cpu_share_mean",
    "cpu_share_max",
    "peak_rss_mb_mean",
    "peak_rss_mb_max",
    "pause_s",
    "recovered",
    "recover_first_s",
    "recover_all_s",
    "victims",
    "converged",
    "warmup_s",
    "wall_s",
    "unexpected_exits",
    "bad_log_lines",
    "error",
    "params",
)

# Every figure is "lower is better"; the ratio table covers all of them.
FIGURES: tuple[tuple[str, str], ...] = (
    ("detect_first_p50_s", "first p50 s"),
    ("detect_first_p95_s", "first p95 s"),
    ("detect_first_max_s", "first max s"),
    ("detect_all_p50_s", "all p50 s"),
    ("detect_all_p95_s", "all p95 s"),
    ("detect_all_max_s", "all max s"),
    ("fp_per_member_hour", "FP/member-h"),
    ("msgs_per_member_s", "msgs/member/s"),
    ("bytes_per_member_s", "bytes/member/s"),
    ("cpu_share_mean", "CPU share"),
    ("peak_rss_mb_mean", "peak RSS MB"),
    ("recover_all_s", "recover all s"),
)

SCENARIO_FIGURES: dict[str, tuple[str, ...]] = {
    "crash": (
        "detect_first_p50_s",
        "detect_first_p95_s",
        "detect_first_max_s",
        "detect_all_p50_s",
        "detect_all_p95_s",
        "detect_all_max_s",
        "undetected",
        "fp_per_member_hour",
        "msgs_per_member_s",
        "bytes_per_member_s",
        "cpu_share_mean",
        "peak_rss_mb_mean",
    ),
    "hang": (
        "detect_first_p50_s",
        "detect_first_max_s",
        "detect_all_p50_s",
        "detect_all_max_s",
        "undetected",
        "fp_per_member_hour",
        "msgs_per_member_s",
        "bytes_per_member_s",
        "cpu_share_mean",
        "peak_rss_mb_mean",
    ),
    "short_pause": (
        "pause_s",
        "false_positives",
        "fp_per_member_hour",
        "msgs_per_member_s",
        "bytes_per_member_s",
        "cpu_share_mean",
        "peak_rss_mb_mean",
    ),
    "pause": (
        "pause_s",
        "detect_first_p50_s",
        "detect_all_max_s",
        "recovered",
        "recover_first_s",
        "recover_all_s",
        "false_positives",
        "fp_per_member_hour",
        "msgs_per_member_s",
        "bytes_per_member_s",
        "cpu_share_mean",
        "peak_rss_mb_mean",
    ),
    "loss": (
        "observed_s",
        "false_positives",
        "fp_per_member_hour",
        "msgs_per_member_s",
        "bytes_per_member_s",
        "cpu_share_mean",
        "peak_rss_mb_mean",
    ),
}


def columns_of(rows: Sequence[dict]) -> list[str]:
    extra = sorted({k for r in rows for k in r} - set(COLUMNS))
    return [*COLUMNS, *extra]


def write_csv(rows: Sequence[dict], path: Path) -> None:
    cols = columns_of(rows)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if r.get(k) is None else r.get(k) for k in cols})


def read_csv(path: Path) -> list[dict]:
    """Rows back with numbers as numbers and empty cells as None (for re-rendering a report)."""
    out: list[dict] = []
    with path.open(newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            out.append({k: _parse(v) for k, v in r.items()})
    return out


def _parse(v: str) -> object:
    if v == "":
        return None
    if v in ("True", "False"):
        return v == "True"
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


def ratio(ours: object, theirs: object) -> float | None:
    """ours / theirs; None when either is missing; 1.0 for 0/0 and inf for x/0."""
    if not _is_num(ours) or not _is_num(theirs):
        return None
    a, b = float(ours), float(theirs)  # type: ignore[arg-type]
    if b == 0:
        return 1.0 if a == 0 else math.inf
    return a / b


def _is_num(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(float(x))


def fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isinf(v):
            return "inf"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.3g}" if v != 0 else "0"
    return str(v)


def kind_of(scenario: str) -> str:
    return "loss" if scenario.startswith("loss") else scenario


def _table(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return lines


def _key(r: dict) -> tuple:
    order = {s: i for i, s in enumerate((*MODES, MEMBERLIST))}
    return (r.get("n") or 0, order.get(str(r.get("system")), 99), str(r.get("system")))


def results_tables(rows: Sequence[dict]) -> list[str]:
    out: list[str] = []
    order = {s: i for i, s in enumerate(("crash", "hang", "short_pause", "pause", "loss10", "loss30"))}
    scenarios = sorted(
        {(r["source"], r["scenario"]) for r in rows}, key=lambda s: (s[0] != "real", order.get(s[1], 99), s[1])
    )
    labels = dict(FIGURES)
    for source, scenario in scenarios:
        sel = sorted((r for r in rows if r["source"] == source and r["scenario"] == scenario), key=_key)
        figs = SCENARIO_FIGURES[kind_of(scenario)]
        if source == "simulator":
            figs = tuple(f for f in figs if not f.startswith(("cpu_", "peak_")))
        out.append(f"### {scenario} ({'simulator' if source == 'simulator' else 'real processes on loopback'})")
        out.append("")
        body = []
        for r in sel:
            cells = [str(r["n"]), str(r["system"])] + [fmt(r.get(f)) for f in figs]
            if r.get("error"):
                cells[-1] += f" (error: {str(r['error'])[:80]})"
            body.append(cells)
        out += _table(["N", "system", *(labels.get(f, f.replace("_", " ")) for f in figs)], body)
        out.append("")
    return out


def ratio_rows(rows: Sequence[dict]) -> list[dict]:
    """One dict per (scenario, n, mode) that has a memberlist run to compare with: figure -> ratio."""
    ml = {(r["scenario"], r["n"]): r for r in rows if r["source"] == "real" and r["system"] == MEMBERLIST}
    out: list[dict] = []
    for r in sorted((r for r in rows if r["source"] == "real" and r["system"] in MODES), key=_key):
        base = ml.get((r["scenario"], r["n"]))
        if base is None:
            continue
        out.append(
            {
                "scenario": r["scenario"],
                "n": r["n"],
                "system": r["system"],
                **{f: ratio(r.get(f), base.get(f)) for f, _ in FIGURES},
            }
        )
    return out


def ratio_table(ratios: Sequence[dict]) -> list[str]:
    if not ratios:
        return ["(no swimfd run has a memberlist run of the same scenario and N to compare with)", ""]
    figs = [f for f, _ in FIGURES if any(r[f] is not None for r in ratios)]
    labels = dict(FIGURES)
    body = [[r["scenario"], str(r["n"]), r["system"], *(fmt(r[f]) for f in figs)] for r in ratios]
    return _table(["scenario", "N", "system", *(labels[f] for f in figs)], body)


def memberlist_ahead(ratios: Sequence[dict]) -> list[str]:
    """Plain lines naming each figure where memberlist did better (ratio > 1: swimfd higher)."""
    if not ratios:
        return ["- no comparison available"]
    labels = dict(FIGURES)
    lines = []
    for r in ratios:
        worse = [f"{labels[f]} x{fmt(r[f])}" for f, _ in FIGURES if r[f] is not None and r[f] > 1.0]
        if worse:
            lines.append(f"- {r['scenario']} N={r['n']} {r['system']}: " + ", ".join(worse))
    return lines or ["- nowhere: every swimfd figure was at or below memberlist's"]


def markdown(rows: Sequence[dict], header: Sequence[str], params: Sequence[str]) -> str:
    ratios = ratio_rows(rows)
    parts = [*header, "", "## Parameters", "", *params, "", "## Results", ""]
    parts += results_tables(rows)
    parts += ["## swimfd / memberlist ratios (below 1: swimfd lower, i.e. better)", ""]
    parts += ratio_table(ratios)
    parts += ["", "## Where memberlist was ahead", "", *memberlist_ahead(ratios), ""]
    errors = [r for r in rows if r.get("error")]
    if errors:
        parts += ["## Runs that failed", ""]
        parts += [f"- {r['system']} N={r['n']} {r['scenario']} ({r['source']}): {r['error']}" for r in errors]
        parts.append("")
    return "\n".join(parts)
