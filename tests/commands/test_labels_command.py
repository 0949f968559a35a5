"""`swimfd labels`: the SetLabels request each action builds, and one-line errors."""

from __future__ import annotations

import pytest

from swimfd.commands import labels
from swimfd.commands.main import main


def test_set_and_replace_carry_key_values_unset_carries_keys() -> None:
    req = labels.request("set", ["zone=eu-1", "empty="])
    assert (dict(req.set), list(req.remove), req.replace) == ({"zone": "eu-1", "empty": ""}, [], False)
    req = labels.request("replace", [])
    assert (dict(req.set), req.replace) == ({}, True)
    req = labels.request("unset", ["zone", "rack"])
    assert (dict(req.set), list(req.remove)) == ({}, ["zone", "rack"])


@pytest.mark.parametrize("item", ["zone", "=v"])
def test_a_malformed_item_is_refused(item: str) -> None:
    with pytest.raises(ValueError, match="is not key=value"):
        labels.request("set", [item])


def test_set_without_labels_and_unknown_target_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["labels", "--target", "127.0.0.1:1", "set"]) == 2
    assert capsys.readouterr().err == "swimfd labels: error: set needs at least one label\n"
    assert main(["labels", "--target", "127.0.0.1:1", "--timeout", "0.5", "set", "a=b"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("swimfd labels: error: 127.0.0.1:1: UNAVAILABLE") and err.count("\n") == 1
