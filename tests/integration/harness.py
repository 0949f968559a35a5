"""Real swimfd processes on loopback for integration tests.

Node k's detector listens on base + k and its go-diss on base + DISS_PORT_OFFSET + k, with
``base`` chosen so that all those ports are free. Clusters run mutual TLS by
default, as `make run-cluster` does: a CA, a certificate per node (created
when the node first starts) and a client certificate for the test's own
calls live in <workdir>/tls; ``LocalCluster(tmp, tls=False)`` runs --insecure. Every process started here
is killed in ``close()`` (the tests call it from a fixture's teardown), and
every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from swimfd.commands.certs import make_ca, make_client, make_node
from swimfd.core.config import PROTOCOL_VERSION, Config
from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc
from swimfd.runtime.settings import DISS_PORT_OFFSET
from swimfd.runtime.tls import TLSFiles, TLSMaterial

REPO = Path(__file__).resolve().parents[2]
ENTRY = REPO / "pyserver" / "failure_detector.py"
GO_DISS = REPO / "bin" / "go-diss"

# Short timeouts so that failures are detected within seconds.
FAST = {
    "cluster": "itest",
    "probe_interval": 0.2,
    "probe_timeout": 0.1,
    "gossip_interval": 0.1,
    "election": False,
}


def fast_config() -> Config:
    return Config(**FAST)  # type: ignore[arg-type]


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_base(slots: int = 2 * DISS_PORT_OFFSET, rng: random.Random | None = None) -> int:
    """A base port such that base+1 .. base+slots are all free right now."""
    r = rng or random.Random()
    for _ in range(50):
        base = r.randrange(20000, 45000, 100)
        if all(_free(base + i) for i in range(1, slots + 1)):
            return base
    raise RuntimeError("no free block of ports on 127.0.0.1")


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line still being written
    return out


def wait_for(
    cond: Callable[[], bool], timeout: float, what: str, poll: float = 0.1, state: Callable[[], object] | None = None
) -> None:
    """Poll ``cond`` until true; on timeout fail with ``what`` and, if given, a snapshot of ``state()``."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            snapshot = f"; state: {state()}" if state is not None else ""
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}{snapshot}")
        time.sleep(poll)


@dataclass
class NodeProc:
    node_id: str
    addr: str
    log: Path
    proc: subprocess.Popen[bytes]

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        evs = read_events(self.log)
        return [e for e in evs if name is None or e.get("event") == name]

    def children(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def signal(self, sig: int, with_children: bool = True) -> None:
        pids = [self.proc.pid, *(self.children() if with_children else [])]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)


