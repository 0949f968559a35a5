"""Membership events and the output type every core call returns.

The protocol core never performs I/O: each call returns an ``Output`` holding
messages to send, membership events, and reports for the dissemination service
(``swimfd.core.reports``). Event names are stable: tools, tests and dashboards
read them from the logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from swimfd.core.reports import Report
from swimfd.pb import swim_pb2 as pb


class EventName(StrEnum):
    MEMBER_JOINED = "member_joined"
    MEMBER_SUSPECTED = "member_suspected"
    MEMBER_ALIVE = "member_alive"  # a suspicion was refuted, or a dead member revived
    MEMBER_FAILED = "member_failed"  # confirmed dead
    MEMBER_LEFT = "member_left"
    MEMBER_REMOVED = "member_removed"  # tombstone cleaned up
    MEMBER_UPDATED = "member_updated"  # a live member's labels changed (a new incarnation carried them)
    ELECTION_STARTED = "election_started"
    LEADER_ELECTED = "leader_elected"


class Source(StrEnum):
    """Where the evidence behind an event came from."""

    LOCAL = "local"  # this node's own detector decided
    GOSSIP = "gossip"  # learned from a piggybacked update or heartbeat gossip
    NOTICE = "notice"  # learned from the dissemination service
    JOIN = "join"  # learned through a join request or reply


@dataclass(frozen=True, slots=True)
class MembershipEvent:
    name: EventName
    member: str
    incarnation: int
    at: float  # the core's clock (seconds); the runtime logs epoch seconds
    source: Source = Source.LOCAL
    detector: str | None = None  # member_failed: "swim", "heartbeat" or "hybrid"
    addr: str = ""
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message to send: the runtime delivers it, the simulator routes it."""

    to: str  # destination member id
    addr: str  # destination detector address
    envelope: pb.Envelope


@dataclass(frozen=True, slots=True)
class Refusal:
    """A part of a message the core refused (an implausible claim, a non-member ping-req target, ...);
    the rest of the message was used. The runtime logs it (rate-limited) with the peer's address."""

    reason: str  # stable short name, e.g. "implausible_incarnation" (docs/security.md lists them)
    subject: str  # the member the refused part was about ("" when none)
    detail: str


@dataclass(slots=True)
class Output:
    messages: list[Outbound] = field(default_factory=list)
    events: list[MembershipEvent] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)  # for the dissemination service: forward each once
    # Evidence for the dissemination service (a suspicion this node raised, Rapid's "alert"), forwarded
    # like reports; kept apart because it is no membership decision (swimfd.core.reports).
    alerts: list[Report] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)  # parts of the input that were refused

    def extend(self, other: Output) -> Output:
        self.messages.extend(other.messages)
        self.events.extend(other.events)
        self.reports.extend(other.reports)
        self.alerts.extend(other.alerts)
        self.refusals.extend(other.refusals)
        return self
