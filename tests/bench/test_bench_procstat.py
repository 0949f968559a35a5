import os
from pathlib import Path

import pytest

from swimfd.bench.procstat import TreeMonitor, children, parse_hwm_kb, parse_stat, read

# A /proc/<pid>/stat line whose command name holds a space and a parenthesis.
STAT = "1234 (python3 (x)) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 3 0 100 1000 2000"


def test_parse_stat_sums_utime_and_stime_after_the_command_name() -> None:
    assert parse_stat(STAT, clk_tck=100) == pytest.approx(3.0)


def test_parse_hwm() -> None:
    assert parse_hwm_kb("Name:\tx\nVmPeak:\t  9 kB\nVmHWM:\t   4096 kB\nVmRSS:\t 100 kB\n") == 4096
    assert parse_hwm_kb("Name:\tzombie\nState:\tZ\n") == 0


def fake_proc(root: Path, pid: int, cpu_ticks: int, hwm_kb: int, kids: list[int]) -> None:
    d = root / str(pid)
    (d / "task" / str(pid)).mkdir(parents=True, exist_ok=True)
    (d / "stat").write_text(f"{pid} (node) S 1 1 1 0 -1 0 0 0 0 0 {cpu_ticks} 0 0 0 20 0 1 0 1 1 1")
    (d / "status").write_text(f"Name:\tnode\nVmHWM:\t{hwm_kb} kB\n")
    (d / "task" / str(pid) / "children").write_text(" ".join(map(str, kids)))


def test_tree_monitor_measures_cpu_after_mark_and_peak_rss_over_the_tree(tmp_path: Path) -> None:
    tck = os.sysconf("SC_CLK_TCK")
    fake_proc(tmp_path, 10, cpu_ticks=5 * tck, hwm_kb=20 * 1024, kids=[11])
    fake_proc(tmp_path, 11, cpu_ticks=1 * tck, hwm_kb=10 * 1024, kids=[])
    mon = TreeMonitor(proc=tmp_path)
    mon.track("1", 10, now=0.0)
    mon.mark(now=100.0)  # start-up used 6 CPU seconds: not counted
    fake_proc(tmp_path, 10, cpu_ticks=7 * tck, hwm_kb=30 * 1024, kids=[11])
    fake_proc(tmp_path, 11, cpu_ticks=2 * tck, hwm_kb=5 * 1024, kids=[])  # RSS fell: peak stays 10 MB
    mon.sample(now=110.0)
    u = mon.usage("1")
    assert u.cpu_share == pytest.approx(3.0 / 10.0)
    assert u.peak_rss_mb == pytest.approx(40.0)


def test_a_vanished_tree_keeps_its_last_reading(tmp_path: Path) -> None:
    tck = os.sysconf("SC_CLK_TCK")
    fake_proc(tmp_path, 20, cpu_ticks=0, hwm_kb=1024, kids=[])
    mon = TreeMonitor(proc=tmp_path)
    mon.track("2", 20, now=0.0)
    mon.mark(now=0.0)
    fake_proc(tmp_path, 20, cpu_ticks=2 * tck, hwm_kb=2048, kids=[])
    mon.sample(now=4.0)
    for f in (tmp_path / "20").rglob("*"):
        if f.is_file():
            f.unlink()
    mon.sample(now=100.0)  # gone: neither the time nor the readings move
    assert mon.usage("2").cpu_share == pytest.approx(0.5)
    assert mon.usage("2").peak_rss_mb == pytest.approx(2.0)
    assert mon.usage("nobody").cpu_share is None


def test_reads_this_process_from_the_real_proc() -> None:
    r = read(os.getpid())
    assert r is not None and r.cpu_s > 0 and r.hwm_kb > 0
    assert read(2**22 + 12345) is None
    assert children(2**22 + 12345) == []
