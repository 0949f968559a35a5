"""Plausibility of incarnations: the bounds that hold even against a member with a valid certificate.

Incarnations start from the wall clock (the runtime starts a member at ``int(time.time())``) and
only the subject raises its own, by one per refutation. So a claim far beyond what a node knows is
garbage or hostile: accepted, a DEAD at 2^64 - 1 could never be refuted. The rules (docs/security.md):

* ``clock(now)``: the incarnation a member starting now would take, as this node estimates it
  (its own starting incarnation plus the seconds since).
* A claim about a *known* member: an accusation (SUSPECT, DEAD, LEFT) at most ``step`` past the
  incarnation this node holds for it; its Alive at most ``2 * step`` past it, or ``step`` past
  ``clock(now)`` (a restart after a long absence takes the clock's value). The member's own leave
  (a LEFT whose ``from`` is the member) at most ``step`` past ``max(held, clock(now))``: a member
  listed statically is held at 0 until its first Alive arrives, and one that leaves before that
  must still be heard leaving. Still within what the subject refutes (below), were it forged.
* A claim about an *unknown* member: Alive at most ``step`` past ``clock(now)``, an accusation at
  most ``clock(now)`` (a tombstone needs no future incarnation).
* The subject refutes any claim somebody may have accepted: an accusation at most ``step`` (an
  Alive naming another address at most ``2 * step``) past ``max(own incarnation, clock(now))``,
  by taking ``i + 1``. Every node that accepted the
  accusation holds ``i`` and accepts ``i + 1`` (within ``2 * step``), and one that refused it or
  never heard of the member accepts ``i + 1`` from the clock rule as long as clocks differ by less
  than ``step`` seconds. So one message keeps a live member dead for at most one refutation round.
  A claim beyond that bound was refused everywhere; the subject only re-sends its current Alive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from swimfd.core.heartbeat.shape import U64_MAX
from swimfd.pb import swim_pb2 as pb

MAX_INCARNATION = U64_MAX  # Member.incarnation is a uint64 (one constant with the heartbeat wire form)


@dataclass(frozen=True, slots=True)
class Plausibility:
    step: int  # Config.max_incarnation_step
    born_incarnation: int  # this node's incarnation when it started
    born_at: float  # the core time it started

    def clock(self, now: float) -> int:
        """The incarnation a member starting now would take, by this node's clock."""
        elapsed = now - self.born_at
        return self.born_incarnation + (int(elapsed) if math.isfinite(elapsed) and elapsed > 0 else 0)

    def refusal(
        self, incarnation: int, state: int, known: int | None, now: float, by_subject: bool = False
    ) -> str | None:
        """Why a claim (incarnation, state) about another member is implausible, or None.

        ``known``: the incarnation this node holds for the member, None when it holds none.
        ``by_subject``: the claim is the member's own word about itself (its ``from`` is the member).
        """
        if incarnation >= MAX_INCARNATION - 1:
            return f"incarnation {incarnation} leaves no room for a refutation"
        ceiling = self.clock(now) + self.step
        if known is None:
            bound = ceiling if state == pb.ALIVE else self.clock(now)
        elif state == pb.ALIVE:
            bound = max(known + 2 * self.step, ceiling)
        elif state == pb.LEFT and by_subject:
            bound = max(known, self.clock(now)) + self.step
        else:
            bound = known + self.step
        if incarnation > bound:
            what = "alive" if state == pb.ALIVE else "accusation"
            held = "unknown member" if known is None else f"held {known}"
            return f"{what} at incarnation {incarnation} is beyond the bound {bound} ({held})"
        return None

    def refutable(self, incarnation: int, state: int, own: int, now: float) -> bool:
        """True when a claim about this node at ``incarnation`` (an accusation, or an Alive naming
        another address) may have been accepted somewhere, so the node outbids it with ``incarnation + 1``."""
        reach = 2 * self.step if state == pb.ALIVE else self.step
        return incarnation <= max(own, self.clock(now)) + reach and incarnation < MAX_INCARNATION - 1
