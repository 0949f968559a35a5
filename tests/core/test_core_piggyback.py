"""Broadcast queue: retransmit limit, least-transmitted first, replacement, per-message cap."""

from __future__ import annotations

import pytest

from swimfd.core.piggyback import BroadcastQueue, retransmit_limit
from swimfd.pb import swim_pb2 as pb


def _u(mid: str, inc: int = 0, state: int = pb.ALIVE) -> pb.Update:
    return pb.Update(member=pb.Member(id=mid, incarnation=inc, state=state))


@pytest.mark.parametrize(("n", "limit"), [(1, 4), (9, 4), (10, 8), (99, 8), (100, 12), (1000, 16), (10_000, 20)])
def test_retransmit_limit_is_mult_times_ceil_log10_n_plus_1(n: int, limit: int) -> None:
    assert retransmit_limit(4, n) == limit


def test_each_update_is_sent_exactly_limit_times() -> None:
    q = BroadcastQueue()
    q.push(_u("a"))
    sent = 0
    for _ in range(10):
        sent += len(q.take(max_updates=5, limit=3))
    assert sent == 3
    assert len(q) == 0


def test_least_transmitted_first_then_newest() -> None:
    q = BroadcastQueue()
    q.push(_u("old"))
    assert [u.member.id for u in q.take(1, limit=10)] == ["old"]  # old: 1 transmission
    q.push(_u("new1"))
    q.push(_u("new2"))
    # Fresh updates (0 transmissions) before the one already sent once, newest first among them.
    assert [u.member.id for u in q.take(3, limit=10)] == ["new2", "new1", "old"]
    assert (q.transmits("old"), q.transmits("new1"), q.transmits("new2")) == (2, 1, 1)


def test_newer_update_about_the_same_member_replaces_the_queued_one() -> None:
    q = BroadcastQueue()
    q.push(_u("a", inc=1))
    q.take(1, limit=10)
    q.push(_u("a", inc=1, state=pb.SUSPECT))
    assert len(q) == 1
    assert q.transmits("a") == 0  # the replacement starts its own retransmission budget
    [u] = q.take(5, limit=10)
    assert u.member.state == pb.SUSPECT


def test_max_updates_per_message_and_skip() -> None:
    q = BroadcastQueue()
    for i in range(30):
        q.push(_u(f"m{i}"))
    batch = q.take(16, limit=5)
    assert len(batch) == 16
    assert len({u.member.id for u in batch}) == 16
    assert all(u.member.id != "m29" for u in q.take(16, limit=5, skip="m29"))
