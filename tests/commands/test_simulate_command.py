"""`python -m swimfd simulate` argument handling (no simulation needed)."""

from __future__ import annotations

import argparse

import pytest

from swimfd.commands.simulate import (
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


def test_run_beyond_the_memory_budget_is_refused_before_it_starts(capsys) -> None:
    assert run(args("--nodes", "10000", "--max-rss-gb", "0.5")) == 3
    err = capsys.readouterr().err
    assert "10000 members would need about" in err and "MiB per member" in err and "(--max-rss-gb)" in err


def test_sim_table_lists_results_and_refused_cells() -> None:
    from swimfd.sim.table import table

    ns = argparse.Namespace(kill=10, loss=0.05, duration=60.0, seed=1)
    done = {
        "detect_first_s": {"p50": 1.0, "p95": 2.0, "max": 3.0},
        "detect_all_s": {"p50": 4.0, "p95": 5.0, "max": 6.25},
        "detected_by_all": 10,
        "killed": 10,
        "false_positives": 0,
        "msgs_per_node_s": 2.345,
        "bytes_per_node_s": 1234.4,
        "converged": True,
        "wall_s": 12.4,
    }
    text = table([("swim", 100, done), ("hybrid", 10000, {"error": "would need about 40 GiB"})], ns)
    assert "| swim | 100 | 1.0 / 2.0 / 3.0 | 4.0 / 5.0 / 6.2 | 10/10 | 0 | 2.35 | 1,234 | yes | 12 |" in text
    assert "| hybrid | 10,000 | not run |" in text
    assert "- hybrid, n = 10,000: would need about 40 GiB" in text


def test_sim_table_plots_detection_and_bytes_against_n(tmp_path) -> None:
    from swimfd.sim.table import plot, plot_series

    def cell(first: float, every: float, load: float) -> dict[str, object]:
        return {
            "detect_first_s": {"p50": first, "p95": first, "max": first},
            "detect_all_s": {"p50": every, "p95": every, "max": every},
            "bytes_per_node_s": load,
        }

    cells = [
        ("swim", 1000, cell(12.0, 16.0, 1100.0)),
        ("swim", 100, cell(10.0, 12.0, 600.0)),
        ("heartbeat", 100, cell(15.0, 20.0, 300.0)),
        ("hybrid", 10000, {"error": "refused"}),
    ]
    series = plot_series(cells)
    assert series["swim"] == {
        "first_p95": [(100, 10.0), (1000, 12.0)],
        "all_p95": [(100, 12.0), (1000, 16.0)],
        "bytes": [(100, 600.0), (1000, 1100.0)],
    }
    assert "hybrid" not in series  # a refused cell has no point
    out = tmp_path / "plot.png"
    plot(cells, out)
    assert out.read_bytes().startswith(b"\x89PNG")
