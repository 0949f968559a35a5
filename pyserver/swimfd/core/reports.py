"""What a node reports to its dissemination service (go-diss), and the notice kind <-> state map.

The rule: a member reports exactly these facts, each the moment it happens here, and
nothing else:

* FAILED: a failure this node's own detector confirmed (``member_failed`` with source local);
* JOINED: a join this node admitted as the seed (``Node.handle_join`` answered it);
* LEFT_CLUSTER: this node's own graceful leave (``Node.leave``);
* JOINED about itself: a new life of this node with changed labels (``Node.set_labels``), which
  receivers merge like any Alive at a higher incarnation;
* REFUTED: this node refuted a suspicion or death of itself, once per new incarnation
  (docs/detection.md: the refutation reaches every accuser within one broadcast);
* SUSPECTED: a suspicion this node raised from its own failed probe, once per (member,
  incarnation) (docs/detection.md: every member probes the suspect at once). It is evidence, not a
  membership decision (Rapid's "alert"), so it goes in ``Output.alerts``, the others in
  ``Output.reports``.

A fact learned from gossip or from a notice is not reported again: the member that decided it
reported it, and go-diss drops what it has already seen (member, incarnation, kind). The gRPC
runtime forwards reports and alerts alike and the simulator's go-diss model broadcasts them, so
both follow this one rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from swimfd.pb import swim_pb2 as pb

# The state a notice asserts about its subject: the membership facts, and the evidence broadcast to
# speed detection up (docs/detection.md). KIND_STATE is the one map between the two enums.
NOTICE_STATE: dict[int, int] = {pb.FAILED: pb.DEAD, pb.JOINED: pb.ALIVE, pb.LEFT_CLUSTER: pb.LEFT}
EVIDENCE_STATE: dict[int, int] = {pb.REFUTED: pb.ALIVE, pb.SUSPECTED: pb.SUSPECT}
KIND_STATE: dict[int, int] = {**NOTICE_STATE, **EVIDENCE_STATE}


@dataclass(frozen=True, slots=True)
class Report:
    """One fact for the dissemination service: a notice kind and the update it carries."""

    kind: pb.NoticeKind.ValueType
    update: pb.Update  # subject (state per KIND_STATE), detector, and `from` = the reporting member

    @property
    def member(self) -> str:
        return self.update.member.id

    @property
    def reporter(self) -> str:
        return getattr(self.update, "from")  # `from` is a Python keyword


def _report(kind: pb.NoticeKind.ValueType, member: pb.Member, reporter: str, detector: str = "") -> Report:
    subject = pb.Member()
    subject.CopyFrom(member)
    subject.state = KIND_STATE[kind]
    subject.heartbeat = 0  # the heartbeat counter travels in HeartbeatGossip, not in updates
    update = pb.Update(member=subject, detector=detector)
    setattr(update, "from", reporter)
    return Report(kind, update)


def confirmed_failure(member: pb.Member, reporter: str, detector: str) -> Report:
    """``reporter``'s own detector confirmed ``member`` dead (``detector``: swim, heartbeat or hybrid)."""
    return _report(pb.FAILED, member, reporter, detector)


def admitted_join(member: pb.Member, reporter: str) -> Report:
    """``reporter`` admitted ``member`` (as sent in its join request) to the group."""
    return _report(pb.JOINED, member, reporter)


def own_leave(member: pb.Member) -> Report:
    """``member`` leaves the group gracefully; it reports its own leave."""
    return _report(pb.LEFT_CLUSTER, member, member.id)


def new_life(member: pb.Member) -> Report:
    """``member`` announces a new incarnation of itself (its labels changed)."""
    return _report(pb.JOINED, member, member.id)


def refutation(member: pb.Member) -> Report:
    """``member`` refuted a suspicion or death of itself: its new incarnation, ALIVE, told by itself."""
    return _report(pb.REFUTED, member, member.id)


def raised_suspicion(member: pb.Member, reporter: str) -> Report:
    """``reporter``'s own probe of ``member`` failed: it suspects ``member`` at its incarnation."""
    return _report(pb.SUSPECTED, member, reporter)
