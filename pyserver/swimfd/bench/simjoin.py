"""Simulated rows for sizes too big for one machine: `python -m swimfd simulate --json`
(its output: docs/architecture.md, "What each layer promises", sim).

One member crashes at the simulator's --fault-at; the run lasts long enough
for the longest suspicion timeout at that size. Only swimfd's modes: memberlist
has no simulator here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from swimfd.bench.scenarios import suspicion_max_s

FAULT_AT_S = 10.0


def sim_duration(n: int) -> float:
    return FAULT_AT_S + 2 * suspicion_max_s(n) + 20


def command(mode: str, n: int, seed: int, config: Path | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "swimfd", "simulate", "--nodes", str(n), "--mode", mode, "--kill", "1"]
    cmd += ["--fault-at", str(FAULT_AT_S), "--duration", str(sim_duration(n)), "--seed", str(seed), "--json"]
    if config is not None:
        cmd += ["--config", str(config)]  # same protocol settings as the real nodes
    return cmd


def row_from_result(mode: str, n: int, result: dict, cmd: list[str], wall_s: float) -> dict:
    """Map the simulator's JSON onto the bench's CSV columns."""
    row: dict = {"system": mode, "source": "simulator", "n": n, "scenario": "crash", "loss": 0.0}
    for src, dst in (("detect_first_s", "detect_first"), ("detect_all_s", "detect_all")):
        p = result.get(src) or {}
        for q in ("p50", "p95", "max"):
            v = p.get(q)
            row[f"{dst}_{q}_s"] = None if v is None else round(float(v), 3)
    killed = int(result.get("killed", 1))
    row["undetected"] = killed - int(result.get("detected_by_all", killed))
    row["false_positives"] = result.get("false_positives")
    virtual = float(result.get("virtual_s", 0.0))
    row["observed_s"] = round(virtual, 1)
    fp = result.get("false_positives")
    row["fp_per_member_hour"] = round(fp / (n * virtual / 3600.0), 3) if fp is not None and virtual > 0 else None
    msgs, byts = result.get("msgs_per_node_s"), result.get("bytes_per_node_s")
    row["msgs_per_member_s"] = None if msgs is None else round(float(msgs), 2)
    row["bytes_per_member_s"] = None if byts is None else round(float(byts), 1)
    row["converged"] = result.get("converged")
    row["wall_s"] = round(wall_s, 1)
    row["params"] = json.dumps({"command": " ".join(cmd[1:]), "params": result.get("params")}, sort_keys=True)
    return row


def run_sim(mode: str, n: int, seed: int, repo: Path, timeout_s: float, config: Path | None = None) -> dict:
    cmd = command(mode, n, seed, config)
    t0 = time.time()
    try:
        proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return _error(mode, n, f"simulator timed out after {timeout_s:.0f} s", cmd)
    except OSError as e:
        return _error(mode, n, f"cannot start the simulator: {e}", cmd)
    if proc.returncode != 0:
        return _error(mode, n, f"simulator exit {proc.returncode}: {proc.stderr.strip()[-300:]}", cmd)
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        return row_from_result(mode, n, result, cmd, time.time() - t0)
    except (json.JSONDecodeError, IndexError, TypeError, ValueError, AttributeError):
        return _error(mode, n, f"simulator printed no usable JSON: {proc.stdout[-200:]!r}", cmd)


def _error(mode: str, n: int, msg: str, cmd: list[str]) -> dict:
    return {
        "system": mode,
        "source": "simulator",
        "n": n,
        "scenario": "crash",
        "loss": 0.0,
        "error": msg,
        "params": json.dumps({"command": " ".join(cmd[1:])}),
    }
