"""CPU time and peak RSS of member processes, read from /proc (Linux).

A swimfd member is a Python process plus its go-diss child, so a member is
measured as its process tree. CPU share is CPU seconds over wall seconds
(1.0 = one core busy). Peak RSS of a tree is the sum of each process's VmHWM:
an upper bound, since the peaks of parent and child need not coincide.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class ProcReading:
    cpu_s: float  # utime + stime
    hwm_kb: int  # VmHWM: peak resident set size


def parse_stat(text: str, clk_tck: int) -> float:
    """CPU seconds (utime + stime) from the text of /proc/<pid>/stat."""
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    rest = text[text.rindex(")") + 2 :].split()
    utime, stime = int(rest[11]), int(rest[12])
    return (utime + stime) / clk_tck


def parse_hwm_kb(text: str) -> int:
    """VmHWM in kB from the text of /proc/<pid>/status (0 for a zombie, which has none)."""
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def read(pid: int, proc: Path = PROC) -> ProcReading | None:
    try:
        stat = (proc / str(pid) / "stat").read_text()
        status = (proc / str(pid) / "status").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return ProcReading(parse_stat(stat, os.sysconf("SC_CLK_TCK")), parse_hwm_kb(status))


def children(pid: int, proc: Path = PROC) -> list[int]:
    out: list[int] = []
    try:
        tasks = list((proc / str(pid) / "task").iterdir())
    except (FileNotFoundError, PermissionError):
        return out
    for task in tasks:
        try:
            out.extend(int(x) for x in (task / "children").read_text().split())
        except (FileNotFoundError, PermissionError, ValueError):
            continue
    return out


@dataclass(slots=True)
class _Tree:
    root: int
    started: float
    last_sample: float
    cpu: dict[int, float] = field(default_factory=dict)  # latest reading per pid
    hwm: dict[int, int] = field(default_factory=dict)  # highest reading per pid
    base_cpu: dict[int, float] = field(default_factory=dict)  # readings at mark(): start-up CPU is left out


@dataclass(frozen=True, slots=True)
class Usage:
    cpu_share: float | None
    peak_rss_mb: float | None


class TreeMonitor:
    """Samples member process trees; call sample() periodically and right before killing one."""

    def __init__(self, proc: Path = PROC) -> None:
        self._proc = proc
        self._trees: dict[str, _Tree] = {}

    def track(self, member: str, pid: int, now: float) -> None:
        self._trees[member] = _Tree(root=pid, started=now, last_sample=now)

    def sample(self, now: float, members: list[str] | None = None) -> None:
        for member in members if members is not None else list(self._trees):
            tree = self._trees.get(member)
            if tree is None:
                continue
            pids = [tree.root, *children(tree.root, self._proc)]
            alive = False
            for pid in pids:
                r = read(pid, self._proc)
                if r is None:
                    continue
                alive = True
                tree.cpu[pid] = r.cpu_s
                tree.hwm[pid] = max(tree.hwm.get(pid, 0), r.hwm_kb)
            if alive:
                tree.last_sample = now

    def mark(self, now: float) -> None:
        """Measure CPU from here on (after start-up); peak RSS still covers the whole life."""
        self.sample(now)
        for tree in self._trees.values():
            tree.base_cpu = dict(tree.cpu)
            tree.started = now

    def usage(self, member: str) -> Usage:
        tree = self._trees.get(member)
        if tree is None or not tree.cpu:
            return Usage(None, None)
        wall = tree.last_sample - tree.started
        used = sum(cpu - tree.base_cpu.get(pid, 0.0) for pid, cpu in tree.cpu.items())
        share = used / wall if wall > 0 else None
        return Usage(share, sum(tree.hwm.values()) / 1024.0)
