"""Smoke test: `python -m swimfd bench --quick` on a tiny configuration still runs end to end.

Not a benchmark: it asserts that the command works and that each crash was
detected, never how fast.
"""

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def binaries() -> None:
    if not (REPO / "bin" / "go-diss").exists():
        pytest.skip("bin/go-diss missing: run `make build`")
    if not (REPO / "bin" / "ml-node").exists():
        built = subprocess.run(["make", "ml-node"], cwd=REPO, capture_output=True, text=True, timeout=300)
        if built.returncode != 0:
            pytest.skip(f"cannot build bin/ml-node: {built.stderr[-300:]}")


def test_quick_bench_runs_swim_and_memberlist_side_by_side(binaries: None, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "swimfd", "bench", "--quick", "--systems", "swim,memberlist", "--sizes", "3"]
    cmd += ["--scenarios", "crash", "--no-progress", "--out", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r"results in (\S+)", proc.stdout)
    assert m, proc.stdout
    out = Path(m.group(1))
    assert out.parent == tmp_path and out.name.startswith("bench-")

    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["system"], r["n"], r["scenario"]) for r in rows] == [
        ("swim", "3", "crash"),
        ("memberlist", "3", "crash"),
    ]
    for r in rows:
        assert r["error"] == "", r["error"]
        assert r["undetected"] == "0"  # both crashes reported by every survivor
        assert len(r["victims"].split()) == 2  # the first crash, then 30% of 3 = 1 more
        assert float(r["detect_all_max_s"]) > 0
        assert r["msgs_per_member_s"] != "" and r["peak_rss_mb_mean"] != ""

    report = (out / "report.md").read_text()
    assert "| crash | 3 | swim |" in report  # the swimfd/memberlist ratio row
    assert "## Where memberlist was ahead" in report
    assert (out / "detection_latency_vs_n.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["001-swim-n3-crash", "002-memberlist-n3-crash"]
