"""``--on-event NAME=CMD``: run a shell command per membership event, as Serf's event handlers do.

The command gets the event payload (swimfd.runtime.watch) as one JSON line on
stdin and as environment variables: SWIMFD_EVENT, SWIMFD_NODE, SWIMFD_MEMBER,
SWIMFD_INCARNATION, SWIMFD_SOURCE, SWIMFD_TIMESTAMP, SWIMFD_DETECTOR,
SWIMFD_ADDR, and SWIMFD_<EXTRA> for the event's extra fields (e.g.
SWIMFD_LEADER, SWIMFD_TERM). Dispatch never waits: each run is a task; at most
MAX_CONCURRENT commands run at once and at most MAX_WAITING wait for a slot
(more are dropped and logged). A command runs in its own process group, which
is killed when it outlives the timeout. A non-zero exit, a timeout or a
command that cannot start is logged as ``event_handler_failed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
from collections.abc import Mapping, Sequence
from typing import Any

from swimfd.runtime.logs import Logger

MAX_CONCURRENT = 4
MAX_WAITING = 256
STDERR_TAIL = 500  # characters of a failed command's stderr kept in its log line
ALL = "*"


def handler_env(payload: Mapping[str, Any], base: Mapping[str, str]) -> dict[str, str]:
    env = dict(base)
    for key, value in payload.items():
        name = "SWIMFD_" + re.sub(r"[^A-Z0-9]", "_", str(key).upper())
        if key == "ts":
            name = "SWIMFD_TIMESTAMP"
        env[name] = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return env


class EventHooks:
    def __init__(
        self,
        handlers: Sequence[tuple[str, str]],
        timeout: float,
        log: Logger,
        max_concurrent: int = MAX_CONCURRENT,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        self._handlers = tuple(handlers)
        self._timeout = timeout
        self._log = log
        self._slots = asyncio.Semaphore(max_concurrent)
        self._max_waiting = max_waiting
        self._tasks: set[asyncio.Task[None]] = set()
        self._procs: set[asyncio.subprocess.Process] = set()
        self._closed = False

    def __bool__(self) -> bool:
        return bool(self._handlers)

    def dispatch(self, payload: dict[str, Any]) -> None:
        """Start (or queue) every handler that matches the payload's event; returns at once."""
        for name, cmd in self._handlers:
            if name != ALL and name != payload["event"]:
                continue
            if len(self._tasks) >= self._max_waiting:
                self._log.warning("event_handler_dropped", handler=name, command=cmd, on=payload["event"])
                continue
            task = asyncio.get_running_loop().create_task(self._run(name, cmd, payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, name: str, cmd: str, payload: dict[str, Any]) -> None:
        async with self._slots:
            if self._closed:  # queued when the node began stopping: never started
                return
            fields = {"handler": name, "command": cmd, "on": payload["event"], "member": payload.get("member")}
            try:
                proc = await asyncio.create_subprocess_shell(
                    cmd,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.PIPE,
                    env=handler_env(payload, os.environ),
                    start_new_session=True,  # its own process group, so a timeout kills its children too
                )
            except OSError as e:
                self._log.warning("event_handler_failed", **fields, error=e.strerror or str(e))
                return
            self._procs.add(proc)
            try:
                try:
                    _, err = await asyncio.wait_for(
                        proc.communicate((json.dumps(payload) + "\n").encode()), self._timeout
                    )
                except TimeoutError:
                    _kill_group(proc)
                    await proc.wait()
                    self._log.warning("event_handler_failed", **fields, timeout_s=self._timeout, pid=proc.pid)
                    return
            finally:
                self._procs.discard(proc)
            if proc.returncode != 0:
                tail = err.decode(errors="replace")[-STDERR_TAIL:].strip()
                self._log.warning("event_handler_failed", **fields, exit_code=proc.returncode, stderr=tail)
            else:
                self._log.debug("event_handler_done", **fields)

    async def close(self, grace: float = 1.0) -> None:
        """Start nothing more; let running handlers finish for ``grace`` seconds, then kill what is left."""
        self._closed = True
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        for proc in list(self._procs):
            _kill_group(proc)
        if self._tasks:  # each one reaps its killed process and logs it
            await asyncio.wait(list(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
