"""Merge rules: SWIM precedence, LEFT vs DEAD, tombstones, order independence."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swimfd.core.config import Config
from swimfd.core.membership import ALIVE, DEAD, LEFT, SUSPECT, Membership, supersedes
from swimfd.core.node import Node
from swimfd.core.reports import NOTICE_STATE
from swimfd.pb import swim_pb2 as pb


@pytest.mark.parametrize(
    ("new", "old", "wins"),
    [
        ((ALIVE, 2), (SUSPECT, 1), True),  # Alive(i) beats Suspect(j) when i > j
        ((ALIVE, 1), (SUSPECT, 1), False),  # ... but not at the same incarnation
        ((ALIVE, 2), (ALIVE, 1), True),
        ((ALIVE, 1), (ALIVE, 1), False),  # duplicates change nothing
        ((SUSPECT, 1), (ALIVE, 1), True),  # Suspect(i) beats Alive(j) when i >= j
        ((SUSPECT, 1), (ALIVE, 2), False),
        ((SUSPECT, 2), (SUSPECT, 1), True),
        ((SUSPECT, 1), (SUSPECT, 1), False),
        ((DEAD, 1), (SUSPECT, 1), True),  # Dead beats everything at the same incarnation
        ((DEAD, 1), (ALIVE, 1), True),
        ((DEAD, 0), (ALIVE, 1), False),  # ... but not a newer life
        ((ALIVE, 1), (DEAD, 1), False),  # a dead member is not revived by the same incarnation
        ((ALIVE, 2), (DEAD, 1), True),  # a restart (higher incarnation) is accepted
        ((SUSPECT, 1), (DEAD, 1), False),
        ((LEFT, 1), (DEAD, 1), True),  # the member's own word that it left wins
        ((DEAD, 1), (LEFT, 1), False),  # so a left member is never turned into a failed one
        ((ALIVE, 2), (LEFT, 1), True),  # rejoin after leaving
    ],
)
def test_precedence(new: tuple[int, int], old: tuple[int, int], wins: bool) -> None:
    assert supersedes(new[1], new[0], old[1], old[0]) is wins


def test_merge_reports_changes_and_keeps_tombstones() -> None:
    table = Membership(max_members=10)
    m = pb.Member(id="a", addr="h:1", incarnation=1)
    c = table.merge(m, ALIVE, now=1.0)
    assert c is not None and c.old_state is None and c.new_state == ALIVE
    assert table.live_count == 1
    dead = table.merge(pb.Member(id="a", incarnation=1), DEAD, now=2.0, detector="swim")
    assert dead is not None and dead.old_state == ALIVE
    assert table.live_count == 0
    assert table.merge(pb.Member(id="a", addr="h:1", incarnation=1), ALIVE, now=3.0) is None  # stale gossip
    rec = table.get("a")
    assert rec is not None and rec.state == DEAD and rec.detector == "swim" and rec.last_change == 2.0


def test_restart_with_new_address_is_accepted() -> None:
    table = Membership(max_members=10)
    table.merge(pb.Member(id="a", addr="old:1", incarnation=3), ALIVE, now=0.0)
    table.merge(pb.Member(id="a", incarnation=3), DEAD, now=1.0)
    c = table.merge(pb.Member(id="a", addr="new:2", incarnation=4), ALIVE, now=2.0)
    assert c is not None and c.addr_changed and c.old_state == DEAD
    rec = table.get("a")
    assert rec is not None and (rec.addr, rec.state, rec.incarnation) == ("new:2", ALIVE, 4)


def test_stale_suspicion_cannot_move_an_address() -> None:
    table = Membership(max_members=10)
    table.merge(pb.Member(id="a", addr="real:1", incarnation=1), ALIVE, now=0.0)
    table.merge(pb.Member(id="a", addr="forged:9", incarnation=1), SUSPECT, now=1.0)
    rec = table.get("a")
    assert rec is not None and rec.addr == "real:1" and rec.state == SUSPECT


def test_table_is_bounded() -> None:
    table = Membership(max_members=2)
    assert table.merge(pb.Member(id="a"), ALIVE, 0.0) is not None
    assert table.merge(pb.Member(id="b"), ALIVE, 0.0) is not None
    assert table.merge(pb.Member(id="c"), ALIVE, 0.0) is None
    assert len(table) == 2 and "c" not in table


# --------------------------------------------------------------- order independence (property)
IDS = ["self", "a", "b", "c"]
STATES = [ALIVE, SUSPECT, DEAD, LEFT]


def _update(mid: str, state: int, inc: int, sender: str) -> pb.Update:
    # Addresses are a function of (id, incarnation): one life has one address.
    u = pb.Update(member=pb.Member(id=mid, addr=f"{mid}:{inc}", incarnation=inc, state=state))
    setattr(u, "from", sender)
    return u


updates = st.builds(
    _update,
    st.sampled_from(IDS),
    st.sampled_from(STATES),
    st.integers(min_value=0, max_value=4),
    st.sampled_from([*IDS, "x"]),
)


def _view(node: Node) -> dict[str, tuple[int, int, str]]:
    return {v.member.id: (v.member.state, v.member.incarnation, v.member.addr) for v in node.view()}


_KIND = {state: kind for kind, state in NOTICE_STATE.items()}  # the notice that asserts each state


def _feed(ups: list[pb.Update], via_notice: list[bool] | None = None) -> Node:
    """Deliver each update by gossip, or (where ``via_notice`` says so and a notice kind exists) as a notice."""
    cfg = Config(election=False)
    node = Node(cfg, pb.Member(id="self", addr="self:0"), random.Random(0), now=0.0)
    header = pb.Header(version=1, cluster=cfg.cluster, sender="x")
    for i, u in enumerate(ups):
        if via_notice and via_notice[i % len(via_notice)] and u.member.state in _KIND:
            node.apply_notice(pb.Notice(header=header, kind=_KIND[u.member.state], update=u), now=0.0)
            continue
        env = pb.Envelope(header=header, ping=pb.Ping(seq=i))
        env.updates.append(u)
        node.receive(env, now=0.0)
    return node


@settings(max_examples=200, deadline=None)
@given(
    st.lists(updates, min_size=1, max_size=12),
    st.randoms(use_true_random=False),
    st.data(),
    st.lists(st.booleans(), min_size=1, max_size=5),
)
def test_any_order_with_duplicates_gives_the_same_view(
    ups: list[pb.Update], rnd: random.Random, data, via_notice: list[bool]
) -> None:
    shuffled = list(ups)
    rnd.shuffle(shuffled)
    dups = data.draw(st.lists(st.sampled_from(ups), max_size=6))
    shuffled.extend(dups)
    rnd.shuffle(shuffled)
    # Same view whatever the order, duplicates, and whether updates came by gossip or by notice.
    assert _view(_feed(ups)) == _view(_feed(shuffled, via_notice))
