"""The protocol version and the limits named in swim.proto have the same values in the Python
detector and in go-diss: each side reads them from its own generated code, so a stale or
hand-edited copy on either side fails here."""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from swimfd.core import config
from swimfd.runtime.server import make_server

GO_DISS_SRC = Path(__file__).resolve().parents[2] / "go-diss"
NAMES = ("PROTOCOL_VERSION", "MAX_CLUSTER_LEN", "MAX_ID_LEN", "MAX_MESSAGE_BYTES", "MAX_CONCURRENT_RPCS")


def go_values() -> dict[str, int]:
    if shutil.which("go") is None:
        pytest.skip("go is not installed")
    out = subprocess.run(
        ["go", "run", "./internal/config/printlimits"],
        cwd=GO_DISS_SRC,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    values: dict[str, int] = json.loads(out.stdout)
    return values


def test_python_and_go_share_the_protocol_version_and_limits() -> None:
    python = {name: getattr(config, name) for name in NAMES}
    assert go_values() == python
    assert python == {
        "PROTOCOL_VERSION": 1,
        "MAX_CLUSTER_LEN": 128,
        "MAX_ID_LEN": 256,
        "MAX_MESSAGE_BYTES": 4 * 1024 * 1024,
        "MAX_CONCURRENT_RPCS": 256,
    }


def test_python_defaults_use_the_shared_limits() -> None:
    assert config.Config().max_message_bytes == config.MAX_MESSAGE_BYTES
    assert inspect.signature(make_server).parameters["max_concurrent_rpcs"].default == config.MAX_CONCURRENT_RPCS
    config.Config(cluster="c" * config.MAX_CLUSTER_LEN)
    with pytest.raises(config.ConfigError, match=f"1-{config.MAX_CLUSTER_LEN} characters"):
        config.Config(cluster="c" * (config.MAX_CLUSTER_LEN + 1))
