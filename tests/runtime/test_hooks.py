"""--on-event handlers (swimfd.runtime.hooks): input, environment, bounds, timeouts, failures."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path
from typing import Any

from test_runtime_io import lines, run

from swimfd.runtime.hooks import EventHooks, handler_env
from swimfd.runtime.logs import make_logger

EVENT = {
    "event": "member_failed",
    "node": "1",
    "member": "3",
    "incarnation": 7,
    "ts": 1010.5,
    "source": "local",
    "detector": "swim",
    "addr": "127.0.0.1:9",
}


async def settle(hooks: EventHooks, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while hooks._tasks and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert not hooks._tasks, "handlers did not finish"


def logged(buf: io.StringIO, name: str) -> list[dict[str, Any]]:
    return [e for e in lines(buf) if e["event"] == name]


def test_environment_names() -> None:
    env = handler_env({**EVENT, "term": 4, "addr_changed": True, "detector": None}, {"PATH": "/bin"})
    assert env["PATH"] == "/bin"
    assert (env["SWIMFD_EVENT"], env["SWIMFD_MEMBER"], env["SWIMFD_INCARNATION"]) == ("member_failed", "3", "7")
    assert (env["SWIMFD_TIMESTAMP"], env["SWIMFD_SOURCE"], env["SWIMFD_NODE"]) == ("1010.5", "local", "1")
    assert (env["SWIMFD_TERM"], env["SWIMFD_ADDR_CHANGED"], env["SWIMFD_DETECTOR"]) == ("4", "true", "")


def test_matching_handlers_get_the_event_on_stdin_and_in_the_environment(tmp_path: Path) -> None:
    out = tmp_path / "out"

    async def main() -> None:
        buf = io.StringIO()
        hooks = EventHooks(
            [
                ("member_failed", f'read -r line; echo "$SWIMFD_EVENT $SWIMFD_MEMBER $line" >> {out}'),
                ("*", f'echo "all $SWIMFD_EVENT" >> {out}'),
                ("member_joined", f"echo never >> {out}"),
            ],
            timeout=10,
            log=make_logger(buf, "1"),
        )
        hooks.dispatch(dict(EVENT))
        await settle(hooks)
        assert logged(buf, "event_handler_failed") == []

    run(main())
    got = sorted(out.read_text().splitlines())
    assert got[0] == "all member_failed"
    name, member, line = got[1].split(" ", 2)
    assert (name, member, json.loads(line)) == ("member_failed", "3", EVENT)
    assert len(got) == 2


def test_failures_and_timeouts_are_logged_and_the_process_group_is_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"

    async def main() -> None:
        buf = io.StringIO()
        hooks = EventHooks(
            [
                ("*", "echo oops >&2; exit 4"),
                # The shell's child would outlive a kill of the shell alone.
                ("*", f"sleep 30 & echo $! > {pidfile}; wait"),
                ("*", "/nonexistent/handler"),
            ],
            timeout=0.5,
            log=make_logger(buf, "1"),
        )
        hooks.dispatch(dict(EVENT))
        await settle(hooks)
        failed = logged(buf, "event_handler_failed")
        by_cmd = {e["command"]: e for e in failed}
        assert by_cmd["echo oops >&2; exit 4"]["exit_code"] == 4
        assert by_cmd["echo oops >&2; exit 4"]["stderr"] == "oops"
        sleeper = next(e for c, e in by_cmd.items() if c.startswith("sleep"))
        assert sleeper["timeout_s"] == 0.5 and "exit_code" not in sleeper
        assert by_cmd["/nonexistent/handler"]["exit_code"] == 127  # the shell could not find it
        assert all(e["on"] == "member_failed" and e["member"] == "3" for e in failed)

    run(main())
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the handler's child survived the timeout"


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.split(")")[-1].split()[0] != "Z"


def test_concurrency_is_bounded_and_excess_is_dropped(tmp_path: Path) -> None:
    trace = tmp_path / "trace"

    async def main() -> None:
        buf = io.StringIO()
        hooks = EventHooks(
            [("*", f"echo start >> {trace}; sleep 0.2; echo end >> {trace}")],
            timeout=10,
            log=make_logger(buf, "1"),
            max_concurrent=2,
            max_waiting=5,
        )
        started = time.monotonic()
        for _ in range(7):
            hooks.dispatch(dict(EVENT))
        assert time.monotonic() - started < 0.2  # dispatch never waits for a handler
        await settle(hooks)
        assert len(logged(buf, "event_handler_dropped")) == 2

    run(main())
    running, most = 0, 0
    for line in trace.read_text().split():
        running += 1 if line == "start" else -1
        most = max(most, running)
    assert trace.read_text().split().count("start") == 5
    assert most == 2


def test_close_kills_handlers_still_running(tmp_path: Path) -> None:
    async def main() -> None:
        buf = io.StringIO()
        hooks = EventHooks([("*", "sleep 30")], timeout=60, log=make_logger(buf, "1"))
        hooks.dispatch(dict(EVENT))
        while not hooks._procs:
            await asyncio.sleep(0.02)
        (proc,) = hooks._procs
        started = time.monotonic()
        await hooks.close(grace=0.2)
        assert time.monotonic() - started < 5
        assert proc.returncode == -9  # killed and reaped
        (failed,) = logged(buf, "event_handler_failed")
        assert failed["exit_code"] == -9

    run(main())
