"""Packaging: the swimfd console script, --version on both binaries, and the lock file matching pyproject.toml."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import swimfd

REPO = Path(__file__).resolve().parents[2]
GO_DISS = REPO / "bin" / "go-diss"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, check=False)


def test_python_version_is_the_package_version() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "pyserver")}
    out = _run([sys.executable, "-m", "swimfd", "--version"], env)
    assert (out.returncode, out.stdout) == (0, f"swimfd {swimfd.__version__}\n")
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "swimfd.__version__"}


def test_go_diss_version_matches_the_python_one() -> None:
    if not GO_DISS.exists():
        pytest.skip("bin/go-diss is not built (run `make build`)")
    out = _run([str(GO_DISS), "--version"])
    assert (out.returncode, out.stdout) == (0, f"go-diss {swimfd.__version__}\n")


@pytest.mark.slow
def test_installed_console_script_runs_the_dispatcher(tmp_path: Path) -> None:
    # Install a copy of the project (not editable, no dependencies: the running venv has them)
    # into a target directory, then call the generated script as a user would.
    src = tmp_path / "src"
    shutil.copytree(REPO / "pyserver", src / "pyserver", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(REPO / "pyproject.toml", src)
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target)]
    installed = _run([*pip, str(src)])
    assert installed.returncode == 0, installed.stderr
    script = target / "bin" / "swimfd"
    assert script.exists()
    env = {**os.environ, "PYTHONPATH": str(target)}
    version = _run([str(script), "--version"], env)
    assert (version.returncode, version.stdout) == (0, f"swimfd {swimfd.__version__}\n")
    members = _run([str(script), "members", "--help"], env)
    assert members.returncode == 0, members.stderr
    assert members.stdout.startswith("usage: swimfd members") and "--target" in members.stdout
    unknown = _run([str(script), "nope"], env)
    assert unknown.returncode == 2 and "invalid choice: 'nope'" in unknown.stderr


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for req in requirements:
        name, _, version = req.split(";")[0].split("#")[0].strip().partition("==")
        pins[name.strip().lower()] = version.strip()
    return pins


def test_lock_file_pins_what_pyproject_pins() -> None:
    lock = (REPO / "requirements.lock").read_text()
    locked = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", lock, flags=re.MULTILINE))
    locked = {k.lower(): v for k, v in locked.items()}
    project = PYPROJECT["project"]
    wanted = _pins(project["dependencies"]) | _pins(project["optional-dependencies"]["dev"])
    assert {name: locked.get(name) for name in wanted} == wanted, "run `make lock` after changing pyproject.toml"
    assert "--hash=sha256:" in lock
