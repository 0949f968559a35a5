"""The slot table keeps ids, the id -> slot index and every per-slot array consistent."""

from __future__ import annotations

import numpy as np

from swimfd.core.heartbeat.storage import ALIVE, DEAD, SlotTable
from swimfd.core.phi import PhiWindows


def assert_consistent(t: SlotTable) -> None:
    assert len(t.index) == t.n
    for member_id, slot in t.index.items():
        assert t.ids[slot] == member_id
    assert all(v is None for v in t.ids[t.n :])


def test_remove_moves_the_last_slot_into_the_hole_with_all_its_state():
    t = SlotTable()
    for i, member_id in enumerate(["self", "a", "b", "c"]):
        t.add(member_id, i, float(i))
    t.hb[3], t.state[3], t.dead_at[3], t.reported[3], t.heard[3] = 42, DEAD, 7.5, True, True
    t.remove(1)
    assert t.n == 3
    assert t.index["c"] == 1
    assert (int(t.inc[1]), int(t.hb[1]), float(t.last[1]), int(t.state[1])) == (3, 42, 3.0, DEAD)
    assert (float(t.dead_at[1]), bool(t.reported[1]), bool(t.heard[1])) == (7.5, True, True)
    assert "a" not in t.index
    assert_consistent(t)
    t.remove(2)  # the last slot: nothing moves
    assert t.index == {"self": 0, "c": 1}
    assert_consistent(t)


def test_flush_adds_pending_members_in_one_batch_and_grows_every_array():
    phi = PhiWindows(4, 0.1, 16)
    t = SlotTable(phi)
    t.add("self", 0, 0.0)
    t.pending = {f"m{i}": (i, 0.5 * i) for i in range(40)}
    assert t.flush() == [f"m{i}" for i in range(40)]
    assert t.pending == {}
    assert t.n == 41
    assert len(t.inc) >= 41 and phi.capacity >= len(t.inc)
    assert t.inc[1:41].tolist() == list(range(40))
    assert t.last[1:41].tolist() == [0.5 * i for i in range(40)]
    assert not t.hb[:41].any() and (t.state[:41] == ALIVE).all()
    assert not t.reported[:41].any() and not t.heard[:41].any()
    assert_consistent(t)


def test_add_after_growth_keeps_earlier_values():
    t = SlotTable(cap=2)
    for i in range(20):
        t.add(str(i), i, float(i))
    assert t.inc[:20].tolist() == list(range(20))
    assert t.last[:20].tolist() == [float(i) for i in range(20)]
    assert np.array_equal(t.ids[:20], np.array([str(i) for i in range(20)], dtype=object))
    assert_consistent(t)
