"""JSON log lines for the runtime (structlog), and membership events as log lines.

Every line is one JSON object with at least ``event``, ``level``, ``node`` and
``ts`` (epoch seconds). Tools (bench, tests, dashboards) read these lines, so
the names of the fields of event lines are part of the contract
(docs/architecture.md, "What each layer promises", runtime).
"""

from __future__ import annotations

import sys
import time
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from swimfd.core.events import EventName, MembershipEvent

Logger = Any  # structlog's BoundLogger; typed loosely because structlog's own types are protocols


def _add_ts(_logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # Membership events carry the time the core decided; every other line gets "now".
    event_dict.setdefault("ts", round(time.time(), 6))
    return event_dict


def _add_level(_logger: object, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event_dict.setdefault("level", "warning" if method == "warn" else method)
    return event_dict


LEVELS: dict[str, int] = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def _level_filter(minimum: str) -> Any:
    threshold = LEVELS[minimum]

    def drop_below(_logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if LEVELS.get(str(event_dict.get("level")), 20) < threshold:
            raise structlog.DropEvent
        return event_dict

    return drop_below


def open_log_stream(path: str | None) -> TextIO:
    """Line-buffered append stream for ``path``; stderr when path is None."""
    if path is None:
        return sys.stderr
    return open(path, "a", buffering=1, encoding="utf-8")  # lives as long as the process


def make_logger(stream: TextIO, node_id: str, level: str = "debug") -> Logger:
    """A logger writing one JSON object per line at ``level`` or above to ``stream``, bound to this node's id.

    Built with wrap_logger rather than structlog.configure so that several
    runtimes (e.g. in tests) never share or overwrite global logging state.
    """
    return structlog.wrap_logger(
        structlog.PrintLogger(stream),
        processors=[
            _add_level,
            _level_filter(level),
            _add_ts,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.BoundLogger,
    ).bind(node=node_id)


def event_fields(event: MembershipEvent, epoch_offset: float) -> dict[str, Any]:
    """The fields of one membership event line (without ``event`` and ``node``).

    ``epoch_offset`` converts the core's monotonic clock to epoch seconds.
    """
    fields: dict[str, Any] = {
        "member": event.member,
        "incarnation": event.incarnation,
        "ts": round(event.at + epoch_offset, 6),
        "source": str(event.source),
    }
    if event.name == EventName.MEMBER_FAILED or event.detector is not None:
        fields["detector"] = event.detector
    if event.addr:
        fields["addr"] = event.addr
    for key, value in event.extra.items():
        # Extras never overwrite the contract fields.
        fields.setdefault(key, value)
    return fields


def log_event(log: Logger, event: MembershipEvent, epoch_offset: float) -> None:
    log.info(str(event.name), **event_fields(event, epoch_offset))
