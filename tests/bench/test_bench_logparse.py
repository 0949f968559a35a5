import json
from pathlib import Path

from swimfd.bench.logparse import LogTail, ParsedLog, parse_line, read_log


def line(**kw: object) -> str:
    return json.dumps(kw)


def test_membership_event_and_stats_are_parsed() -> None:
    out = ParsedLog()
    parse_line(line(event="member_failed", node="1", member="3", ts=10.5, detector="swim", source="local"), out)
    parse_line(
        line(event="transport_stats", node="1", ts=11.0, msgs_sent=4, bytes_sent=400, msgs_recv=3, bytes_recv=300), out
    )
    assert [(e.name, e.node, e.member, e.ts, e.detector, e.source) for e in out.events] == [
        ("member_failed", "1", "3", 10.5, "swim", "local")
    ]
    assert [(s.node, s.ts, s.msgs_sent, s.bytes_sent, s.msgs_recv, s.bytes_recv) for s in out.stats] == [
        ("1", 11.0, 4, 400, 3, 300)
    ]
    assert out.bad_lines == 0


def test_ids_are_strings_whatever_the_writer_used() -> None:
    out = ParsedLog()
    parse_line(line(event="member_joined", node=2, member=7, ts=1), out)
    assert (out.events[0].node, out.events[0].member, out.events[0].ts) == ("2", "7", 1.0)


def test_other_events_are_skipped_silently() -> None:
    out = ParsedLog()
    parse_line(line(event="node_started", node="1", ts=1.0), out)
    parse_line(line(event="leader_elected", node="1", ts=1.0, leader="3"), out)
    parse_line("", out)
    assert (out.events, out.stats, out.bad_lines) == ([], [], 0)


def test_bad_lines_are_counted_not_fatal() -> None:
    out = ParsedLog()
    for bad in (
        "Traceback (most recent call last):",
        "[1, 2]",
        line(event="member_failed", node="1", ts=1.0),  # no member
        line(event="member_failed", node="1", member="2", ts="soon"),
        line(event="member_failed", member="2", ts=1.0),  # no node
        line(event="transport_stats", node="1", ts=1.0, msgs_sent=-1, bytes_sent=0, msgs_recv=0, bytes_recv=0),
        line(event="transport_stats", node="1", ts=1.0, msgs_sent=1),
        line(event="transport_stats", node="1", ts=True, msgs_sent=1, bytes_sent=0, msgs_recv=0, bytes_recv=0),
    ):
        parse_line(bad, out)
    assert (out.events, out.stats, out.bad_lines) == ([], [], 8)


def test_tail_reads_only_new_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "node.log"
    tail = LogTail(path)
    assert tail.poll().events == []  # file not there yet
    first = line(event="member_joined", node="1", member="2", ts=1.0)
    second = line(event="member_failed", node="1", member="2", ts=2.0)
    path.write_text(first + "\n" + second[:10])
    got = tail.poll()
    assert [e.name for e in got.events] == ["member_joined"]
    with path.open("a") as f:
        f.write(second[10:] + "\n")
    got = tail.poll()
    assert [e.name for e in got.events] == ["member_failed"]
    assert tail.poll().events == []


def test_flush_parses_an_unterminated_last_line(tmp_path: Path) -> None:
    path = tmp_path / "node.log"
    path.write_text(line(event="member_failed", node="1", member="2", ts=2.0))
    assert [e.member for e in read_log(path).events] == ["2"]


def test_tail_survives_multibyte_text_split_across_polls(tmp_path: Path) -> None:
    path = tmp_path / "node.log"
    text = json.dumps(
        {"event": "member_joined", "node": "1", "member": "2", "ts": 1.0, "note": "é"}, ensure_ascii=False
    )
    data = (text + "\n").encode()
    cut = data.index("é".encode()) + 1  # inside the two-byte character
    path.write_bytes(data[:cut])
    tail = LogTail(path)
    assert tail.poll().events == []
    with path.open("ab") as f:
        f.write(data[cut:])
    got = tail.poll()
    assert [e.member for e in got.events] == ["2"] and got.bad_lines == 0
