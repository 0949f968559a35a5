"""Start, fault and stop real clusters on loopback: swimfd nodes or ml-node (memberlist) processes.

One OS process tree per member on both sides, each in its own session, so a
fault hits a whole member: SIGKILL of a swimfd member also kills its go-diss
child (a crashed host loses both), SIGSTOP freezes both.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from swimfd.bench import procstat
from swimfd.core.config import MODES as SWIMFD_MODES
from swimfd.runtime.settings import DISS_PORT_OFFSET
from swimfd.runtime.transport import FAULT_INJECTION_ENV

MEMBERLIST = "memberlist"

PORT_RANGE = (41000, 49000)  # away from the runtime's default 5005x ports other tests use


class ClusterError(RuntimeError):
    """A cluster could not be started (no ports, missing binary, a member died at once)."""


def port_is_free(port: int, udp: bool = False) -> bool:
    kinds = [socket.SOCK_STREAM, socket.SOCK_DGRAM] if udp else [socket.SOCK_STREAM]
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def member_ports(system: str, n: int, base: int) -> list[int]:
    """Ports of members 1..n. swimfd needs port + DISS_PORT_OFFSET free for go-diss too, so it uses
    blocks of DISS_PORT_OFFSET ports, twice that apart."""
    if system == MEMBERLIST:
        return [base + i for i in range(n)]
    block = DISS_PORT_OFFSET
    return [base + 2 * block * (i // block) + i % block for i in range(n)]


def pick_ports(system: str, n: int, rng: random.Random, attempts: int = 50) -> list[int]:
    span = 2 * DISS_PORT_OFFSET * (n // DISS_PORT_OFFSET)  # how far past base the blocks of member_ports reach
    for _ in range(attempts):
        base = rng.randrange(PORT_RANGE[0], PORT_RANGE[1] - span)
        ports = member_ports(system, n, base)
        needed = ports if system == MEMBERLIST else ports + [p + DISS_PORT_OFFSET for p in ports]
        if all(port_is_free(p, udp=system == MEMBERLIST) for p in needed):
            return ports
    raise ClusterError(f"no free block of ports for {n} {system} members after {attempts} attempts")


@dataclass(slots=True)
class Member:
    id: str
    addr: str
    log: Path
    popen: subprocess.Popen[bytes]
    out: IO[bytes]
    stopped: bool = False
    dead: bool = False


@dataclass(slots=True)
class Cluster:
    """n members of one system; ``command`` builds each member's argv."""

    system: str
    n: int
    loss: float
    run_dir: Path
    repo: Path
    seed: int
    swimfd_config: Path | None = None
    stream_loss: bool = False  # memberlist: lose TCP streams too (--stream-loss), not only UDP packets
    secure: bool = False  # swimfd: mutual TLS (certificates in run_dir/tls); memberlist: AES-GCM keyring
    members: dict[str, Member] = field(default_factory=dict)
    monitor: procstat.TreeMonitor = field(default_factory=procstat.TreeMonitor)

    def command(self, index: int, addrs: list[str]) -> list[str]:
        k = str(index + 1)
        log = str(self.run_dir / f"node-{k}.log")
        if self.system == MEMBERLIST:
            cmd = [str(self.repo / "bin" / "ml-node"), "--id", k, "--bind", addrs[index], "--members", ",".join(addrs)]
            cmd += ["--log-file", log, "--seed", str(self.seed), "--stats-interval", "5s"]
            if self.loss > 0:
                cmd += ["--loss", repr(self.loss)]
                if self.stream_loss:
                    cmd += ["--stream-loss", repr(self.loss)]
            if self.secure:
                cmd += ["--keyring-key", self._keyring_key()]
            return cmd
        cmd = [sys.executable, "-m", "swimfd", "run", "--id", k, "--members", ",".join(addrs), "--mode", self.system]
        cmd += ["--log-file", log]
        if self.swimfd_config is not None:
            cmd += ["--config", str(self.swimfd_config)]
        if self.loss > 0:
            cmd += ["--test-loss", repr(self.loss)]
        cmd += ["--tls-dir", str(self.tls_dir)] if self.secure else ["--insecure"]
        return cmd

    @property
    def tls_dir(self) -> Path:
        return self.run_dir / "tls"

    def _keyring_key(self) -> str:
        # One AES-256 key per run, shared by its members (a keyring holds what every member knows).
        path = self.run_dir / "keyring.key"
        if not path.exists():
            path.write_text(os.urandom(32).hex())
        return path.read_text().strip()

    def _make_certs(self, env: dict[str, str]) -> None:
        """A CA and one certificate per member for a secured swimfd run, made by `swimfd certs`."""
        certs = [sys.executable, "-m", "swimfd", "certs"]
        steps = [["ca", "--dir", str(self.tls_dir), "--force"]]
        for i in range(self.n):
            steps.append(["node", "--dir", str(self.tls_dir), "--id", str(i + 1), "--host", "127.0.0.1"])
        for step in steps:
            done = subprocess.run([*certs, *step], env=env, capture_output=True, text=True, timeout=60, check=False)
            if done.returncode != 0:
                raise ClusterError(f"swimfd certs {step[0]}: {done.stderr.strip()}")

    def start(self, now: float) -> None:
        if self.system not in (*SWIMFD_MODES, MEMBERLIST):
            raise ClusterError(f"unknown system {self.system!r}")
        if self.system == MEMBERLIST and not (self.repo / "bin" / "ml-node").exists():
            raise ClusterError("bin/ml-node is missing: run `make ml-node` (make bench builds it)")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        ports = pick_ports(self.system, self.n, random.Random(self.seed * 7919 + self.n))
        addrs = [f"127.0.0.1:{p}" for p in ports]
        env = dict(os.environ)
        if self.loss > 0:
            env[FAULT_INJECTION_ENV] = "1"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.repo / "pyserver"), env.get("PYTHONPATH")]))
        if self.secure and self.system != MEMBERLIST:
            self._make_certs(env)
        for i, addr in enumerate(addrs):
            k = str(i + 1)
            out = (self.run_dir / f"node-{k}.out").open("wb")
            popen = subprocess.Popen(
                self.command(i, addrs),
                cwd=self.repo,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.members[k] = Member(k, addr, self.run_dir / f"node-{k}.log", popen, out)
            self.monitor.track(k, popen.pid, now)

    def live(self) -> list[str]:
        return [k for k, m in self.members.items() if not m.dead]

    def exited(self) -> list[str]:
        """Members whose process ended without the harness killing it."""
        return [k for k, m in self.members.items() if not m.dead and m.popen.poll() is not None]

    def _signal_tree(self, member: Member, sig: signal.Signals) -> None:
        pids = [member.popen.pid, *procstat.children(member.popen.pid)]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(member.popen.pid, sig)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def kill(self, k: str, now: float) -> None:
        m = self.members[k]
        self.monitor.sample(now, [k])
        self._signal_tree(m, signal.SIGKILL)
        m.dead = True

    def stop(self, k: str, now: float) -> None:
        m = self.members[k]
        self.monitor.sample(now, [k])
        self._signal_tree(m, signal.SIGSTOP)
        m.stopped = True

    def cont(self, k: str) -> None:
        m = self.members[k]
        self._signal_tree(m, signal.SIGCONT)
        m.stopped = False

    def shutdown(self, now: float) -> None:
        """Sample once more, then SIGKILL every member tree and reap it. Safe to call twice."""
        self.monitor.sample(now, self.live())
        for m in self.members.values():
            if m.popen.poll() is None or not m.dead:
                self._signal_tree(m, signal.SIGKILL)
                m.dead = True
        for m in self.members.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                m.popen.wait(timeout=10)
            m.out.close()
