"""Read the JSON log lines of swimfd nodes and ml-node
(same shape, docs/architecture.md, "What each layer promises", runtime).

Both sides write one JSON object per line with ``event``, ``node`` and ``ts``
(epoch seconds). The bench needs membership events and ``transport_stats``
samples; everything else is skipped. A line that is not JSON (a crash trace, a
half-written last line) is counted, never fatal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

MEMBERSHIP_EVENTS = frozenset(
    {"member_joined", "member_suspected", "member_alive", "member_failed", "member_left", "member_removed"}
)
STATS_EVENT = "transport_stats"
STARTED_EVENT = "node_started"  # both swimfd's runtime and ml-node log it once serving
STATS_FIELDS = ("msgs_sent", "bytes_sent", "msgs_recv", "bytes_recv")


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    node: str  # observer
    member: str  # subject
    ts: float
    detector: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class StatsSample:
    node: str
    ts: float
    msgs_sent: int
    bytes_sent: int
    msgs_recv: int
    bytes_recv: int


@dataclass(slots=True)
class ParsedLog:
    events: list[Event] = field(default_factory=list)
    stats: list[StatsSample] = field(default_factory=list)
    started: dict[str, float] = field(default_factory=dict)  # node -> ts of its node_started line
    bad_lines: int = 0

    def extend(self, other: ParsedLog) -> None:
        self.events.extend(other.events)
        self.stats.extend(other.stats)
        self.started.update(other.started)
        self.bad_lines += other.bad_lines


def parse_line(line: str, out: ParsedLog) -> None:
    """Add what ``line`` carries to ``out``; count it as bad when it is not a usable JSON object."""
    line = line.strip()
    if not line:
        return
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        out.bad_lines += 1
        return
    if not isinstance(obj, dict):
        out.bad_lines += 1
        return
    name = obj.get("event")
    ts = obj.get("ts")
    node = obj.get("node")
    if not isinstance(ts, int | float) or isinstance(ts, bool) or node is None:
        if name in MEMBERSHIP_EVENTS or name == STATS_EVENT:
            out.bad_lines += 1
        return
    if name in MEMBERSHIP_EVENTS:
        member = obj.get("member")
        if member is None:
            out.bad_lines += 1
            return
        out.events.append(
            Event(
                name=name,
                node=str(node),
                member=str(member),
                ts=float(ts),
                detector=obj.get("detector"),
                source=obj.get("source"),
            )
        )
    elif name == STARTED_EVENT:
        out.started[str(node)] = float(ts)
    elif name == STATS_EVENT:
        values = [obj.get(k) for k in STATS_FIELDS]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
            out.bad_lines += 1
            return
        out.stats.append(StatsSample(str(node), float(ts), *values))


class LogTail:
    """Reads a growing log file incrementally; a partial last line waits for its newline."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def poll(self) -> ParsedLog:
        out = ParsedLog()
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return out
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            parse_line(line.decode("utf-8", errors="replace"), out)
        return out

    def flush(self) -> ParsedLog:
        """Also parse an unterminated last line (the writer is gone)."""
        out = self.poll()
        if self._partial:
            parse_line(self._partial.decode("utf-8", errors="replace"), out)
            self._partial = b""
        return out


def read_log(path: Path) -> ParsedLog:
    return LogTail(path).flush()
