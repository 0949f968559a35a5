from pathlib import Path

from swimfd.bench.plots import write_all


def rows() -> list[dict]:
    out = []
    for system, base in (("swim", 3.0), ("heartbeat", 5.0), ("hybrid", 2.5), ("memberlist", 4.0)):
        for n in (5, 10):
            out.append(
                {
                    "system": system,
                    "source": "real",
                    "n": n,
                    "scenario": "crash",
                    "loss": 0.0,
                    "detect_first_p50_s": base,
                    "detect_all_p50_s": base + 1,
                    "bytes_per_member_s": 100.0 * n,
                }
            )
            for scenario, loss in (("loss10", 0.1), ("loss30", 0.3)):
                out.append(
                    {"system": system, "source": "real", "n": n, "scenario": scenario, "loss": loss}
                    | {"fp_per_member_hour": 0.0 if system == "swim" else 1.5}
                )
    out.append(
        {"system": "swim", "source": "simulator", "n": 1000, "scenario": "crash", "loss": 0.0, "detect_all_p50_s": 6.0}
    )
    return out


def test_all_three_plots_are_written_as_png(tmp_path: Path) -> None:
    written = write_all(rows(), tmp_path)
    assert sorted(p.name for p in written) == [
        "bytes_per_member_vs_n.png",
        "detection_latency_vs_n.png",
        "false_positives_under_loss.png",
    ]
    for p in written:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_data_no_plot(tmp_path: Path) -> None:
    only_loss = [r for r in rows() if r["scenario"] == "loss10"]
    written = write_all(only_loss, tmp_path)
    assert [p.name for p in written] == ["false_positives_under_loss.png"]
    assert not (tmp_path / "detection_latency_vs_n.png").exists()
