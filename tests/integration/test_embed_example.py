"""examples/embed.py runs: three embedded nodes see each other, a run-time label, a leave and a failure."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from harness import GO_DISS, REPO, pick_base

pytestmark = pytest.mark.integration

EXAMPLE = REPO / "examples" / "embed.py"


@pytest.mark.parametrize(
    ("go_diss", "insecure"),
    [(False, False), (True, False), (False, True)],
    ids=["without-go-diss", "with-go-diss", "insecure"],
)
def test_the_embedding_example_prints_joins_labels_leave_and_failure(go_diss: bool, insecure: bool) -> None:
    if go_diss and not GO_DISS.exists():
        pytest.skip("bin/go-diss is not built (run `make build`)")
    argv = [sys.executable, str(EXAMPLE), "--base-port", str(pick_base())]
    if go_diss:
        argv.append("--go-diss")
    if insecure:
        argv.append("--insecure")
    env = {**os.environ, "PYTHONPATH": str(REPO / "pyserver")}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()

    def index(line: str) -> int:
        assert line in lines, done.stdout
        return lines.index(line)

    joined = max(index("node 1 saw member_joined 2"), index("node 1 saw member_joined 3"))
    labelled = index("node 1 sees node 3's labels role=worker,zone=z1")
    left = index("node 1 saw member_left 3")
    # The last failure of node 2 is the one after it stopped (a busy machine may add false ones before).
    failed_line = "node 1 saw member_failed 2 (detector swim)"
    index(failed_line)  # printed at all
    failed = max(i for i, line in enumerate(lines) if line == failed_line)
    assert joined < labelled < left < failed
    members = {line.split()[1]: line.split()[2:] for line in lines if line.startswith("member ")}
    assert [members[k][1] for k in ("1", "2", "3")] == ["alive", "dead", "left"]
    assert members["3"][-1] == "labels=role=worker,zone=z1"
    assert lines[-1] == "events dropped: 0"
