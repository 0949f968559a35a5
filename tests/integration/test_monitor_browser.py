"""`swimfd monitor` in a real headless browser: 5 nodes, one crashes, the page shows it.

Debian's chromium renders the page; the test reads the DOM its script built,
not the server's JSON. One page stays open for the whole run and is read over
the DevTools protocol (with aiohttp's websocket client), so the crash can only
reach it through the live event stream; a fresh ``--dump-dom`` load at the end
checks the first render. ``make browser`` (a dependency of ``make test``)
installs chromium when it is missing and the machine allows it; without
chromium the test skips and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from harness import REPO, LocalCluster, fast_config, wait_for

from swimfd.core.bounds import detection_bound

pytestmark = pytest.mark.integration

CONVERGE_S = 30.0  # start-up allowance on a shared 2-core machine (five nodes, the monitor, chromium)
POLL_S = 0.5  # the monitor's poll interval (its default)
CALL_S = 1.0  # the monitor's deadline per Members call (its default)
# The monitor stamps a change when its next poll round sees it: at most one interval plus one deadline late.
SAMPLING_S = POLL_S + CALL_S
PAGE_LOAD_S = 60.0  # one chromium start and page load, at worst
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu")  # --no-sandbox: CI runs as root


@dataclass
class Page(HTMLParser):
    """The parts of the rendered page the test reads, by their data attributes."""

    cells: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (observer, subject) -> attrs
    rows: dict[str, dict[str, str]] = field(default_factory=dict)
    timeline: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    link: str = ""  # the event stream's state as the page shows it
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
        elif a.get("id") == "link":
            self.link = a.get("data-link", "")

    def state(self, observer: str, subject: str) -> str | None:
        cell = self.cells.get((observer, subject))
        return None if cell is None else cell["data-state"]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def chromium_or_skip() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium is not installed and could not be: `make browser` installs Debian's chromium as root")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def dump_dom(binary: str, profile: Path, url: str) -> Page:
    """Load ``url`` in a fresh headless chromium and parse the DOM its script rendered."""
    argv = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url]
    # Its own process group, so that its helper processes die with it.
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=PAGE_LOAD_S)
    finally:
        kill_group(proc)
    return parse(out.decode("utf-8", "replace"))


@dataclass
class LivePage:
    """One page kept open in headless chromium, read over the DevTools protocol."""

    binary: str
    profile: Path
    url: str
    proc: subprocess.Popen[bytes] | None = None
    ws_url: str = ""
    ids: Iterator[int] = field(default_factory=itertools.count)

    def open(self) -> None:
        argv = [self.binary, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-port=0", self.url]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = self.profile / "DevToolsActivePort"  # chromium writes the port it picked here
        wait_for(lambda: port_file.exists() and port_file.read_text().strip() != "", PAGE_LOAD_S, "chromium's port")
        port = port_file.read_text().split()[0]
        wait_for(lambda: self._find_page(port), PAGE_LOAD_S, f"chromium to open {self.url}")

    def _find_page(self, port: str) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
            targets = json.load(r)
        pages = [t for t in targets if t.get("type") == "page" and t.get("url", "").startswith(self.url)]
        if pages:
            self.ws_url = pages[0]["webSocketDebuggerUrl"]
        return bool(pages)

    def read(self) -> Page:
        """The page's DOM as it is now (no reload)."""

        async def evaluate() -> str:
            msg_id = next(self.ids)
            expr = {"expression": "document.documentElement.outerHTML", "returnByValue": True}
            timeout = aiohttp.ClientTimeout(total=10)
            async with aiohttp.ClientSession(timeout=timeout) as s, s.ws_connect(self.ws_url, max_msg_size=0) as ws:
                await ws.send_json({"id": msg_id, "method": "Runtime.evaluate", "params": expr})
                async for msg in ws:
                    data = json.loads(msg.data)
                    if data.get("id") == msg_id:
                        result = data.get("result", {}).get("result", {})
                        # No value while the page is between documents (still loading): an empty page,
                        # so the caller's wait_for reads again until its bound.
                        return str(result["value"]) if "value" in result else ""
            raise AssertionError("DevTools closed the connection without an answer")

        return parse(asyncio.run(evaluate()))

    def close(self) -> None:
        if self.proc is not None:
            kill_group(self.proc)


