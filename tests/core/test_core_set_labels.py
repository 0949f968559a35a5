"""Labels changed at run time (Node.set_labels): a new incarnation carries them to every member."""

from __future__ import annotations

import random

import pytest
from core_router import Router, member

from swimfd.core.config import MAX_LABEL_VALUE, MAX_LABELS, PROTOCOL_VERSION, Config, ConfigError
from swimfd.core.node import Node
from swimfd.pb import swim_pb2 as pb


def fast(mode: str) -> Config:
    return Config(cluster="t", mode=mode, probe_interval=0.2, probe_timeout=0.1, gossip_interval=0.1, election=False)  # type: ignore[arg-type]


def labels_at(router: Router, observer: str, subject: str) -> dict[str, str]:
    rec = router.nodes[observer].member(subject)
    assert rec is not None
    return dict(rec.labels)


def test_a_label_change_spreads_by_gossip_in_swim_mode() -> None:
    router = Router(fast("swim"), seed=7)
    nodes = router.cluster(5)
    router.run(until=2.0)
    before = nodes[0].me.incarnation

    router._dispatch("1", nodes[0].set_labels({"zone": "eu-1", "role": "db"}, router.now))
    assert nodes[0].me.incarnation == before + 1
    router.run(until=router.now + 5.0)

    for observer in ("2", "3", "4", "5"):
        assert labels_at(router, observer, "1") == {"zone": "eu-1", "role": "db"}
        rec = router.nodes[observer].member("1")
        assert rec is not None and rec.incarnation == before + 1
    # Nobody was suspected on the way: a new incarnation of a live member is just news.
    assert not [e for _, e in router.events if e.name == "member_suspected"]
    # Each other member tells its own program once: member_updated, with the new labels.
    updated = [(node, e) for node, e in router.events if e.name == "member_updated"]
    assert sorted(node for node, _ in updated) == ["2", "3", "4", "5"]
    assert all(e.member == "1" and e.extra == {"labels": {"zone": "eu-1", "role": "db"}} for _, e in updated)

    # Removing every label spreads the same way.
    router._dispatch("1", nodes[0].set_labels({}, router.now))
    router.run(until=router.now + 5.0)
    assert all(labels_at(router, o, "1") == {} for o in ("2", "3", "4", "5"))


@pytest.mark.parametrize("mode", ["swim", "heartbeat", "hybrid"])
def test_the_new_life_is_reported_and_its_notice_updates_every_member(mode: str) -> None:
    """Heartbeat gossip carries few updates; the report lets go-diss tell everyone (here: by hand)."""
    router = Router(fast(mode), seed=7)
    nodes = router.cluster(5)
    router.run(until=2.0)
    out = nodes[0].set_labels({"zone": "eu-1"}, router.now)
    assert not out.messages
    [report] = out.reports
    assert (report.kind, report.member, report.reporter) == (pb.JOINED, "1", "1")
    assert report.update.member.incarnation == nodes[0].me.incarnation
    assert dict(report.update.member.labels) == {"zone": "eu-1"}
    for node in nodes[1:]:
        notice = pb.Notice(
            header=pb.Header(version=PROTOCOL_VERSION, cluster="t", sender="1"),
            kind=report.kind,
            update=report.update,
            origin="1",
        )
        applied, _ = node.apply_notice(notice, router.now)
        assert applied
        assert labels_at(router, node.id, "1") == {"zone": "eu-1"}
        # The same notice again (a duplicate from go-diss) changes nothing.
        assert not node.apply_notice(notice, router.now)[0]


def test_the_same_labels_again_change_nothing() -> None:
    node = Node(fast("swim"), member(1), random.Random(1), 0.0)
    assert node.set_labels({"a": "1"}, 0.0).reports
    inc = node.me.incarnation
    assert not node.set_labels({"a": "1"}, 1.0).reports
    assert node.me.incarnation == inc


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({f"k{i}": "v" for i in range(MAX_LABELS + 1)}, f"at most {MAX_LABELS}"),
        ({"zone": "v" * (MAX_LABEL_VALUE + 1)}, "value of 'zone'"),
        ({"bad key": "v"}, "key 'bad key'"),
    ],
)
def test_labels_beyond_the_limits_are_refused_and_nothing_changes(labels: dict[str, str], message: str) -> None:
    node = Node(fast("swim"), member(1), random.Random(1), 0.0)
    inc = node.me.incarnation
    with pytest.raises(ConfigError, match=message):
        node.set_labels(labels, 0.0)
    assert node.me.incarnation == inc
    assert dict(node.me.labels) == {}


def test_a_node_that_left_keeps_its_labels() -> None:
    node = Node(fast("swim"), member(1), random.Random(1), 0.0)
    node.leave(0.0)
    assert not node.set_labels({"a": "1"}, 1.0).reports
    assert dict(node.me.labels) == {}
