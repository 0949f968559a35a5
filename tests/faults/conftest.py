"""Fixtures for the network lab (deploy/netlab): skip with a reason where a lab cannot run, close every lab."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "deploy"))

from netlab.lab import GO_DISS, ML_NODE, Lab  # noqa: E402 (deploy/ is not a package root)
from netlab.shell import preflight  # noqa: E402


@pytest.fixture(scope="session")
def lab_host() -> None:
    """Skips unless this machine can build a lab (root, ip netns, iptables, installed here when missing)."""
    reason = preflight()
    if reason is not None:
        pytest.skip(f"network lab unavailable: {reason}")


@pytest.fixture
def make_lab(lab_host: None, tmp_path: Path) -> Iterator[Callable[..., Lab]]:
    """Builds labs (namespaces created, nothing started) and closes every one of them at teardown."""
    labs: list[Lab] = []

    def make(n: int, mode: str = "swim", **kwargs: Any) -> Lab:
        lab = Lab(n, tmp_path / f"lab{len(labs)}", mode=mode, **kwargs)
        labs.append(lab)
        lab.__enter__()
        return lab

    try:
        yield make
    finally:
        for lab in labs:
            lab.close()


@pytest.fixture
def go_diss() -> None:
    if not GO_DISS.exists():
        pytest.skip("bin/go-diss is not built (run `make build`)")


@pytest.fixture
def ml_node() -> None:
    if not ML_NODE.exists():
        pytest.skip("bin/ml-node is not built (run `make ml-node`; `make test` builds it)")