def start_monitor(cluster: LocalCluster, port: int) -> subprocess.Popen[bytes]:
    out_path = cluster.workdir / "monitor.out"
    out = open(out_path, "wb")  # noqa: SIM115 (owned by the child)
    argv = [sys.executable, "-m", "swimfd", "monitor", "--seeds", cluster.addr(1), "--listen", f"127.0.0.1:{port}"]
    argv += ["--cluster", cluster.config["cluster"], "--interval", str(POLL_S), "--timeout", str(CALL_S)]
    argv += ["--log-file", str(cluster.workdir / "monitor.log"), *cluster.cli_tls()]
    env = {**os.environ, "PYTHONPATH": str(REPO / "pyserver")}
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    out.close()
    cluster.extra_pids.append(proc)  # killed by cluster.close(), even when the test fails

    def serving() -> bool:
        assert proc.poll() is None, f"monitor exited: {out_path.read_text()}"
        return "serving" in out_path.read_text()

    wait_for(serving, CONVERGE_S, "the monitor to serve its page")
    return proc


def test_the_page_shows_a_crashed_member_dead_in_every_surviving_row_within_the_bound(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    chromium = chromium_or_skip()
    ids = [str(k) for k in range(1, 6)]
    survivors = ids[:4]
    cluster.start_static(5)
    url = f"http://127.0.0.1:{free_port()}/"
    monitor = start_monitor(cluster, int(url.rsplit(":", 1)[1].strip("/")))
    live = LivePage(chromium, tmp_path / "live-profile", url)
    last: list[Page] = [Page()]

    def shows(observers: list[str], states: dict[str, str]) -> bool:
        assert monitor.poll() is None, f"monitor exited: {(cluster.workdir / 'monitor.out').read_text()}"
        last[0] = live.read()
        return all(last[0].state(o, s) == st for o in observers for s, st in states.items())

    def cells() -> object:
        return {f"{o}->{s}": c["data-state"] for (o, s), c in sorted(last[0].cells.items())} | {"link": last[0].link}

    try:
        live.open()
        wait_for(lambda: shows(ids, dict.fromkeys(ids, "ALIVE")), CONVERGE_S, "5x5 ALIVE on the page", state=cells)
        wait_for(lambda: live.read().link == "live", CONVERGE_S, "the page's event stream to connect")

        crashed_at = time.time()
        cluster.nodes["5"].signal(signal.SIGKILL)
        bound = detection_bound(fast_config(), 5)
        wait_for(
            lambda: shows(survivors, {"5": "DEAD"}),
            bound + SAMPLING_S + 5.0,  # + a few seconds for chromium to answer on a loaded machine
            "every surviving row of the open page to show member 5 DEAD",
            poll=0.2,
            state=cells,
        )
    finally:
        live.close()

    page = last[0]
    for o in survivors:
        # When the monitor first saw row o hold 5 DEAD, as the page itself reports it.
        seen = float(page.cells[(o, "5")]["data-since"]) - crashed_at
        assert seen <= bound + SAMPLING_S, f"row {o}: DEAD after {seen:.2f}s > bound {bound:.2f}s + {SAMPLING_S}s"
    assert page.rows["5"]["data-reachable"] == "false"  # the crashed node's own row is shown stale
    failed = [e for e in page.timeline if e["data-kind"] == "failed"]
    assert {e["data-subject"] for e in failed} == {"5"}, page.timeline
    assert {e["data-observer"] for e in failed} == set(survivors)
    assert [f["data-subject"] for f in page.failures] == ["5"]
    assert float(page.failures[0]["data-all"]) <= bound + SAMPLING_S

    # A fresh load renders the same from the view the server inlines into the page.
    fresh = dump_dom(chromium, tmp_path / "dump-profile", url)
    assert all(fresh.state(o, "5") == "DEAD" for o in survivors), fresh.cells
    assert {(e["data-kind"], e["data-observer"]) for e in fresh.timeline} >= {("failed", o) for o in survivors}