@dataclass
class LocalCluster:
    workdir: Path
    config: dict[str, Any] = field(default_factory=lambda: dict(FAST))
    base: int = field(default_factory=pick_base)
    nodes: dict[str, NodeProc] = field(default_factory=dict)
    extra_pids: list[subprocess.Popen[bytes]] = field(default_factory=list)
    tls: bool = True  # mutual TLS (the default everywhere); False: every process runs --insecure

    def __post_init__(self) -> None:
        self.config_file = self.workdir / "config.json"
        self.config_file.write_text(json.dumps(self.config))
        self.tls_dir = self.workdir / "tls"
        if self.tls:
            make_ca(self.tls_dir)
            make_client(self.tls_dir)

    def cert(self, k: int | str) -> TLSFiles:
        """Node k's certificate files, created (from the CA ``ca``) the first time they are asked for."""
        files = TLSFiles.in_dir(self.tls_dir, str(k))
        if not files.cert.exists():
            make_node(self.tls_dir, str(k), ["127.0.0.1", "localhost"])
        return files

    def credentials(self, as_member: int | str | None = None) -> grpc.ChannelCredentials | None:
        """Channel credentials of the test's client certificate (or of member ``as_member``); None without TLS."""
        if not self.tls:
            return None
        files = TLSFiles.client_in_dir(self.tls_dir) if as_member is None else self.cert(as_member)
        return TLSMaterial.load(files, member=as_member is not None).channel_credentials()

    def channel(self, addr: str, as_member: int | str | None = None) -> grpc.Channel:
        """A blocking channel to ``addr`` as the cluster's processes would open it."""
        creds = self.credentials(as_member)
        return grpc.secure_channel(addr, creds) if creds is not None else grpc.insecure_channel(addr)

    def cli_tls(self) -> list[str]:
        """Flags for `swimfd members/health/monitor` run against this cluster."""
        return ["--tls-dir", str(self.tls_dir)] if self.tls else []

    def tls_args(self, k: int | str) -> list[str]:
        if not self.tls:
            return ["--insecure"]
        self.cert(k)
        return ["--tls-dir", str(self.tls_dir)]

    def addr(self, k: int) -> str:
        return f"127.0.0.1:{self.base + k}"

    def diss_addr(self, k: int) -> str:
        return f"127.0.0.1:{self.base + DISS_PORT_OFFSET + k}"

    def members_list(self, ids: Iterable[int]) -> str:
        return ",".join(self.addr(k) for k in ids)

    def start(self, k: int, *args: str, env: dict[str, str] | None = None) -> NodeProc:
        log = self.workdir / f"node{k}.log"
        out = open(self.workdir / f"node{k}.out", "wb")  # noqa: SIM115 (owned by the child)
        cmd = [sys.executable, str(ENTRY), "--id", str(k), "--bind", self.addr(k), "--config", str(self.config_file)]
        cmd += ["--log-file", str(log)]
        if "--insecure" not in args and "--tls-dir" not in args:
            cmd += self.tls_args(k)
        proc = subprocess.Popen([*cmd, *args], stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        out.close()
        node = NodeProc(str(k), self.addr(k), log, proc)
        self.nodes[str(k)] = node
        return node

    def start_static(self, n: int, *args: str) -> None:
        members = self.members_list(range(1, n + 1))
        for k in range(1, n + 1):
            self.start(k, "--members", members, *args)
        for k in range(1, n + 1):
            wait_for(lambda k=k: bool(self.nodes[str(k)].events("node_started")), 30, f"node {k} to start")

    def start_go_diss(self, k: int) -> subprocess.Popen[bytes]:
        log = self.workdir / f"external-diss{k}.log"
        argv = [str(GO_DISS), "--id", str(k), "--listen", self.diss_addr(k), "--detector", self.addr(k)]
        argv += ["--cluster", self.config["cluster"], "--log-file", str(log)]
        if self.tls:
            f = self.cert(k)
            argv += ["--tls-cert", str(f.cert), "--tls-key", str(f.key), "--tls-ca", str(f.ca_bundle)]
        else:
            argv += ["--insecure"]
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.extra_pids.append(p)
        return p

    def view(self, k: int | str, timeout: float = 2.0) -> dict[str, int] | None:
        """id -> state in node k's view, or None when it does not answer."""
        try:
            with self.channel(self.nodes[str(k)].addr) as ch:
                req = pb.MembersRequest(
                    header=pb.Header(version=PROTOCOL_VERSION, cluster=self.config["cluster"], sender="test")
                )
                reply = swim_pb2_grpc.FailureDetectorStub(ch).Members(req, timeout=timeout)
        except grpc.RpcError:
            return None
        return {mv.member.id: mv.member.state for mv in reply.members}

    def views(self) -> dict[str, dict[str, str] | None]:
        """Every running node's view as id -> state name (for failure messages)."""
        out: dict[str, dict[str, str] | None] = {}
        for k in self.running():
            v = self.view(k)
            out[k] = None if v is None else {i: pb.MemberState.Name(st) for i, st in sorted(v.items())}
        return out

    def running(self) -> list[str]:
        return [k for k, n in self.nodes.items() if n.proc.poll() is None]

    def all_see(self, ids: Iterable[str], state: int, observers: Iterable[str] | None = None) -> bool:
        want = set(ids)
        for k in observers if observers is not None else self.running():
            v = self.view(k)
            if v is None or any(v.get(i) != state for i in want):
                return False
        return True

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for n in self.nodes.values() for e in n.events(name)]

    def close(self) -> None:
        for n in self.nodes.values():
            n.signal(signal.SIGCONT)  # a stopped process cannot die of SIGTERM
            n.signal(signal.SIGKILL)
        for p in self.extra_pids:
            p.kill()
        for n in self.nodes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                n.proc.wait(timeout=10)
        for p in self.extra_pids:
            p.wait(timeout=10)
