"""A lab of N emulated hosts: one network namespace per node on a private bridge, and the faults applied to it.

    with Lab(5, workdir, mode="swim") as lab:   # namespaces sfdlab-<id>-k, bridge sfd<id>b, 10.200.X.0/24
        lab.start_all()                         # detector (+ its go-diss child) in every namespace
        lab.partition([{1, 2}, {3, 4, 5}])      # iptables DROP between the groups, both ways
        lab.heal()

Node k is 10.200.X.k (detector on DETECTOR_PORT, go-diss on DETECTOR_PORT + 10).
Nodes run mutual TLS, as everywhere by default: create() makes a CA, a
certificate per node (naming its id and 10.200.X.k) and a client certificate
for the host's own calls in <workdir>/tls; ``Lab(..., tls=False)`` runs every
node --insecure instead;
the host keeps 10.200.X.254 on the bridge to observe views, and no fault ever
touches that address. Nothing is routed anywhere else.

Cleanup always happens: ``close()`` (the context manager's exit, an atexit hook,
and SIGTERM/SIGHUP handlers) kills every process of the run, deletes its
namespaces and links. Runs that died without closing are swept at the next
start (netlab.cleanup).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import ipaddress
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from netlab.cleanup import remove_run, sweep_stale
from netlab.names import LOCK_DIR, MAX_NODES, RunNames, new_run_id
from netlab.shell import LabError, in_netns, run

REPO = Path(__file__).resolve().parents[2]
PYSERVER = REPO / "pyserver"
GO_DISS = REPO / "bin" / "go-diss"
ML_NODE = REPO / "bin" / "ml-node"  # hashicorp/memberlist with DefaultLANConfig (bench/memberlist, `make ml-node`)
MEMBERLIST = "memberlist"  # a lab mode: ml-node instead of swimfd, in the same namespaces, under the same faults
DETECTOR_PORT = 50051  # the same in every namespace: each node has its own address
MEMBERLIST_PORT = 7946  # memberlist's own default, UDP and TCP
START_TIMEOUT = 60.0  # five Python detectors importing grpc at once on a shared 2-core machine
STOP_TIMEOUT = 10.0

# Protocol configuration of lab nodes. probe_interval stays well above Linux's 200 ms minimum TCP
# retransmission timeout, so that one lost segment delays a probe instead of failing it outright.
LAB_CONFIG: dict[str, Any] = {
    "cluster": "netlab",
    "probe_interval": 0.5,
    "probe_timeout": 0.25,
    "gossip_interval": 0.25,
    "dead_probe_interval": 2.0,  # tombstones re-probed this often: a healed partition merges within it
    "election": True,  # every cell ends by checking that the live members agree on one leader
}

# Every fault drops packets on arrival (INPUT), never on departure: a packet dropped in OUTPUT fails the
# sender's transmit locally, and Linux TCP then retries every 500 ms without backing off, which would hide
# how real lost packets behave (exponential retransmission backoff). A packet between two lab hosts crosses
# exactly one INPUT chain, so a loss rule with probability p loses p of every link's packets, both ways.
CUT_IN, LOSS_IN = "SFD_CUT_IN", "SFD_LOSS_IN"


@dataclass
class LabNode:
    k: int
    addr: str  # host:port of the detector
    netns: str
    log: Path
    out: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    started_at: float = 0.0  # epoch seconds of the latest start (the clock of the log's ts)

    @property
    def node_id(self) -> str:
        return str(self.k)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pids(self) -> list[int]:
        """The detector and its children (its go-diss)."""
        if not self.running():
            return []
        assert self.proc is not None
        pid = self.proc.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        return [pid, *(int(c) for c in children)]

    def signal(self, sig: int) -> list[int]:
        pids = self.pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return pids

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line still being written
            if name is None or ev.get("event") == name:
                out.append(ev)
        return out


@dataclass
class Lab:
    n: int
    workdir: Path
    mode: str = "swim"
    config: dict[str, Any] = field(default_factory=lambda: dict(LAB_CONFIG))
    python: str = sys.executable
    go_diss: Path = GO_DISS
    ml_node: Path = ML_NODE
    pyserver: Path = PYSERVER  # the detector's source tree (another checkout can be tried in the same lab)
    run_id: str = field(default_factory=new_run_id)
    nodes: dict[int, LabNode] = field(default_factory=dict)
    fault_log: list[dict[str, Any]] = field(default_factory=list)
    tls: bool = True  # mutual TLS with certificates made in <workdir>/tls; False: --insecure

    def __post_init__(self) -> None:
        if not 2 <= self.n <= MAX_NODES:
            raise ValueError(f"a lab has 2-{MAX_NODES} nodes, got {self.n}")
        self.workdir = Path(self.workdir)
        self.names = RunNames(self.run_id, 1)  # the subnet is chosen in create(), once routes are known
        self._lock_fd: int | None = None
        self._closed = False
        self._created = False
        self._old_handlers: dict[int, Any] = {}

    # ------------------------------------------------------------- lifecycle

    def __enter__(self) -> Lab:
        try:
            self.create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create(self) -> None:
        """Take the run's lock, sweep dead runs, build bridge + namespaces + veths + firewall chains."""
        if self._created:
            return
        self._created = True
        atexit.register(self.close)
        self._install_signal_handlers()
        LOCK_DIR.mkdir(parents=True, exist_ok=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.names = RunNames(self.run_id, self._free_subnet())
        self._lock_fd = os.open(self.names.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        os.write(self._lock_fd, f"{os.getpid()}\n".encode())
        sweep_stale(keep=self.run_id)
        nm = self.names
        run(["ip", "link", "add", nm.bridge, "type", "bridge"])
        run(["ip", "addr", "add", f"{nm.host_addr}/24", "dev", nm.bridge])
        run(["ip", "link", "set", nm.bridge, "up"])
        for k in range(1, self.n + 1):
            ns, veth = nm.netns(k), nm.ns_veth(k)
            run(["ip", "netns", "add", ns])
            run(["ip", "link", "add", nm.host_veth(k), "type", "veth", "peer", "name", veth])
            run(["ip", "link", "set", veth, "netns", ns])
            run(["ip", "link", "set", nm.host_veth(k), "master", nm.bridge, "up"])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            run(["ip", "-n", ns, "addr", "add", f"{nm.addr(k)}/24", "dev", veth])
            run(["ip", "-n", ns, "link", "set", veth, "up"])
            self._restore(k, self._base_rules(k), flush=True)
            self.nodes[k] = LabNode(
                k=k,
                addr=f"{nm.addr(k)}:{self.port}",
                netns=ns,
                log=self.workdir / f"node{k}.log",
                out=self.workdir / f"node{k}.out",
            )
        (self.workdir / "config.json").write_text(json.dumps(self.config))
        if self.tls:
            self._certificates()
        self._note("created", bridge=nm.bridge, subnet=nm.cidr, netns=[nm.netns(k) for k in self.nodes])

    @property
    def port(self) -> int:
        return MEMBERLIST_PORT if self.mode == MEMBERLIST else DETECTOR_PORT

    @property
    def tls_dir(self) -> Path:
        return self.workdir / "tls"

    def _certificates(self) -> None:
        """A fresh CA for this run, node k's certificate for 10.200.X.k, and the host's client certificate."""
        from swimfd.commands.certs import make_ca, make_client, make_node

        shutil.rmtree(self.tls_dir, ignore_errors=True)  # an earlier run's CA must not stay trusted
        make_ca(self.tls_dir, cluster=str(self.config.get("cluster", "swimfd")))
        for k in self.nodes:
            make_node(self.tls_dir, str(k), [self.names.addr(k), *self._alt_addrs(k)])
        make_client(self.tls_dir)

    def _alt_addrs(self, k: int) -> list[str]:
        try:
            return [self.names.alt_addr(k)]
        except ValueError:
            return []  # too high a node number to move (see RunNames.alt_addr)

    def close(self) -> None:
        """Kill every process of the run and delete its namespaces and links; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            for node in self.nodes.values():
                node.signal(signal.SIGCONT)  # a stopped process dies of SIGKILL too, but its children may not
                node.signal(signal.SIGKILL)
            for node in self.nodes.values():
                if node.proc is not None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        node.proc.wait(timeout=STOP_TIMEOUT)
            if self._created:
                remove_run(self.run_id)
        finally:
            self._restore_signal_handlers()
            atexit.unregister(self.close)
            if self._lock_fd is not None:
                with contextlib.suppress(FileNotFoundError):
                    self.names.lock_file.unlink()
                os.close(self._lock_fd)  # releases the flock
                self._lock_fd = None

    def _install_signal_handlers(self) -> None:
        # SIGINT already unwinds (KeyboardInterrupt reaches __exit__); these would kill us without unwinding.
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)

    def _restore_signal_handlers(self) -> None:
        for sig, old in self._old_handlers.items():
            with contextlib.suppress(ValueError, TypeError):
                if signal.getsignal(sig) == self._on_signal:
                    signal.signal(sig, old)
        self._old_handlers = {}

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        old = self._old_handlers.get(signum, signal.SIG_DFL)
        self.close()
        if callable(old):
            old(signum, frame)
        else:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def _free_subnet(self) -> int:
        """A /24 in 10.200.0.0/16 that no host address or route overlaps (tried in a run-specific order)."""
        used = []
        for line in run(["ip", "-4", "route", "show", "table", "all"], check=False).splitlines():
            dest = line.split()[0] if line.split() else ""
            if dest and dest[0].isdigit():
                with contextlib.suppress(ValueError):
                    used.append(ipaddress.ip_network(dest, strict=False))
        for line in run(["ip", "-4", "-o", "addr", "show"], check=False).splitlines():
            parts = line.split()
            if "inet" in parts:
                used.append(ipaddress.ip_interface(parts[parts.index("inet") + 1]).network)
        candidates = list(range(1, 255))
        random.Random(self.run_id).shuffle(candidates)
        for x in candidates:
            net = ipaddress.ip_network(f"10.200.{x}.0/24")
            if not any(net.overlaps(u) for u in used if u.prefixlen > 0):
                return x
        raise LabError("no free /24 left in 10.200.0.0/16")

    # ------------------------------------------------------------- processes

    def start(
        self, k: int, *args: str, members: Sequence[int] | None = None, join: Sequence[int] | None = None
    ) -> LabNode:
        """Start node k's detector in its namespace; the detector starts its own go-diss child.

        By default every node is in the static member list. ``members``: only nodes 1..m are (it must be
        that prefix: entry i is member i); ``join``: no static list, join through these nodes instead.
        """
        node = self.nodes[k]
        if node.running():
            raise LabError(f"node {k} is already running")
        listed = sorted(self.nodes) if members is None else list(members)
        if join is None and listed != list(range(1, len(listed) + 1)):
            raise ValueError(f"a static member list names nodes 1..m in order, got {listed}")
        contacts = ",".join(self.nodes[j].addr for j in (join if join is not None else listed))
        env = dict(os.environ)
        if self.mode == MEMBERLIST:
            if not self.ml_node.exists():
                raise LabError(f"{self.ml_node} is missing (run `make ml-node`)")
            # memberlist joins through a contact list either way; it has no static membership.
            argv = [str(self.ml_node), "--id", str(k), "--bind", node.addr, "--members", contacts]
            argv += ["--log-file", str(node.log), *args]
        else:
            if not self.go_diss.exists():
                raise LabError(f"{self.go_diss} is missing (run `make build`)")
            entry = self.pyserver / "failure_detector.py"
            argv = [self.python, str(entry), "--id", str(k), "--mode", self.mode]
            argv += ["--join" if join is not None else "--members", contacts]
            # Its own address, wherever it is now (a moved node is no longer where its static entry says).
            argv += ["--bind", node.addr, "--advertise", node.addr]
            argv += ["--config", str(self.workdir / "config.json"), "--log-file", str(node.log)]
            argv += ["--go-diss", str(self.go_diss), *args]
            if "--insecure" not in args and "--tls-dir" not in args:
                argv += ["--tls-dir", str(self.tls_dir)] if self.tls else ["--insecure"]
            env["PYTHONPATH"] = os.pathsep.join([str(self.pyserver), os.environ.get("PYTHONPATH", "")])
        started_at = time.time()
        with open(node.out, "ab") as out:
            node.proc = subprocess.Popen(
                in_netns(node.netns, argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        node.starts += 1
        node.started_at = started_at
        self._note("start", node=k, pid=node.proc.pid)
        return node

    def start_all(self, *args: str, timeout: float = START_TIMEOUT) -> None:
        for k in sorted(self.nodes):
            self.start(k, *args)
        self.wait_started(self.nodes, timeout)

    def wait_started(self, ks: Iterable[int], timeout: float = START_TIMEOUT) -> None:
        """Wait (bounded) until each node has logged node_started for its latest start."""
        pending = set(ks)
        deadline = time.monotonic() + timeout
        while pending:
            for k in list(pending):
                node = self.nodes[k]
                if not node.running():
                    tail = node.out.read_text(errors="replace").strip().splitlines()[-3:] if node.out.exists() else []
                    raise LabError(f"node {k} exited at start-up: {' | '.join(tail)}")
                if len(node.events("node_started")) >= node.starts:
                    pending.discard(k)
            if pending and time.monotonic() > deadline:
                raise LabError(f"nodes {sorted(pending)} did not start within {timeout:g}s")
            if pending:
                time.sleep(0.1)

    # ---------------------------------------------------------------- faults

    def crash(self, k: int) -> None:
        """The host dies: SIGKILL the detector and its go-diss (no leave, no goodbye)."""
        node = self.nodes[k]
        pids = node.signal(signal.SIGKILL)
        if node.proc is not None:
            node.proc.wait(timeout=STOP_TIMEOUT)
        self._note("crash", node=k, pids=pids)

    def kill_diss(self, k: int) -> None:
        """SIGKILL only node k's go-diss child; the detector stays up and is expected to restart it."""
        node = self.nodes[k]
        children = node.pids()[1:]
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._note("kill_diss", node=k, pids=children)

    def pause(self, k: int) -> None:
        self._note("pause", node=k, pids=self.nodes[k].signal(signal.SIGSTOP))

    def resume(self, k: int) -> None:
        self._note("resume", node=k, pids=self.nodes[k].signal(signal.SIGCONT))

    def link_down(self, k: int) -> None:
        """The host vanishes from the network: its bridge port goes down (no reset, no ICMP, no answer)."""
        run(["ip", "link", "set", self.names.host_veth(k), "down"])
        self._note("link_down", node=k)

    def move(self, k: int) -> None:
        """Node k's host changes address (it must not be running): its old address is removed from its
        interface, its second address (RunNames.alt_addr, in its certificate) added; it is started there
        next. Cuts and loss rules keep matching it by its first address, so a moved node takes no faults."""
        node = self.nodes[k]
        if node.running():
            raise LabError(f"node {k} must be stopped before it moves")
        old, new = self.names.addr(k), self.names.alt_addr(k)
        veth = self.names.ns_veth(k)
        run(["ip", "-n", node.netns, "addr", "del", f"{old}/24", "dev", veth])
        run(["ip", "-n", node.netns, "addr", "add", f"{new}/24", "dev", veth])
        node.addr = f"{new}:{self.port}"
        self._note("move", node=k, old=old, new=new)

    def link_up(self, k: int) -> None:
        run(["ip", "link", "set", self.names.host_veth(k), "up"])
        self._note("link_up", node=k)

    def partition(self, groups: Sequence[Iterable[int]]) -> None:
        """Drop every packet between different groups, both ways; nodes in no group form one more group."""
        sets = [set(g) for g in groups]
        listed = set().union(*sets) if sets else set()
        if sum(len(s) for s in sets) != len(listed):
            raise ValueError("a node is in two groups")
        if not listed <= set(self.nodes):
            raise ValueError(f"unknown nodes {sorted(listed - set(self.nodes))}")
        rest = set(self.nodes) - listed
        if rest:
            sets.append(rest)
        for group in sets:
            others = [o for o in self.nodes if o not in group]
            for k in group:
                rules = [f"-A {CUT_IN} -s {self.names.addr(o)} -j DROP" for o in others]
                self._restore(k, [f"-F {CUT_IN}", *rules])
        self._note("partition", groups=[sorted(g) for g in sets])

    def cut(self, src: int, dst: int) -> None:
        """One-way cut: packets from ``src`` never reach ``dst`` (dropped on arrival); dst -> src still flows."""
        self._restore(dst, [f"-A {CUT_IN} -s {self.names.addr(src)} -j DROP"])
        self._note("cut", src=src, dst=dst)

    def heal(self) -> None:
        """Remove every partition and cut."""
        for k in self.nodes:
            self._restore(k, [f"-F {CUT_IN}"])
        self._note("heal")

    def loss(self, p: float) -> None:
        """Packet loss ``p`` on every link between lab hosts, both directions, in the kernel (iptables statistic)."""
        if not 0.0 <= p < 1.0:
            raise ValueError(f"loss must be in [0, 1), got {p}")
        for k in self.nodes:
            run(in_netns(self.nodes[k].netns, ["iptables", "-Z"]))  # loss_counters() counts from here
            rule = f"-A {LOSS_IN} -m statistic --mode random --probability {p:.6f} -j DROP"
            self._restore(k, [f"-F {LOSS_IN}", rule])
        self._note("loss", p=p)

    def clear_loss(self) -> None:
        for k in self.nodes:
            self._restore(k, [f"-F {LOSS_IN}"])
        self._note("clear_loss")

    def loss_counters(self) -> dict[str, int]:
        """Packets between lab hosts that reached the loss rules, and how many they dropped (all hosts)."""
        total = {"seen": 0, "dropped": 0}
        for k in self.nodes:
            for line in run(in_netns(self.nodes[k].netns, ["iptables-save", "-c", "-t", "filter"])).splitlines():
                if not line.startswith("["):
                    continue
                counts, _, rule = line.partition("] ")
                packets = int(counts.lstrip("[").split(":")[0])
                if rule.startswith("-A INPUT") and rule.endswith(f"-j {LOSS_IN}"):
                    total["seen"] += packets
                elif rule.startswith(f"-A {LOSS_IN}") and rule.endswith("-j DROP"):
                    total["dropped"] += packets
        return total

    def _base_rules(self, k: int) -> list[str]:
        veth, host = self.names.ns_veth(k), self.names.host_addr
        return [
            f":{CUT_IN} - [0:0]",
            f":{LOSS_IN} - [0:0]",
            f"-A INPUT -i {veth} -j {CUT_IN}",
            f"-A INPUT -i {veth} ! -s {host}/32 -j {LOSS_IN}",  # the observer's queries are never lost
        ]

    def _restore(self, k: int, lines: list[str], flush: bool = False) -> None:
        """Apply filter-table lines in node k's namespace in one atomic iptables-restore."""
        argv = ["iptables-restore"] if flush else ["iptables-restore", "--noflush"]
        run(in_netns(self.names.netns(k), argv), stdin="*filter\n" + "\n".join(lines) + "\nCOMMIT\n")

    def _note(self, what: str, **fields: Any) -> None:
        entry = {"ts": round(time.time(), 6), "fault": what, **fields}
        self.fault_log.append(entry)
        with open(self.workdir / "lab.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    # ------------------------------------------------------------- observing

    def view(self, k: int, timeout: float = 2.0) -> dict[str, int] | None:
        """id -> state in node k's view (from the host, over the bridge), or None when it does not answer."""
        if self.mode == MEMBERLIST:
            return self._logged_view(k)
        reply = self._members(k, timeout)
        return None if reply is None else {mv.member.id: mv.member.state for mv in reply.members}

    def _logged_view(self, k: int) -> dict[str, int] | None:
        """memberlist has no Members call: its view is what its delegate reported, replayed from the log
        (member_joined: alive, also when a dead member comes back; member_failed: dead). None when the node is
        not running, like a detector that does not answer."""
        from swimfd.pb import swim_pb2 as pb

        node = self.nodes[k]
        if not node.running():
            return None
        # The log spans every life of the node; only the latest counts. Its events can precede its own
        # node_started line (members join it while memberlist.Create returns), so lives split by start time.
        view = {node.node_id: pb.ALIVE}
        for ev in node.events():
            name = ev.get("event")
            if name in ("member_joined", "member_failed") and float(ev.get("ts", 0.0)) >= node.started_at:
                view[str(ev.get("member"))] = pb.ALIVE if name == "member_joined" else pb.DEAD
        return view

    def addrs(self, k: int, timeout: float = 2.0) -> dict[str, str] | None:
        """id -> the address node k records for that member, or None when it does not answer."""
        reply = self._members(k, timeout)
        return None if reply is None else {mv.member.id: mv.member.addr for mv in reply.members}

    def leader(self, k: int, timeout: float = 2.0) -> tuple[str, int] | None:
        """(leader id, term) node k believes in, ("", 0) while it knows none, None when it does not answer."""
        reply = self._members(k, timeout)
        if reply is None:
            return None
        return (reply.leader.leader.id, int(reply.leader.term)) if reply.HasField("leader") else ("", 0)

    def _members(self, k: int, timeout: float) -> Any:
        import grpc

        from swimfd.pb import swim_pb2 as pb
        from swimfd.pb import swim_pb2_grpc
        from swimfd.runtime.tls import TLSFiles, TLSMaterial

        addr = self.nodes[k].addr
        try:
            if self.tls:
                files = TLSFiles.client_in_dir(self.tls_dir)
                ch = grpc.secure_channel(addr, TLSMaterial.load(files, member=False).channel_credentials())
            else:
                ch = grpc.insecure_channel(addr)
            with ch:
                reply = swim_pb2_grpc.FailureDetectorStub(ch).Members(pb.MembersRequest(), timeout=timeout)
        except grpc.RpcError:
            return None
        return reply

    def views(self, ks: Iterable[int] | None = None) -> dict[int, dict[str, str] | None]:
        """Views by state name, for reports and failure messages."""
        from swimfd.pb import swim_pb2 as pb

        out: dict[int, dict[str, str] | None] = {}
        for k in ks if ks is not None else sorted(self.nodes):
            v = self.view(k)
            out[k] = None if v is None else {i: pb.MemberState.Name(s) for i, s in sorted(v.items(), key=_id_key)}
        return out


def _id_key(item: tuple[str, int]) -> tuple[int, str]:
    return (int(item[0]) if item[0].isdigit() else 0, item[0])


def wait_until(cond: Callable[[], bool], timeout: float, poll: float = 0.1) -> bool:
    """Poll ``cond`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
