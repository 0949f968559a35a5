import math
from pathlib import Path

from swimfd.bench.report import (
    fmt,
    markdown,
    memberlist_ahead,
    ratio,
    ratio_rows,
    read_csv,
    write_csv,
)


def row(system: str, n: int, scenario: str = "crash", **figures: object) -> dict:
    return {"system": system, "source": "real", "n": n, "scenario": scenario, "loss": 0.0, **figures}


def test_ratio_handles_missing_and_zero() -> None:
    assert ratio(2.0, 4.0) == 0.5
    assert ratio(0, 0) == 1.0
    assert math.isinf(ratio(3, 0))
    assert ratio(None, 1.0) is None
    assert ratio(1.0, None) is None
    assert ratio(True, 1.0) is None  # booleans are not figures


def test_ratio_rows_pair_each_mode_with_memberlist_at_the_same_scenario_and_n() -> None:
    rows = [
        row("swim", 5, detect_all_p50_s=3.0, bytes_per_member_s=200.0),
        row("hybrid", 5, detect_all_p50_s=6.0),
        row("memberlist", 5, detect_all_p50_s=4.0, bytes_per_member_s=100.0),
        row("swim", 10, detect_all_p50_s=1.0),  # no memberlist run at n = 10
        {**row("swim", 5), "source": "simulator", "detect_all_p50_s": 9.0},  # simulator rows are not compared
    ]
    got = ratio_rows(rows)
    assert [(r["system"], r["n"]) for r in got] == [("swim", 5), ("hybrid", 5)]
    assert got[0]["detect_all_p50_s"] == 0.75
    assert got[0]["bytes_per_member_s"] == 2.0
    assert got[1]["detect_all_p50_s"] == 1.5
    assert got[1]["bytes_per_member_s"] is None


def test_memberlist_ahead_lists_figures_where_swimfd_is_higher() -> None:
    ratios = ratio_rows(
        [
            row("swim", 5, detect_all_p50_s=3.0, bytes_per_member_s=200.0),
            row("memberlist", 5, detect_all_p50_s=4.0, bytes_per_member_s=100.0),
        ]
    )
    assert memberlist_ahead(ratios) == ["- crash N=5 swim: bytes/member/s x2"]
    assert memberlist_ahead([]) == ["- no comparison available"]


def test_csv_round_trip_keeps_types_and_unknown_columns(tmp_path: Path) -> None:
    rows = [row("swim", 5, detect_all_p50_s=3.5, undetected=0, recovered=True, custom="x"), row("memberlist", 5)]
    path = tmp_path / "r.csv"
    write_csv(rows, path)
    back = read_csv(path)
    assert back[0]["detect_all_p50_s"] == 3.5
    assert back[0]["undetected"] == 0
    assert back[0]["recovered"] is True
    assert back[0]["custom"] == "x"
    assert back[1]["detect_all_p50_s"] is None
    assert path.read_text().splitlines()[0].startswith("system,source,n,scenario,loss,")


def test_fmt() -> None:
    assert [fmt(v) for v in (None, True, 0.0, 0.12345, 12.34, 12345.6, math.inf, 7)] == [
        "-",
        "yes",
        "0",
        "0.123",
        "12.3",
        "12,346",
        "inf",
        "7",
    ]


def test_markdown_has_parameters_tables_ratios_and_failures() -> None:
    rows = [
        row("swim", 5, detect_all_p50_s=3.0),
        row("memberlist", 5, detect_all_p50_s=4.0),
        row("swim", 5, "loss10", fp_per_member_hour=0.0, error="member 2 exited during start-up"),
        {**row("hybrid", 100), "source": "simulator", "detect_all_p50_s": 5.0},
    ]
    md = markdown(rows, ["# title"], ["- seed 1"])
    assert "## Parameters\n\n- seed 1" in md
    assert "### crash (real processes on loopback)" in md
    assert "### crash (simulator)" in md
    assert "| 5 | swim | " in md
    assert "| crash | 5 | swim | " in md  # ratio table row
    assert "- swim N=5 loss10 (real): member 2 exited during start-up" in md
    # the simulator table has no CPU or memory columns: the simulator does not measure them
    sim_table = md.split("### crash (simulator)")[1].split("##")[0]
    assert "CPU" not in sim_table
