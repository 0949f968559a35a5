"""`swimfd monitor` in a real headless browser: 5 nodes, one crashes, the page shows it.

The page is loaded by Debian's chromium (``--headless --dump-dom``), so what is
checked is the DOM its script rendered, not the server's JSON. ``make browser``
(a dependency of ``make test``) installs chromium when it is missing and the
machine allows it; without chromium the test skips and says why.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from harness import GO_DISS, REPO, LocalCluster, fast_config, wait_for

from swimfd.core.bounds import detection_bound

pytestmark = pytest.mark.integration

CONVERGE_S = 30.0  # start-up allowance on a shared 2-core machine (five nodes, the monitor, chromium)
POLL_S = 0.5  # the monitor's poll interval (its default)
CALL_S = 1.0  # the monitor's deadline per Members call (its default)
# The monitor stamps a change when its next poll round sees it: at most one interval plus one deadline late.
SAMPLING_S = POLL_S + CALL_S
PAGE_LOAD_S = 60.0  # one chromium start and page load, at worst


@dataclass
class Page(HTMLParser):
    """The parts of the rendered page the test reads, by their data attributes."""

    cells: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (observer, subject) -> attrs
    rows: dict[str, dict[str, str]] = field(default_factory=dict)
    timeline: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    section: str = ""

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table":
            self.section = a.get("id", "")
        if tag == "td" and "data-state" in a:
            self.cells[(a["data-observer"], a["data-subject"])] = a
        elif tag == "tr" and "data-reachable" in a:
            self.rows[a["data-observer"]] = a
        elif tag == "li" and "data-kind" in a:
            self.timeline.append(a)
        elif tag == "tr" and self.section == "failures" and "data-subject" in a:
            self.failures.append(a)

    def state(self, observer: str, subject: str) -> str | None:
        cell = self.cells.get((observer, subject))
        return None if cell is None else cell["data-state"]


def chromium_or_skip() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium is not installed and could not be: `make browser` installs Debian's chromium as root")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Browser:
    binary: str
    profile: Path

    def load(self, url: str) -> Page:
        """Load ``url`` in a fresh headless chromium and parse the DOM its scripts rendered."""
        argv = [self.binary, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={self.profile}"]
        proc = subprocess.Popen(
            [*argv, "--dump-dom", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own group, so its helper processes die with it
        )
        try:
            out, _ = proc.communicate(timeout=PAGE_LOAD_S)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        page = Page()
        page.feed(out.decode("utf-8", "replace"))
        return page


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    if not GO_DISS.exists():
        pytest.skip("bin/go-diss is not built (run `make build`)")
    c = LocalCluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


def start_monitor(cluster: LocalCluster, port: int) -> subprocess.Popen[bytes]:
    out = open(cluster.workdir / "monitor.out", "wb")  # noqa: SIM115 (owned by the child)
    argv = [sys.executable, "-m", "swimfd", "monitor", "--seeds", cluster.addr(1), "--listen", f"127.0.0.1:{port}"]
    argv += ["--cluster", cluster.config["cluster"], "--interval", str(POLL_S), "--timeout", str(CALL_S)]
    argv += ["--log-file", str(cluster.workdir / "monitor.log")]
    env = {**os.environ, "PYTHONPATH": str(REPO / "pyserver")}
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    out.close()
    cluster.extra_pids.append(proc)  # killed by cluster.close(), even when the test fails
    return proc


def test_the_page_shows_a_crashed_member_dead_in_every_surviving_row_within_the_bound(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    browser = Browser(chromium_or_skip(), tmp_path / "chromium-profile")
    ids = [str(k) for k in range(1, 6)]
    cluster.start_static(5)
    port = free_port()
    monitor = start_monitor(cluster, port)
    url = f"http://127.0.0.1:{port}/"
    last: list[Page] = [Page()]

    def page_shows(observers: list[str], subject_states: dict[str, str]) -> bool:
        assert monitor.poll() is None, f"monitor exited: {(cluster.workdir / 'monitor.out').read_text()}"
        try:
            last[0] = browser.load(url)
        except subprocess.TimeoutExpired:
            return False
        return all(last[0].state(o, s) == st for o in observers for s, st in subject_states.items())

    def cells() -> object:
        return {f"{o}->{s}": c["data-state"] for (o, s), c in sorted(last[0].cells.items())}

    wait_for(
        lambda: page_shows(ids, dict.fromkeys(ids, "ALIVE")), CONVERGE_S, "the page to show 5x5 ALIVE", state=cells
    )

    crashed_at = time.time()
    cluster.nodes["5"].signal(signal.SIGKILL)
    bound = detection_bound(fast_config(), 5)
    survivors = ids[:4]
    wait_for(
        lambda: page_shows(survivors, {"5": "DEAD"}),
        bound + SAMPLING_S + PAGE_LOAD_S,
        "every surviving row of the page to show member 5 DEAD",
        poll=0.2,
        state=cells,
    )
    page = last[0]
    for o in survivors:
        # When the monitor first saw o hold 5 DEAD, as the page itself reports it.
        seen = float(page.cells[(o, "5")]["data-since"]) - crashed_at
        assert seen <= bound + SAMPLING_S, f"row {o}: DEAD after {seen:.2f}s > bound {bound:.2f}s + {SAMPLING_S}s"
    assert page.rows["5"]["data-reachable"] == "false"  # the crashed node's own row is shown stale
    failed_on_timeline = {e["data-observer"] for e in page.timeline if e["data-kind"] == "failed"}
    assert all(e["data-subject"] == "5" for e in page.timeline if e["data-kind"] == "failed"), page.timeline
    assert failed_on_timeline == set(survivors)
    assert [f["data-subject"] for f in page.failures] == ["5"]
    assert float(page.failures[0]["data-all"]) <= bound + SAMPLING_S
