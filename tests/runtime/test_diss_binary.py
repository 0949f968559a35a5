"""Which go-diss a detector runs when no flag names one: the checkout's bin/go-diss, else PATH."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from swimfd.runtime import diss_process
from swimfd.runtime.diss_process import default_binary, repo_binary

REPO = Path(__file__).resolve().parents[2]


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_repo_binary_is_bin_go_diss_at_the_repository_root() -> None:
    assert repo_binary() == REPO / "bin" / "go-diss"


@pytest.mark.parametrize(
    ("built", "on_path", "want"),
    [
        (True, True, "repo"),  # a checkout's own build wins over an installed one
        (True, False, "repo"),
        (False, True, "path"),  # an installed swimfd finds go-diss on PATH
        (False, False, "repo"),  # nothing anywhere: name the path `make build` produces
    ],
)
def test_default_binary_prefers_the_checkout_then_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, built: bool, on_path: bool, want: str
) -> None:
    repo = tmp_path / "repo" / "bin" / "go-diss"
    if built:
        _executable(repo)
    path_dir = tmp_path / "path-bin"
    path_dir.mkdir()
    if on_path:
        _executable(path_dir / "go-diss")
    monkeypatch.setattr(diss_process, "repo_binary", lambda: repo)
    monkeypatch.setenv("PATH", str(path_dir))
    expected = repo if want == "repo" else path_dir / "go-diss"
    assert default_binary() == str(expected)
