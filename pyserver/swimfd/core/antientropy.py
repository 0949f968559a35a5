"""Tombstone anti-entropy: a member that missed a death catches up on its next probe.

Infection-style dissemination (SWIM, DSN 2002) sends each update a bounded number of times,
so a member that happened to exchange no messages while an update was spreading never hears
it: in a 100-member simulation at 5% loss, one member in a hundred missed a crash that every
other member had learned in two seconds, and held the dead member for the rest of the run.
memberlist repairs such gaps with a periodic full-state push-pull, whose cost grows with n.

Here every ping carries a 64-bit digest of the sender's tombstones (DEAD and LEFT records, by
id, incarnation and state). A receiver whose own digest differs lists a few of its tombstones,
picked at random, in the ack (``Ack.tombstones``). The pinger does not believe them: it probes
each member it still holds live, out of turn, and its own evidence decides, because after a
partition heals the other side's tombstones name members that are alive (docs/scaling.md).
Digests agree in a steady cluster, so the cost is one word per ping (none while there are no
tombstones) and tombstones on acks only while views differ.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator


def tombstone_hash(member_id: str, incarnation: int, state: int) -> int:
    """A stable 64-bit hash (the same in every process: Python's hash() of str is salted)."""
    key = f"{member_id}\x00{incarnation}\x00{state}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")


class Tombstones:
    """The DEAD and LEFT members of one view: their XOR digest, O(1) random picks, and since when
    each has been so (the node forgets a tombstone ``tombstone_ttl`` after that)."""

    def __init__(self) -> None:
        self.digest = 0
        self._hash: dict[str, int] = {}
        self._ids: list[str] = []
        self._index: dict[str, int] = {}
        # member -> when it became DEAD or LEFT here; absent for the tombstones of a shared static list,
        # which are never forgotten
        self._since: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, member_id: str) -> bool:
        return member_id in self._index

    def set(self, member_id: str, incarnation: int, state: int, since: float | None = None) -> float | None:
        """Record (or re-record, after a newer assertion) a tombstone; returns its date. ``since`` dates
        it unless it is dated already: a DEAD member that then LEFT keeps the time it first stopped
        being live."""
        if since is not None:
            self._since.setdefault(member_id, since)
        h = tombstone_hash(member_id, incarnation, state)
        old = self._hash.get(member_id)
        if old is None:
            self._index[member_id] = len(self._ids)
            self._ids.append(member_id)
        else:
            self.digest ^= old
        self._hash[member_id] = h
        self.digest ^= h
        return self._since.get(member_id)

    def discard(self, member_id: str) -> None:
        self._since.pop(member_id, None)
        h = self._hash.pop(member_id, None)
        if h is None:
            return
        self.digest ^= h
        i = self._index.pop(member_id)
        last = self._ids.pop()
        if last != member_id:
            self._ids[i] = last
            self._index[last] = i

    def since(self, member_id: str) -> float | None:
        return self._since.get(member_id)

    def dated(self) -> Iterator[tuple[str, float]]:
        """(member, since) for every dated tombstone (a copy: the caller may discard while iterating)."""
        return iter(list(self._since.items()))

    def sample(self, rng: random.Random, k: int) -> list[str]:
        """Up to ``k`` distinct tombstoned ids, chosen at random."""
        n = len(self._ids)
        if k <= 0 or n == 0:
            return []
        if n <= k:
            return list(self._ids)
        return [self._ids[i] for i in rng.sample(range(n), k)]
