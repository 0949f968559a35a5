"""`python -m swimfd simulate` argument handling (no simulation needed)."""

from __future__ import annotations

import argparse

import pytest
from swimfd.simulate_cmd import (
    PartitionSpec,
    PauseSpec,
    UsageError,
    add_arguments,
    parse_partition,
    parse_pause,
    run,
    scenario_from_args,
)


def args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(list(argv))


def test_partition_syntax() -> None:
    assert parse_partition("0.3:20:50") == PartitionSpec(0.3, 20.0, 50.0)
    assert parse_partition("0.5:5") == PartitionSpec(0.5, 5.0, None)
    assert parse_partition("0.5:5:") == PartitionSpec(0.5, 5.0, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0.3", "FRACTION:START"),
        ("1.2:5:10", "between 0 and 1"),
        ("0.3:10:5", "after START"),
        ("x:1:2", "not a number"),
        ("0.3:-1", ">= 0"),
        ("0.3:nan:5", "finite"),
    ],
)
def test_partition_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_partition(text)


def test_pause_syntax_and_errors() -> None:
    assert parse_pause("2:5") == PauseSpec(2, 5.0)
    for bad, message in (("2", "K:SECONDS"), ("a:5", "integer"), ("0:5", "K >= 1"), ("2:0", "SECONDS > 0")):
        with pytest.raises(UsageError, match=message):
            parse_pause(bad)


def test_scenario_defaults() -> None:
    sc = scenario_from_args(args("--nodes", "50", "--mode", "hybrid", "--kill", "3"))
    assert sc.nodes == 50 and sc.kill == 3 and sc.config.mode == "hybrid"
    assert sc.config.election is False  # the election is opt-in in the simulator
    assert sc.fault_at == 10.0 and sc.duration == 60.0 and sc.seed == 1


def test_config_file_and_mode_override(tmp_path) -> None:
    f = tmp_path / "c.json"
    f.write_text('{"probe_interval": 2.0, "probe_timeout": 1.0, "mode": "swim", "election": true}')
    sc = scenario_from_args(args("--nodes", "5", "--mode", "heartbeat", "--config", str(f)))
    assert sc.config.mode == "heartbeat" and sc.config.probe_interval == 2.0 and sc.config.election is True
    sc = scenario_from_args(args("--nodes", "5", "--config", str(f), "--election", "off"))
    assert sc.config.election is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--nodes", "1"], "at least 2"),
        (["--nodes", "5", "--loss", "1"], "--loss"),
        (["--nodes", "5", "--loss", "-0.1"], "--loss"),
        (["--nodes", "5", "--kill", "5"], "no live member"),
        (["--nodes", "5", "--kill", "2", "--pause", "3:1"], "no live member"),
        (["--nodes", "5", "--kill", "-1"], "--kill"),
        (["--nodes", "5", "--duration", "0"], "--duration"),
        (["--nodes", "5", "--fault-at", "70"], "--fault-at"),
        (["--nodes", "5", "--partition", "0.5:100:120"], "after --duration"),
        (["--nodes", "5", "--delay", "0.1:0.01"], "--delay"),
        (["--nodes", "5", "--convergence-sample", "-1"], "--convergence-sample"),
    ],
)
def test_invalid_arguments(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        scenario_from_args(args(*argv))


def test_run_reports_errors_clearly(tmp_path, capsys) -> None:
    assert run(args("--nodes", "5", "--kill", "9")) == 2
    assert "simulate: --kill 9" in capsys.readouterr().err
    f = tmp_path / "bad.json"
    f.write_text('{"probe_intervall": 1}')
    assert run(args("--nodes", "5", "--config", str(f))) == 2
    assert "unknown key(s) probe_intervall" in capsys.readouterr().err
