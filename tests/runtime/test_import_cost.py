"""A swim-mode detector never loads numpy: only heartbeat gossip needs it (about 20 MB of RSS)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PYSERVER = Path(__file__).resolve().parents[2] / "pyserver"

# Imports the runtime and the CLI entry point, then builds and drives a core in MODE, as `swimfd run` does.
SCRIPT = """
import random, sys
import swimfd.commands.run
import swimfd.runtime.process
from swimfd.core.config import Config
from swimfd.core.node import Node
from swimfd.pb import swim_pb2 as pb
node = Node(Config(mode=sys.argv[1]), pb.Member(id="1", addr="127.0.0.1:1"), random.Random(1), 0.0)
node.bootstrap([pb.Member(id="2", addr="127.0.0.1:2")], 0.0)
node.tick(5.0)
print("numpy" in sys.modules)
"""


def numpy_loaded(mode: str) -> bool:
    env = {**os.environ, "PYTHONPATH": str(PYSERVER)}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return out.stdout.strip() == "True"


def test_swim_mode_runtime_does_not_import_numpy() -> None:
    assert numpy_loaded("swim") is False


@pytest.mark.parametrize("mode", ["heartbeat", "hybrid"])
def test_heartbeat_modes_load_numpy_when_the_gossiper_is_built(mode: str) -> None:
    # The same probe sees numpy once heartbeat gossip runs, so the swim-mode check above can fail.
    assert numpy_loaded(mode) is True
