"""The go-diss child: restarted with backoff when it exits on its own, stopped cleanly on shutdown."""

from __future__ import annotations

import asyncio
import io
import json
import stat
from pathlib import Path

import pytest

from swimfd.runtime.diss_process import DissCommand, DissProcess, DissStartError, default_binary
from swimfd.runtime.logs import make_logger


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fake-diss"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _events(buf: io.StringIO) -> list[str]:
    return [json.loads(line)["event"] for line in buf.getvalue().splitlines()]


def test_child_that_exits_is_restarted_until_stopped(tmp_path: Path) -> None:
    async def main() -> None:
        buf = io.StringIO()
        cmd = DissCommand(_script(tmp_path, "exit 3"), "1", "127.0.0.1:1", "127.0.0.1:2", "c")
        proc = DissProcess(cmd, make_logger(buf, "1"), backoff_min=0.01, backoff_max=0.02)
        await proc.start()
        supervisor = asyncio.create_task(proc.supervise())

        async def restarted() -> None:
            while proc.starts < 3:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(restarted(), 10)
        await proc.stop()
        await asyncio.wait_for(supervisor, 5)
        assert _events(buf).count("dissemination_exited") >= 2

    asyncio.run(main())


def test_stop_terminates_a_running_child(tmp_path: Path) -> None:
    async def main() -> None:
        buf = io.StringIO()
        cmd = DissCommand(_script(tmp_path, "exec sleep 30"), "1", "127.0.0.1:1", "127.0.0.1:2", "c")
        proc = DissProcess(cmd, make_logger(buf, "1"))
        await proc.start()
        assert proc.pid is not None
        supervisor = asyncio.create_task(proc.supervise())
        rc = await proc.stop(timeout=5)
        await asyncio.wait_for(supervisor, 5)
        assert rc == -15  # SIGTERM
        assert proc.starts == 1 and "dissemination_exited" not in _events(buf)

    asyncio.run(main())


def test_missing_binary_is_a_start_error(tmp_path: Path) -> None:
    async def main() -> None:
        cmd = DissCommand(str(tmp_path / "nope"), "1", "127.0.0.1:1", "127.0.0.1:2", "c")
        with pytest.raises(DissStartError, match="missing or not executable"):
            await DissProcess(cmd, make_logger(io.StringIO(), "1")).start()

    asyncio.run(main())


def test_default_binary_is_bin_go_diss_at_the_repository_root() -> None:
    repo = Path(__file__).resolve().parents[2]
    assert Path(default_binary()) == repo / "bin" / "go-diss"


def test_argv_passes_the_detectors_test_loss_to_go_diss_only_when_set() -> None:
    cmd = DissCommand("go-diss", "1", "127.0.0.1:1", "127.0.0.1:2", "c")
    assert "--test-loss" not in cmd.argv()
    lossy = DissCommand("go-diss", "1", "127.0.0.1:1", "127.0.0.1:2", "c", test_loss=0.3)
    argv = lossy.argv()
    assert argv[argv.index("--test-loss") + 1] == "0.3"
