"""The typed records an embedding program sees: one member as a node sees it, one membership event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from swimfd.core.events import MembershipEvent
from swimfd.core.membership import STATE_NAMES
from swimfd.pb import swim_pb2 as pb


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    addr: str  # detector address host:port
    diss_addr: str  # its dissemination service ("" when it runs without one)
    state: str  # alive, suspect, dead or left
    incarnation: int
    heartbeat: int  # heartbeat counter (heartbeat and hybrid modes; 0 in swim mode)
    priority: int  # election priority
    labels: Mapping[str, str]
    last_change: float  # epoch seconds of the last change of state, as this node saw it

    @property
    def live(self) -> bool:
        return self.state in ("alive", "suspect")


@dataclass(frozen=True, slots=True)
class Event:
    """One membership or leader event; ``name`` is one of swimfd.core.events.EventName's values."""

    name: str  # member_joined, member_suspected, member_alive, member_failed, member_left, ...
    member: str
    incarnation: int
    at: float  # epoch seconds, when this node decided or learned it
    source: str  # local, gossip, notice or join
    detector: str | None = None  # member_failed: swim, heartbeat or hybrid
    addr: str = ""
    extra: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


def member_from_view(view: pb.MembershipView, epoch_offset: float) -> Member:
    m = view.member
    return Member(
        id=m.id,
        addr=m.addr,
        diss_addr=m.diss_addr,
        state=STATE_NAMES.get(m.state, "unknown"),
        incarnation=m.incarnation,
        heartbeat=m.heartbeat,
        priority=m.priority,
        labels=MappingProxyType(dict(m.labels)),
        last_change=view.last_change + epoch_offset,
    )


def event_from_core(event: MembershipEvent, epoch_offset: float) -> Event:
    return Event(
        name=str(event.name),
        member=event.member,
        incarnation=event.incarnation,
        at=event.at + epoch_offset,
        source=str(event.source),
        detector=event.detector,
        addr=event.addr,
        extra=MappingProxyType(dict(event.extra)),
    )
