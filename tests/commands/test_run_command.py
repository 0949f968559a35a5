"""Flag and environment parsing: defaults from NODE_ID/MEMBERS, flags win, every problem is one clear line."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from swimfd.commands.run import add_arguments, parse_settings
from swimfd.runtime.settings import UsageError, split_hostport

MEMBERS = "localhost:50051,localhost:50052,localhost:50053"
REPO = Path(__file__).resolve().parents[2]


def parse(argv: list[str], env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser(prog="fd")
    add_arguments(parser)
    # Plaintext unless the test is about TLS: these tests are about the other flags.
    tls = "--tls-dir" in argv or "--insecure" in argv or "SWIMFD_TLS_DIR" in (env or {})
    return parse_settings(parser.parse_args(argv if tls else [*argv, "--insecure"]), env or {})


def test_node_id_picks_its_members_entry() -> None:
    s = parse([], {"NODE_ID": "2", "MEMBERS": MEMBERS})
    assert s.node_id == "2"
    assert s.bind == s.advertise == "localhost:50052"
    assert s.members == ("localhost:50051", "localhost:50052", "localhost:50053")
    assert (s.diss_listen, s.diss_addr) == ("localhost:50062", "localhost:50062")
    assert s.config.mode == "swim"
    assert s.seeds == ()


def test_only_node_id_uses_default_ports() -> None:
    s = parse([], {"NODE_ID": "4"})
    assert s.bind == "127.0.0.1:50054"
    assert s.diss_listen == "127.0.0.1:50064"


def test_flags_override_environment() -> None:
    s = parse(
        ["--id", "3", "--mode", "hybrid", "--members", "a:1,b:2,c:3"],
        {"NODE_ID": "1", "MODE": "heartbeat", "MEMBERS": MEMBERS},
    )
    assert (s.node_id, s.bind, s.config.mode) == ("3", "c:3", "hybrid")


def test_bind_all_interfaces_advertises_members_entry() -> None:
    s = parse(["--id", "1", "--members", MEMBERS, "--bind", "0.0.0.0:50051"])
    assert s.bind == "0.0.0.0:50051"
    assert s.advertise == "localhost:50051"
    assert s.diss_listen == "0.0.0.0:50061"
    assert s.diss_addr == "localhost:50061"


def test_join_with_several_seeds_and_diss_addr() -> None:
    s = parse(["--id", "6", "--join", "localhost:50051, localhost:50052", "--diss-addr", "127.0.0.1:7000"])
    assert s.seeds == ("localhost:50051", "localhost:50052")
    assert (s.diss_addr, s.diss_listen) == ("127.0.0.1:7000", None)


def test_config_file_then_mode_override(tmp_path: Path) -> None:
    cfg = tmp_path / "fast.json"
    cfg.write_text(json.dumps({"probe_interval": 0.2, "probe_timeout": 0.1, "mode": "heartbeat"}))
    s = parse(["--id", "1", "--config", str(cfg)])
    assert (s.config.probe_interval, s.config.mode) == (0.2, "heartbeat")
    s = parse(["--id", "1", "--config", str(cfg), "--mode", "swim"])
    assert s.config.mode == "swim"


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        ([], {}, "NODE_ID (or --id) is required"),
        ([], {"NODE_ID": "x"}, "NODE_ID: 'x' is not a positive integer"),
        (["--id", "0"], {}, "--id: '0' is not a positive integer"),
        ([], {"NODE_ID": "4", "MEMBERS": MEMBERS}, "NODE_ID: 4 is out of range 1-3 for MEMBERS"),
        ([], {"NODE_ID": "1", "MEMBERS": "localhost"}, "MEMBERS: 'localhost' is not host:port"),
        ([], {"NODE_ID": "1", "MEMBERS": "a:1,,b:2"}, "MEMBERS: 'a:1,,b:2' must be a comma-separated list"),
        ([], {"NODE_ID": "1", "MEMBERS": "a:1,a:1"}, "MEMBERS: a:1 is listed twice"),
        ([], {"NODE_ID": "1", "MEMBERS": "a:99999"}, "needs a port number in 1-65535"),
        (["--id", "1", "--mode", "paxos"], {}, "--mode: 'paxos' is not one of swim, heartbeat, hybrid"),
        (["--id", "1"], {"MODE": "raft"}, "MODE: 'raft' is not one of"),
        (["--id", "1", "--join", "nohost"], {}, "--join: 'nohost' is not host:port"),
        (["--id", "1", "--bind", "0.0.0.0:7000"], {}, "listens on every interface; pass --advertise"),
        (["--id", "1", "--bind", "h:65530"], {}, "leaves no room for the dissemination port"),
        (["--id", "20000"], {}, "too large for the default port"),
        (["--id", "1", "--test-loss", "0.1"], {}, "set SWIMFD_ENABLE_FAULT_INJECTION=1"),
        (["--id", "1", "--test-loss", "2"], {"SWIMFD_ENABLE_FAULT_INJECTION": "1"}, "must be in [0, 1)"),
        (["--id", "1", "--config", "/nonexistent/c.json"], {}, "--config: config file /nonexistent/c.json"),
        (["--id", "1", "--cluster-key-file", "/nonexistent/k"], {}, "--cluster-key-file was removed: mutual TLS"),
        ([], {"NODE_ID": "1", "CLUSTER_KEY_FILE": "k"}, "--cluster-key-file was removed: mutual TLS"),
        (["--id", "1"], {"LOG_LEVEL": "loud"}, "LOG_LEVEL: 'loud' is not one of debug, info, warning, error"),
    ],
)
def test_bad_input_is_one_clear_error(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse(argv, env)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_config_value_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"probe_interval": -1}))
    with pytest.raises(UsageError, match="probe_interval"):
        parse(["--id", "1", "--config", str(cfg)])


def test_test_loss_allowed_when_enabled() -> None:
    s = parse(["--id", "1", "--test-loss", "0.25"], {"SWIMFD_ENABLE_FAULT_INJECTION": "1"})
    assert s.test_loss == 0.25


@pytest.mark.parametrize(
    ("value", "expected"), [("h:1", ("h", 1)), ("[::1]:50051", ("[::1]", 50051)), ("10.0.0.1:80", ("10.0.0.1", 80))]
)
def test_split_hostport(value: str, expected: tuple[str, int]) -> None:
    assert split_hostport(value, "x") == expected


@pytest.mark.parametrize("value", ["::1:80", "[zz]:80", "h:", ":80", "h:0", "h:port"])
def test_split_hostport_refuses(value: str) -> None:
    with pytest.raises(UsageError):
        split_hostport(value, "x")


def _run_entry(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "pyserver" / "failure_detector.py"), *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_entry_point_exits_nonzero_with_one_line() -> None:
    p = _run_entry([], {"NODE_ID": "9", "MEMBERS": MEMBERS})
    assert p.returncode == 2
    assert p.stderr.strip() == "swimfd: error: NODE_ID: 9 is out of range 1-3 for MEMBERS"


def test_unknown_flag_is_one_line() -> None:
    p = _run_entry(["--id", "1", "--frobnicate"], {})
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "unrecognized arguments: --frobnicate" in lines[0]
