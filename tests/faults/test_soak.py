"""The soak at tiny scale: it forms, runs its window under loss, records every figure, and cleans up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from netlab.cleanup import leftovers
from netlab.names import RunNames
from netlab.soak import run_soak


@pytest.mark.faults
def test_a_tiny_soak_forms_records_figures_and_cleans_up(lab_host: None, go_diss: None, tmp_path: Path) -> None:
    r = run_soak(3, 0.2, 0.05, "swim", tmp_path, "test")
    assert r.formed and r.formation_s is not None and r.formation_s > 0
    assert r.false_positives == 0, r.fp_examples
    assert r.window_s >= 12.0
    assert r.link_loss_measured is not None and r.packets["seen"] > 0
    assert set(r.per_member) == {"1", "2", "3"}
    for m in r.per_member.values():
        assert m["detector_cpu"] is not None and m["detector_cpu"] > 0
        assert m["go_diss_rss_mb"] is not None and m["go_diss_rss_mb"] > 0
        assert m["detector_rss_mb"] is not None and m["detector_rss_mb"] > m["go_diss_rss_mb"] > 0
    assert r.lag["stats_samples"] > 0 and r.load
    # Sends are tallied, and failures by gRPC status never exceed the failures counted.
    by_status = r.sends["failed_deadline"] + r.sends["failed_unavailable"] + r.sends["failed_other"]
    assert r.sends["msgs_sent"] > 0 and r.sends["send_failures"] >= by_status
    (js,) = tmp_path.glob("*.json")
    doc = json.loads(js.read_text())
    assert doc["passed"] is True
    # The configuration is recorded: the lab's timings, with the election off.
    assert doc["config"]["probe_interval"] == 0.5 and doc["config"]["election"] is False
    assert '"election": false' in js.with_suffix(".md").read_text()
    assert "detector sends failed" in js.with_suffix(".md").read_text()
    assert leftovers(RunNames(r.run_id, 1)) == []


def test_the_soak_config_profiles_and_a_bad_one() -> None:
    from netlab.soak import soak_config

    assert soak_config("default") == {"cluster": "netlab", "election": False}
    assert soak_config("lab")["probe_interval"] == 0.5 and soak_config("lab")["election"] is False
    with pytest.raises(ValueError, match="lab or default"):
        soak_config("fast")
