import json
import sys
from pathlib import Path

from swimfd.bench import simjoin
from swimfd.bench.simjoin import command, row_from_result, run_sim, sim_duration


def test_command_kills_one_member_and_runs_past_the_longest_suspicion() -> None:
    cmd = command("hybrid", 1000, seed=4)
    assert cmd[1:4] == ["-m", "swimfd", "simulate"]
    args = dict(zip(cmd[4::2], cmd[5::2], strict=False))
    assert args["--nodes"] == "1000" and args["--mode"] == "hybrid" and args["--kill"] == "1" and args["--seed"] == "4"
    assert "--json" in cmd
    assert float(args["--duration"]) == sim_duration(1000) == 10 + 2 * 72 + 20
    assert "--config" not in cmd
    assert command("swim", 5, seed=1, config=Path("c.json"))[-2:] == ["--config", "c.json"]


def test_row_from_result_maps_the_simulator_keys() -> None:
    result = {
        "nodes": 100,
        "killed": 1,
        "virtual_s": 136.0,
        "detect_first_s": {"p50": 4.25, "p95": 4.25, "max": 4.25},
        "detect_all_s": {"p50": None, "p95": None, "max": None},
        "detected_by_all": 0,
        "false_positives": 2,
        "msgs_per_node_s": 3.5,
        "bytes_per_node_s": 410.25,
        "converged": False,
        "params": {"loss": 0.0},
    }
    row = row_from_result("swim", 100, result, ["python", "-m", "swimfd", "simulate"], wall_s=12.0)
    assert (row["system"], row["source"], row["n"], row["scenario"]) == ("swim", "simulator", 100, "crash")
    assert row["detect_first_p50_s"] == 4.25
    assert row["detect_all_p50_s"] is None
    assert row["undetected"] == 1
    assert row["fp_per_member_hour"] == round(2 / (100 * 136.0 / 3600), 3)
    assert (row["msgs_per_member_s"], row["bytes_per_member_s"]) == (3.5, 410.2)
    assert row["converged"] is False
    assert json.loads(row["params"])["params"] == {"loss": 0.0}


def test_a_simulator_that_prints_garbage_gives_an_error_row(tmp_path: Path, monkeypatch) -> None:
    script = tmp_path / "fake.py"
    script.write_text("print('not json')")
    monkeypatch.setattr(simjoin, "command", lambda *a: [sys.executable, str(script)])
    row = run_sim("swim", 100, seed=1, repo=tmp_path, timeout_s=30)
    assert row["source"] == "simulator" and "no usable JSON" in row["error"]


def test_a_failing_simulator_gives_an_error_row(tmp_path: Path, monkeypatch) -> None:
    script = tmp_path / "fake.py"
    script.write_text("import sys; sys.stderr.write('boom'); sys.exit(3)")
    monkeypatch.setattr(simjoin, "command", lambda *a: [sys.executable, str(script)])
    row = run_sim("swim", 100, seed=1, repo=tmp_path, timeout_s=30)
    assert row["error"] == "simulator exit 3: boom"
