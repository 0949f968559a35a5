"""Runs the Go dissemination service (bin/go-diss) as a supervised child process.

The child gets the flags of docs/architecture.md, "Wire rules". It is restarted with backoff
when it exits on its own (detection does not depend on it, so the node keeps
running meanwhile), and it dies with the detector: on Linux the child gets
PR_SET_PDEATHSIG, so a SIGKILLed detector does not leave an orphan
dissemination service holding its port (see death_signal_prefix).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from swimfd.runtime.logs import Logger
from swimfd.runtime.tls import TLSFiles

BACKOFF_MIN = 0.5  # seconds before the first restart of a child that exited (the lab's bounds use it too)


class DissStartError(RuntimeError):
    """The dissemination binary cannot be started at all."""


@dataclass(frozen=True, slots=True)
class DissCommand:
    binary: str
    node_id: str
    listen: str
    detector: str
    cluster: str
    tls: TLSFiles | None = None  # the node's own certificate: go-diss acts as this member; None: --insecure
    log_file: str | None = None
    log_level: str = "info"  # the detector's level name; go-diss spells warning "warn"
    metrics_addr: str | None = None  # go-diss --metrics-addr (Prometheus); None: no metrics endpoint
    max_message_bytes: int | None = None  # the detector's bound, so both sides refuse the same messages
    test_loss: float = 0.0  # test only: the detector's --test-loss, so go-diss's messages are lost alike

    def argv(self) -> list[str]:
        argv = [
            self.binary,
            "--id",
            self.node_id,
            "--listen",
            self.listen,
            "--detector",
            self.detector,
            "--cluster",
            self.cluster,
        ]
        if self.tls is not None:
            argv += [
                "--tls-cert",
                str(self.tls.cert),
                "--tls-key",
                str(self.tls.key),
                "--tls-ca",
                str(self.tls.ca_bundle),
            ]
        else:
            argv += ["--insecure"]
        if self.log_file:
            argv += ["--log-file", self.log_file]
        if self.metrics_addr:
            argv += ["--metrics-addr", self.metrics_addr]
        if self.max_message_bytes is not None:
            argv += ["--max-message-bytes", str(self.max_message_bytes)]
        if self.test_loss > 0:
            argv += ["--test-loss", repr(self.test_loss)]
        if self.log_level != "info":
            argv += ["--log-level", "warn" if self.log_level == "warning" else self.log_level]
        return argv


BINARY_NAME = "go-diss"


def repo_binary() -> Path:
    """bin/go-diss at the repository root (pyserver/swimfd/runtime/ is three levels below it)."""
    return Path(__file__).resolve().parents[3] / "bin" / BINARY_NAME


def default_binary() -> str:
    """The go-diss to run when neither --go-diss nor SWIMFD_GO_DISS names one: the repository's
    bin/go-diss when it is built (a checkout), else the one on PATH (an installed swimfd), else
    the repository path, so that the start-up error names what `make build` would produce."""
    built = repo_binary()
    if os.access(built, os.X_OK):
        return str(built)
    return shutil.which(BINARY_NAME) or str(built)


def death_signal_prefix() -> list[str]:
    """Argv prefix that makes the kernel SIGTERM the child when the detector dies (Linux).

    util-linux's setpriv sets PR_SET_PDEATHSIG and then execs the binary, so the
    child keeps its pid. A preexec_fn could do the same from Python, but forking
    with one makes gRPC's fork handlers complain on every start.
    """
    setpriv = shutil.which("setpriv")
    if not sys.platform.startswith("linux") or setpriv is None:
        return []
    return [setpriv, "--pdeathsig", "TERM"]


class DissProcess:
    def __init__(
        self,
        command: DissCommand,
        log: Logger,
        *,
        backoff_min: float = BACKOFF_MIN,
        backoff_max: float = 30.0,
        stable_after: float = 10.0,
    ) -> None:
        self.command = command
        self._log = log
        self._backoff_min = backoff_min
        self._backoff_max = backoff_max
        self._stable_after = stable_after
        self._proc: asyncio.subprocess.Process | None = None
        self._stopping = False
        self._prefix = death_signal_prefix()
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    async def start(self) -> None:
        binary = self.command.binary
        if not os.access(binary, os.X_OK):
            raise DissStartError(f"dissemination binary {binary} is missing or not executable (run `make build`)")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self._prefix,
                *self.command.argv(),
                stdin=asyncio.subprocess.DEVNULL,
                # Its own session: a Ctrl-C in the terminal reaches only the detector, which
                # then leaves through the service before stopping it.
                start_new_session=True,
            )
        except OSError as e:
            raise DissStartError(f"cannot start {binary}: {e.strerror}") from e
        self.starts += 1
        self._log.info("dissemination_started", pid=self._proc.pid, argv=self.command.argv())

    async def supervise(self) -> None:
        """Restart the child whenever it exits while we are not stopping; runs until cancelled."""
        backoff = self._backoff_min
        loop = asyncio.get_running_loop()
        while not self._stopping:
            proc = self._proc
            if proc is None:
                return
            started = loop.time()
            rc = await proc.wait()
            if self._stopping:
                return
            if loop.time() - started >= self._stable_after:
                backoff = self._backoff_min
            self._log.warning("dissemination_exited", pid=proc.pid, returncode=rc, restart_in=round(backoff, 3))
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._backoff_max)
            if self._stopping:
                return
            try:
                await self.start()
            except DissStartError as e:
                self._log.error("dissemination_start_failed", detail=str(e))
                return

    def send_signal(self, sig: int) -> None:
        """Pass a signal on to the running child (SIGHUP: reload its certificates)."""
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)

    def hold(self) -> None:
        """Stop restarting the child (shutdown has begun) but leave it running."""
        self._stopping = True

    async def stop(self, timeout: float = 3.0) -> int | None:
        """SIGTERM the child, SIGKILL it after ``timeout``; returns its exit code."""
        self._stopping = True
        proc = self._proc
        if proc is None:
            return None
        if proc.returncode is None:
            try:
                proc.terminate()
                await asyncio.wait_for(proc.wait(), timeout)
            except ProcessLookupError:
                pass
            except TimeoutError:
                proc.kill()
                await proc.wait()
        self._log.info("dissemination_stopped", pid=proc.pid, returncode=proc.returncode)
        return proc.returncode
