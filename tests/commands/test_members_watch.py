"""swimfd members --watch: how the stream is printed (table or JSON lines)."""

from __future__ import annotations

import json

import pytest

from swimfd.commands.members import format_event, print_watch
from swimfd.pb import swim_pb2 as pb


def stream() -> list[pb.WatchEvent]:
    snap = pb.MembersReply(self_id="1", mode="swim")
    snap.members.add().CopyFrom(
        pb.MembershipView(member=pb.Member(id="1", addr="h:1", state=pb.ALIVE), last_change=1e9)
    )
    return [
        pb.WatchEvent(event="snapshot", node="1", snapshot=snap),
        pb.WatchEvent(
            event="member_failed", node="1", member="3", incarnation=7, source="local", detector="swim", timestamp=1e9
        ),
        pb.WatchEvent(event="lagged", node="1", dropped=12),
        pb.WatchEvent(
            event="leader_elected", node="1", member="2", source="gossip", timestamp=1e9, extra={"term": "4"}
        ),
    ]


def test_text_shows_the_table_then_one_line_per_event(capsys: pytest.CaptureFixture[str]) -> None:
    print_watch(stream(), as_json=False)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("node 1  mode swim")
    events = out[-3:]
    assert "member_failed" in events[0] and "member=3" in events[0] and "detector=swim" in events[0]
    assert "lagged" in events[1] and "dropped=12" in events[1]
    assert "leader_elected" in events[2] and "term=4" in events[2]


def test_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    print_watch(stream(), as_json=True)
    objs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["event"] for o in objs] == ["snapshot", "member_failed", "lagged", "leader_elected"]
    assert objs[0]["view"]["members"][0]["id"] == "1"
    assert objs[1] == {
        "event": "member_failed",
        "node": "1",
        "member": "3",
        "incarnation": 7,
        "source": "local",
        "ts": 1e9,
        "detector": "swim",
    }
    assert objs[2] == {"event": "lagged", "node": "1", "dropped": 12}
    assert objs[3]["term"] == "4"


def test_event_line_has_time_with_milliseconds() -> None:
    line = format_event({"event": "member_left", "node": "1", "member": "5", "incarnation": 1, "ts": 1e9 + 0.25})
    assert ".250  member_left" in line and "member=5" in line
