"""What a detector loads only when it needs it: numpy (heartbeat gossip, about 20 MB of RSS), aiohttp and
prometheus_client (serving /metrics, about 12 MB), and cryptography (reading certificate files, about 9 MB)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PYSERVER = Path(__file__).resolve().parents[2] / "pyserver"

# Imports the runtime and the CLI entry point, then builds and drives a core in MODE, as `swimfd run` does.
SCRIPT = """
import importlib, json, random, sys
import swimfd.commands.run
import swimfd.runtime.process
from swimfd.core.config import Config
from swimfd.core.node import Node
from swimfd.pb import swim_pb2 as pb
node = Node(Config(mode=sys.argv[1]), pb.Member(id="1", addr="127.0.0.1:1"), random.Random(1), 0.0)
node.bootstrap([pb.Member(id="2", addr="127.0.0.1:2")], 0.0)
node.tick(5.0)
for extra in sys.argv[2:]:
    importlib.import_module(extra)
print(json.dumps({m: m in sys.modules for m in ("numpy", "aiohttp", "prometheus_client", "cryptography")}))
"""


def loaded(mode: str, *extra: str) -> dict[str, bool]:
    """Which optional libraries a detector in ``mode`` has loaded (after importing ``extra`` modules too)."""
    env = {**os.environ, "PYTHONPATH": str(PYSERVER)}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode, *extra], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return dict(json.loads(out.stdout))


def numpy_loaded(mode: str) -> bool:
    return loaded(mode)["numpy"]


def test_swim_mode_runtime_does_not_import_numpy() -> None:
    assert numpy_loaded("swim") is False


@pytest.mark.parametrize("mode", ["heartbeat", "hybrid"])
def test_heartbeat_modes_load_numpy_when_the_gossiper_is_built(mode: str) -> None:
    # The same probe sees numpy once heartbeat gossip runs, so the swim-mode check above can fail.
    assert numpy_loaded(mode) is True


def test_a_detector_without_metrics_addr_does_not_load_the_metrics_libraries() -> None:
    assert loaded("swim") == {"numpy": False, "aiohttp": False, "prometheus_client": False, "cryptography": False}
    # What Runtime.start imports with --metrics-addr loads both, so the check above can fail.
    with_metrics = loaded("swim", "swimfd.runtime.metrics_export", "swimfd.runtime.metrics_http")
    assert with_metrics == {"numpy": False, "aiohttp": True, "prometheus_client": True, "cryptography": False}


def test_only_reading_certificate_files_loads_cryptography() -> None:
    assert loaded("swim", "swimfd.runtime.tls", "swimfd.runtime.server")["cryptography"] is False
    assert loaded("swim", "swimfd.commands.certs")["cryptography"] is True  # so the check above can fail
