"""The broadcast queue of infection-style dissemination (SWIM, DSN 2002).

Each membership update rides on outgoing protocol messages until it has been
sent ``retransmit_limit(mult, n)`` times. The least-transmitted updates go
first (fresh news spreads fastest), newest first among equals, and a newer
update about a member replaces the queued one (memberlist behaves the same).

Updates are kept in buckets by transmit count, so taking a message's worth of
updates costs O(max_piggyback + limit), never O(queue length).
"""

from __future__ import annotations

import math

from swimfd.pb import swim_pb2 as pb


def retransmit_limit(mult: int, n: int) -> int:
    """memberlist's limit: mult * ceil(log10(n + 1)), at least 1."""
    return max(1, mult * math.ceil(math.log10(max(n, 1) + 1)))


class BroadcastQueue:
    def __init__(self) -> None:
        self._buckets: list[dict[str, pb.Update]] = [{}]
        self._count: dict[str, int] = {}  # member id -> its bucket (transmits so far)

    def __len__(self) -> int:
        return len(self._count)

    def __contains__(self, member_id: str) -> bool:
        return member_id in self._count

    def transmits(self, member_id: str) -> int | None:
        return self._count.get(member_id)

    def push(self, update: pb.Update) -> None:
        """Queue ``update``; any queued update about the same member is replaced."""
        mid = update.member.id
        old = self._count.pop(mid, None)
        if old is not None:
            del self._buckets[old][mid]
        self._buckets[0][mid] = update
        self._count[mid] = 0

    def drop(self, member_id: str) -> None:
        old = self._count.pop(member_id, None)
        if old is not None:
            del self._buckets[old][member_id]

    def take(self, max_updates: int, limit: int, skip: str = "") -> list[pb.Update]:
        """Up to ``max_updates`` updates for one message, counting one transmission each.

        ``skip`` names a member already covered by the caller (e.g. the buddy
        update), so the same member is not sent twice in one message.
        """
        out: list[pb.Update] = []
        if max_updates <= 0 or not self._count:
            return out
        moved: list[tuple[str, pb.Update, int]] = []
        for t, bucket in enumerate(self._buckets):
            if len(out) >= max_updates:
                break
            for mid in reversed(bucket):  # newest first among equally transmitted
                if mid == skip:
                    continue
                out.append(bucket[mid])
                moved.append((mid, bucket[mid], t))
                if len(out) >= max_updates:
                    break
        for mid, upd, t in moved:
            del self._buckets[t][mid]
            if t + 1 >= limit:
                del self._count[mid]
                continue
            while len(self._buckets) <= t + 1:
                self._buckets.append({})
            self._buckets[t + 1][mid] = upd
            self._count[mid] = t + 1
        return out
