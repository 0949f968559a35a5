"""deploy/entrypoint.sh outside a container: the id, flags and exec it produces from a pod's host name."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from deploy_files import ENTRYPOINT, REPO, run_entrypoint, settings_for, stub_output

from swimfd.commands.health import check
from swimfd.runtime.settings import DISS_PORT_OFFSET

DOMAIN = "swimfd.prod.svc.cluster.local"


def free_port_pair() -> int:
    """A port p such that p and p + DISS_PORT_OFFSET are free on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + DISS_PORT_OFFSET > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + DISS_PORT_OFFSET))
            except OSError:
                continue
        return port
    raise RuntimeError("no free pair of ports")


@pytest.mark.parametrize(
    ("host", "node_id", "seeds"),
    [
        ("swimfd-0", "1", ["swimfd-1", "swimfd-2"]),
        ("swimfd-2", "3", ["swimfd-0", "swimfd-1"]),
        ("swimfd-4", "5", ["swimfd-0", "swimfd-1", "swimfd-2"]),
        ("my-set-10", "11", ["my-set-0", "my-set-1", "my-set-2"]),
    ],
)
def test_the_ordinal_plus_one_is_the_id_and_the_seeds_are_the_other_first_pods(
    tmp_path: Path, host: str, node_id: str, seeds: list[str]
) -> None:
    env = {"HOSTNAME": host, "SWIMFD_PEER_DOMAIN": DOMAIN, "SWIMFD_PORT": "7946"}
    done = run_entrypoint(tmp_path, env, "--log-level", "debug")
    assert done.returncode == 0, done.stderr
    _, exported_id, argv = stub_output(done.stdout)
    assert exported_id == node_id
    join = ",".join(f"{s}.{DOMAIN}:7946" for s in seeds)
    assert argv == [
        "run", "--id", node_id, "--bind", "0.0.0.0:7946", "--advertise", f"{host}.{DOMAIN}:7946",
        "--join", join, "--log-level", "debug",
    ]  # fmt: skip
    # The detector's own parser accepts all of it (plaintext here: TLS is the manifests' business).
    s = settings_for([*argv, "--insecure"], {})
    assert (s.node_id, s.bind, s.advertise) == (node_id, "0.0.0.0:7946", f"{host}.{DOMAIN}:7946")
    assert s.seeds == tuple(join.split(","))
    assert (s.diss_listen, s.diss_addr) == (f"0.0.0.0:{7946 + DISS_PORT_OFFSET}", f"{host}.{DOMAIN}:7956")
    assert s.log_level == "debug"
    assert f"member {node_id} (host {host})" in done.stderr


def test_the_entrypoint_execs_the_detector_in_its_own_process(tmp_path: Path) -> None:
    """exec, not a child: the runtime's SIGTERM must reach the detector itself."""
    stub = tmp_path / "stub.sh"
    run_entrypoint(tmp_path, {"HOSTNAME": "swimfd-1"})  # writes the stub
    env = {"PATH": os.environ["PATH"], "SWIMFD_BIN": str(stub), "HOSTNAME": "swimfd-1"}
    proc = subprocess.Popen(["sh", str(ENTRYPOINT), "--insecure"], env=env, stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=30)
    pid, node_id, _ = stub_output(out)
    assert (pid, node_id) == (proc.pid, "2")


def test_without_a_domain_peers_are_bare_host_names_and_a_lone_seed_joins_nobody(tmp_path: Path) -> None:
    done = run_entrypoint(tmp_path, {"HOSTNAME": "swimfd-0", "SWIMFD_SEED_COUNT": "1"})
    assert done.returncode == 0, done.stderr
    _, node_id, argv = stub_output(done.stdout)
    assert (node_id, argv) == ("1", ["run", "--id", "1", "--bind", "0.0.0.0:50051", "--advertise", "swimfd-0:50051"])
    assert settings_for([*argv, "--insecure"], {}).seeds == ()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HOSTNAME": "swimfd"}, "does not end in -ORDINAL"),
        ({"HOSTNAME": "swimfd-x"}, "does not end in -ORDINAL"),
        ({"HOSTNAME": "-3"}, "is not NAME-ORDINAL"),
        ({"HOSTNAME": "swimfd-1", "SWIMFD_PORT": "http"}, "SWIMFD_PORT 'http'"),
        ({"HOSTNAME": "swimfd-1", "SWIMFD_SEED_COUNT": "three"}, "SWIMFD_SEED_COUNT 'three'"),
    ],
)
def test_bad_input_is_one_line_and_nothing_is_started(tmp_path: Path, env: dict[str, str], message: str) -> None:
    done = run_entrypoint(tmp_path, env)
    assert done.returncode == 64
    assert done.stdout == ""
    assert message in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.integration
def test_the_entrypoint_starts_a_real_detector_that_serves_and_leaves_on_sigterm(tmp_path: Path) -> None:
    """The real `swimfd` behind the entrypoint: SERVING on health, exit 0 soon after SIGTERM."""
    go_diss = REPO / "bin" / "go-diss"
    if not go_diss.exists():
        pytest.skip("bin/go-diss is not built (run `make build`)")
    port = free_port_pair()
    swimfd = Path(sys.executable).parent / "swimfd"  # the console script next to this interpreter
    binary = str(swimfd) if swimfd.exists() else "swimfd"
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO / "pyserver"),
        "SWIMFD_BIN": binary,
        "SWIMFD_GO_DISS": str(go_diss),
        "HOSTNAME": "swimfd-0",
        "SWIMFD_SEED_COUNT": "1",
        "SWIMFD_PORT": str(port),
        "LOG_FILE": str(tmp_path / "node.log"),
    }
    proc = subprocess.Popen(
        ["sh", str(ENTRYPOINT), "--insecure"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        status = ""
        while time.monotonic() < deadline and status != "SERVING" and proc.poll() is None:
            status = check(f"127.0.0.1:{port}", "", 1.0)
            time.sleep(0.2)
        assert status == "SERVING", (status, proc.poll())
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)  # what the kubelet (or the preStop hook) sends to PID 1
        assert proc.wait(timeout=20) == 0
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = (tmp_path / "node.log").read_text()
    assert '"event": "node_leaving"' in log and '"event": "node_stopped"' in log
    with pytest.raises(grpc.FutureTimeoutError), grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        grpc.channel_ready_future(ch).result(timeout=1)
