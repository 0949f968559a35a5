"""Config validation: defaults are memberlist's LAN profile; nonsense is refused with a clear error."""

from __future__ import annotations

import json

import pytest

from swimfd.commands.config_file import load
from swimfd.core.config import Config, ConfigError, from_dict


def test_defaults_match_memberlist_lan_profile() -> None:
    c = Config()
    assert (c.probe_interval, c.probe_timeout, c.indirect_checks) == (1.0, 0.5, 3)
    assert (c.suspicion_mult, c.suspicion_max_timeout_mult, c.retransmit_mult) == (4, 6, 4)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"probe_interval": 0}, "probe_interval"),
        ({"probe_timeout": 2.0}, "probe_timeout"),
        ({"indirect_checks": -1}, "indirect_checks"),
        ({"mode": "paxos"}, "mode"),
        ({"gossip_target": "nearest"}, "gossip_target"),
        ({"p_mistake": 1.5}, "p_mistake"),
        ({"t_fail": 5.0, "t_cleanup": 1.0}, "t_cleanup"),
        ({"leader_probe_min": 4.0}, "leader_probe_min"),
        ({"cluster": ""}, "cluster"),
        ({"suspicion_mult": True}, "suspicion_mult"),
    ],
)
def test_nonsense_values_name_the_field(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config(**changes)  # type: ignore[arg-type]


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown key"):
        from_dict({"probe_intervall": 1.0})


def test_load_reads_json_and_reports_bad_files(tmp_path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"mode": "hybrid", "probe_interval": 0.2, "probe_timeout": 0.1}))
    assert load(good).mode == "hybrid"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="invalid JSON"):
        load(bad)
    with pytest.raises(ConfigError, match="missing"):
        load(tmp_path / "missing.json")
