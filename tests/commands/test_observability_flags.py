"""--metrics-addr, --diss-metrics-addr, --on-event and their config keys and environment variables."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from swimfd.commands import config_file
from swimfd.commands.run import add_arguments, parse_settings
from swimfd.runtime.diss_process import DissCommand
from swimfd.runtime.settings import UsageError

MEMBERS = "localhost:50051,localhost:50052"


def parse(argv: list[str], env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser(prog="fd")
    add_arguments(parser)
    return parse_settings(parser.parse_args(["--id", "1", "--members", MEMBERS, "--insecure", *argv]), env or {})


def test_metrics_are_off_unless_asked_for() -> None:
    s = parse([])
    assert (s.metrics_addr, s.diss_metrics_addr, s.event_handlers) == (None, None, ())


def test_go_diss_metrics_default_to_the_next_port() -> None:
    s = parse(["--metrics-addr", "0.0.0.0:9100"])
    assert (s.metrics_addr, s.diss_metrics_addr) == ("0.0.0.0:9100", "0.0.0.0:9101")
    explicit = parse(["--metrics-addr", "0.0.0.0:9100", "--diss-metrics-addr", "127.0.0.1:9200"])
    assert explicit.diss_metrics_addr == "127.0.0.1:9200"
    # An external go-diss (--diss-addr) is not ours to configure.
    external = parse(["--metrics-addr", "0.0.0.0:9100", "--diss-addr", "localhost:6000"])
    assert external.diss_metrics_addr is None


def test_environment_and_config_file(tmp_path: Path) -> None:
    env = parse([], {"METRICS_ADDR": "127.0.0.1:9300", "DISS_METRICS_ADDR": "127.0.0.1:9400"})
    assert (env.metrics_addr, env.diss_metrics_addr) == ("127.0.0.1:9300", "127.0.0.1:9400")
    cfg = tmp_path / "c.json"
    cfg.write_text(
        json.dumps(
            {
                "probe_interval": 2.0,
                "metrics_addr": "127.0.0.1:9500",
                "on_event": {"member_failed": ["a.sh", "b.sh"], "*": "log.sh"},
                "event_handler_timeout": 5,
            }
        )
    )
    s = parse(["--config", str(cfg), "--on-event", "leader_elected=c.sh"])
    assert s.config.probe_interval == 2.0  # protocol keys still reach Config
    assert (s.metrics_addr, s.diss_metrics_addr) == ("127.0.0.1:9500", "127.0.0.1:9501")
    assert s.event_handlers == (
        ("member_failed", "a.sh"),
        ("member_failed", "b.sh"),
        ("*", "log.sh"),
        ("leader_elected", "c.sh"),
    )
    assert s.event_handler_timeout == 5.0
    assert parse(["--config", str(cfg), "--metrics-addr", "127.0.0.1:1"]).metrics_addr == "127.0.0.1:1"  # flag wins
    assert config_file.runtime_keys(cfg)["metrics_addr"] == "127.0.0.1:9500"


def test_on_event_command_keeps_its_equals_signs() -> None:
    s = parse(["--on-event", "member_failed=env X=1 ./notify.sh"])
    assert s.event_handlers == (("member_failed", "env X=1 ./notify.sh"),)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--metrics-addr", "9100"], "--metrics-addr: '9100' is not host:port"),
        (["--metrics-addr", "h:65535"], "no room for go-diss's metrics port"),
        (["--on-event", "member_failed"], "--on-event: 'member_failed' is not NAME=COMMAND"),
        (["--on-event", "member_dead=x"], "--on-event: 'member_dead' is not an event name"),
        (["--on-event", "member_failed= "], "--on-event: member_failed: empty command"),
        (["--on-event", "*=x", "--event-handler-timeout", "0"], "must be positive"),
        (["--on-event", "*=x", "--event-handler-timeout", "soon"], "is not a number"),
    ],
)
def test_bad_input_is_one_clear_error(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("*", r"\*").replace("(", r"\(")):
        parse(argv)


def test_go_diss_gets_its_metrics_flag() -> None:
    cmd = DissCommand(binary="go-diss", node_id="1", listen="h:1", detector="h:2", cluster="c", metrics_addr="h:9101")
    argv = cmd.argv()
    assert argv[argv.index("--metrics-addr") + 1] == "h:9101"
    assert (
        "--metrics-addr"
        not in DissCommand(binary="go-diss", node_id="1", listen="h:1", detector="h:2", cluster="c").argv()
    )
