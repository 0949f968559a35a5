"""--label flags: repeatable, merged over the config file's labels, shown by `members` when present."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from swimfd.commands.members import format_table
from swimfd.commands.run import add_arguments, parse_settings
from swimfd.runtime.settings import UsageError


def _settings(*argv: str):  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parse_settings(parser.parse_args(["--id", "1", "--insecure", *argv]), {})


def test_repeated_flags_become_the_members_labels() -> None:
    settings = _settings("--label", "zone=eu-1", "--label", "rack=r7", "--label", "note=a=b")
    assert dict(settings.config.labels) == {"zone": "eu-1", "rack": "r7", "note": "a=b"}
    assert _settings().config.labels == ()


def test_flags_add_to_the_config_file_and_win_on_the_same_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"labels": {"zone": "z0", "team": "infra"}, "priority": 2}))
    settings = _settings("--config", str(cfg), "--label", "zone=eu-1")
    assert dict(settings.config.labels) == {"zone": "eu-1", "team": "infra"}
    assert settings.config.priority == 2


@pytest.mark.parametrize(
    ("flag", "message"),
    [("zone", "'zone' is not key=value"), ("=a", "'=a' is not key=value"), ("zone a=1", "--label: labels: key")],
)
def test_bad_flag_is_one_usage_error(flag: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _settings(f"--label={flag}")


def _view(*labels: dict[str, str]) -> dict[str, object]:
    members = [
        {
            "id": str(i + 1),
            "addr": f"127.0.0.1:{50051 + i}",
            "diss_addr": f"127.0.0.1:{50061 + i}",
            "state": "ALIVE",
            "incarnation": 7,
            "heartbeat": 0,
            "last_change": 100.0,
            "labels": lab,
        }
        for i, lab in enumerate(labels)
    ]
    return {"self_id": "1", "mode": "swim", "leader": None, "members": members}


def test_table_shows_a_labels_column_only_when_some_member_has_labels() -> None:
    plain = format_table(_view({}, {}), now=100.0).splitlines()
    assert "labels" not in plain[1]
    labelled = format_table(_view({"zone": "eu-1", "rack": "r7"}, {}), now=100.0).splitlines()
    assert labelled[1].split()[-1] == "labels"
    assert labelled[2].split()[-1] == "rack=r7,zone=eu-1"
    assert labelled[3].split()[-1] == "-"
