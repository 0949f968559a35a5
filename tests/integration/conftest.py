"""The one `cluster` fixture of the real-process tests: a LocalCluster that is always closed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import GO_DISS, LocalCluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    if not GO_DISS.exists():
        pytest.skip("bin/go-diss is not built (run `make build`)")
    c = LocalCluster(tmp_path)
    try:
        yield c
    finally:
        c.close()
