"""The fault matrix: every cell in every mode, each on a fresh lab, as a table (``make faults``).

Writes results/faults/<stamp>.json (every measurement) and .md (the table), plus
the logs of every node under results/faults/<stamp>/<cell>-<mode>/.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from netlab import cells
from netlab.cells import CellResult
from netlab.lab import MEMBERLIST, PYSERVER, Lab
from swimfd.core.config import MODES

LAB_MODES: tuple[str, ...] = (*MODES, MEMBERLIST)


@dataclass(frozen=True)
class Cell:
    name: str
    run: Callable[[Lab], CellResult]
    memberlist: bool = False  # memberlist runs it too: the cells whose faults are on the wire, and a crash

    def applies_to(self, mode: str) -> bool:
        return mode != MEMBERLIST or self.memberlist


def matrix_cells(n: int) -> list[Cell]:
    half = set(range(1, n // 2 + 1))
    rest = set(range(n // 2 + 1, n + 1))
    top = lambda count: list(range(n - count + 1, n + 1))  # noqa: E731 (the highest ids)
    return [
        Cell("crash-1", lambda lab: cells.crash(lab, top(1)), memberlist=True),
        Cell("crash-30%", lambda lab: cells.crash(lab, top(max(1, math.floor(0.3 * n + 0.5))))),
        Cell("crash-50%", lambda lab: cells.crash(lab, top(n // 2))),
        Cell("vanish", lambda lab: cells.vanish(lab, n), memberlist=True),
        Cell("pause", lambda lab: cells.pause(lab, n)),
        Cell("partition", lambda lab: cells.partition(lab, [half, rest]), memberlist=True),
        Cell("partition-heal-at-once", lambda lab: cells.partition(lab, [half, rest], settle_s=0.0)),
        Cell("one-way", lambda lab: cells.one_way(lab, 1, 2), memberlist=True),
        Cell("loss-10%", lambda lab: cells.loss(lab, 0.10), memberlist=True),
        Cell("loss-30%", lambda lab: cells.loss(lab, 0.30), memberlist=True),
        Cell("restart-same-id", lambda lab: cells.restart_same_id(lab, n)),
        Cell("restart-new-address", lambda lab: cells.restart_same_id(lab, n, move=True)),
        Cell("churn", lambda lab: cells.churn(lab, per_round=min(3, (n - 1) // 2))),
        Cell("seed-down-join", lambda lab: cells.seed_down_join(lab, joiners=2 if n >= 5 else 1)),
        Cell("godiss-killed", lambda lab: cells.godiss_killed(lab, [1, 2], n)),
    ]


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def _load(r: CellResult) -> str:
    load = r.notes.get("load_1m")
    return f"{load[0]:.0f}-{load[1]:.0f}" if load else "-"


def _leader(r: CellResult) -> str:
    """The leader every live member agreed on, as id@term ("-": no election, e.g. memberlist)."""
    leader = r.notes.get("leader")
    return f"{leader['id']}@{leader['term']}" if leader else "-"


def table(results: Sequence[CellResult]) -> str:
    rows = [
        "| cell | mode | detected | latency first / all (s) | bound (s) | false positives "
        "| converged (s / bound) | leader | load | pass |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        detected = f"{r.detected}/{r.expected}" if r.expected else "-"
        latency = f"{_fmt(r.first_s)} / {_fmt(r.all_s)}" if r.expected else "-"
        if r.converged is None:
            conv = "-"
        else:
            conv = f"{'yes' if r.converged else 'NO'} ({_fmt(r.converge_s)} / {_fmt(r.converge_bound_s)})"
        rows.append(
            f"| {r.cell} | {r.mode} | {detected} | {latency} | {_fmt(r.bound_s)} | {len(r.false_positives)} "
            f"| {conv} | {_leader(r)} | {_load(r)} | {'pass' if r.passed else 'FAIL'} |"
        )
    return "\n".join(rows)


def run_matrix(
    n: int, modes: Sequence[str], names: Sequence[str] | None, out: Path, pyserver: Path = PYSERVER
) -> list[CellResult]:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    logs = out / stamp
    chosen = [c for c in matrix_cells(n) if names is None or c.name in names]
    results: list[CellResult] = []
    for cell in chosen:
        for mode in (m for m in modes if cell.applies_to(m)):
            t = time.monotonic()
            load_before = os.getloadavg()[0]
            try:
                with Lab(n, logs / f"{cell.name.replace('%', 'pct')}-{mode}", mode=mode, pyserver=pyserver) as lab:
                    result = cell.run(lab)
            except Exception as e:  # one broken cell must not lose the others' results
                result = CellResult(cell.name, mode, n, "-", problems=[f"{type(e).__name__}: {e}"])
            result.notes["wall_s"] = round(time.monotonic() - t, 1)
            # The machine is shared: a load far above its core count starves the detectors' event loops.
            result.notes["load_1m"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
            result.notes["scenario"], result.cell = result.cell, cell.name
            results.append(result)
            status = "pass" if result.passed else f"FAIL: {'; '.join(result.failures)}"
            print(f"{cell.name:>24} {mode:>9}  {result.notes['wall_s']:6.1f}s  {status}", flush=True)
            _write(out, stamp, n, results)
    return results


def _write(out: Path, stamp: str, n: int, results: Sequence[CellResult]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    doc = {"n": n, "stamp": stamp, "cells": [r.as_dict() for r in results]}
    (out / f"{stamp}.json").write_text(json.dumps(doc, indent=1, default=str))
    (out / f"{stamp}.md").write_text(f"N = {n}, {stamp}\n\n{table(results)}\n")
