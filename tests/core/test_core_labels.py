"""Member labels in Config: the config file's object form, and the bounds that keep updates small."""

from __future__ import annotations

import pytest

from swimfd.core.config import MAX_LABELS, Config, ConfigError, from_dict, labels_from


def test_config_file_object_becomes_sorted_pairs() -> None:
    config = from_dict({"labels": {"zone": "eu-1", "rack": "r7"}})
    assert config.labels == (("rack", "r7"), ("zone", "eu-1"))
    assert config.labels == labels_from({"zone": "eu-1", "rack": "r7"})
    assert Config().labels == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"labels": ["zone=a"]}, "labels: must be an object"),
        ({"labels": {"": "a"}}, "key ''"),
        ({"labels": {"-zone": "a"}}, "key '-zone'"),
        ({"labels": {"zone a": "a"}}, "key 'zone a'"),
        ({"labels": {"k" * 64: "a"}}, "must be 1-63"),
        ({"labels": {"zone": 3}}, "value of 'zone'"),
        ({"labels": {"zone": "v" * 256}}, "value of 'zone'"),
        ({"labels": {f"k{i}": "v" for i in range(MAX_LABELS + 1)}}, f"at most {MAX_LABELS}"),
    ],
)
def test_bad_labels_are_refused(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        from_dict(raw)


def test_keys_may_carry_a_prefix_and_dots() -> None:
    labels = {"example.com/tier": "gold", "a": "", "k8s.io_zone-1": "x"}
    assert dict(from_dict({"labels": labels}).labels) == labels
