"""Removing a run's namespaces, links and processes, and sweeping the leftovers of runs that died.

A live run holds an flock on its lock file (names.LOCK_DIR/<id>.lock); the
kernel drops it when the owner dies however it dies. So any run whose lock can
be taken is stale, and its namespaces (with every process still inside them),
its links and its lock file are removed. A running lab is never touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import time

from netlab.names import LOCK_DIR, NETNS_PREFIX, RunNames, run_id_of
from netlab.shell import run

KILL_WAIT = 5.0  # seconds to wait for killed processes to leave a namespace


def lab_netns() -> list[str]:
    out = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in out.splitlines() if line.startswith(NETNS_PREFIX)]


def lab_links() -> list[str]:
    out = run(["ip", "-o", "link", "show"], check=False)
    names = []
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            name = parts[1].strip().split("@", 1)[0]
            if run_id_of(name) is not None:
                names.append(name)
    return names


def netns_pids(netns: str) -> list[int]:
    out = run(["ip", "netns", "pids", netns], check=False)
    return [int(p) for p in out.split() if p.isdigit()]


def kill_netns_processes(netns: str) -> None:
    """SIGKILL every process inside ``netns`` (a stopped one dies of SIGKILL too), then wait, bounded."""
    for pid in netns_pids(netns):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + KILL_WAIT
    while netns_pids(netns) and time.monotonic() < deadline:
        time.sleep(0.05)


def remove_run(run_id: str, netns: list[str] | None = None, links: list[str] | None = None) -> None:
    """Delete everything of run ``run_id``: processes in its namespaces, the namespaces, its links."""
    for ns in netns if netns is not None else [n for n in lab_netns() if run_id_of(n) == run_id]:
        kill_netns_processes(ns)
        run(["ip", "netns", "del", ns], check=False)
    # Deleting a namespace destroys its veth ends and with them the host ends; the bridge stays.
    for link in links if links is not None else [ln for ln in lab_links() if run_id_of(ln) == run_id]:
        run(["ip", "link", "del", link], check=False)


def _stale(run_id: str) -> bool:
    """True when no live process holds run_id's lock (or it has none); takes and releases the lock to check."""
    path = LOCK_DIR / f"{run_id}.lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def sweep_stale(keep: str | None = None) -> list[str]:
    """Remove every lab run that no live process owns (except ``keep``); return the run ids removed."""
    netns = lab_netns()
    links = lab_links()
    ids = {run_id_of(n) for n in [*netns, *links]}
    if LOCK_DIR.is_dir():
        ids |= {p.stem for p in LOCK_DIR.glob("*.lock")}
    removed = []
    for rid in sorted(i for i in ids if i and i != keep):
        if not _stale(rid):
            continue
        remove_run(rid, [n for n in netns if run_id_of(n) == rid], [ln for ln in links if run_id_of(ln) == rid])
        with contextlib.suppress(FileNotFoundError):
            (LOCK_DIR / f"{rid}.lock").unlink()
        removed.append(rid)
    # preflight's probe namespace (sfdlab-probe<pid>) of a process that died before deleting it
    for ns in netns:
        m = re.fullmatch(rf"{NETNS_PREFIX}probe(\d+)", ns)
        if m and not _pid_alive(int(m.group(1))):
            run(["ip", "netns", "del", ns], check=False)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def leftovers(names: RunNames) -> list[str]:
    """Names of this run's namespaces and links that still exist (empty after a clean close)."""
    return [n for n in [*lab_netns(), *lab_links()] if run_id_of(n) == names.run_id]
