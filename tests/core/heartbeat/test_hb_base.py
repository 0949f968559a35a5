"""Base-relative heartbeat gossip (issue 14): members bootstrapped from one static list share it as
a base, gossip counters by position behind its digest, and name only what changed relative to it."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hb_helpers import config, gossip, gossiper

from swimfd.core.heartbeat import encoding
from swimfd.core.heartbeat.gossiper import HeartbeatGossiper
from swimfd.core.heartbeat.shape import HeartbeatGossipError, check_gossip
from swimfd.core.heartbeat.storage import FREE, HeartbeatBase
from swimfd.pb import swim_pb2 as pb

IDS = [f"m{i:02d}" for i in range(12)]


def attached(self_id: str, base: HeartbeatBase, seed: int = 1, **cfg: object) -> HeartbeatGossiper:
    g = HeartbeatGossiper(config(**cfg), self_id, random.Random(seed), 0.0)
    assert g.attach_base(base, 0.0)
    return g


def decoded(msg: pb.HeartbeatGossip, base: HeartbeatBase) -> dict[str, tuple[int, int]]:
    """id -> (incarnation, counter) of every gossiped (nonzero) entry, from either form."""
    out = {}
    if msg.base_digest:
        assert msg.base_digest == base.digest
        hbs = encoding.unpack_counters(msg.base_heartbeats, msg.base_heartbeat_width).tolist()
        incs = dict(zip(msg.base_inc_positions, msg.base_inc_values, strict=True))
        out.update({base.ids[i]: (incs.get(i, 0), hb) for i, hb in enumerate(hbs) if hb})
    out.update({i: (inc, hb) for i, inc, hb in zip(msg.ids, msg.incarnations, msg.heartbeats, strict=True) if hb})
    return out


def run_rounds(nodes: dict[str, HeartbeatGossiper], first: int, last: int, interval: float = 1.0) -> int:
    """Lockstep rounds; replies (pulls and their answers) are delivered at once. Returns messages sent."""
    sent = 0
    for r in range(first, last + 1):
        now = r * interval
        queue = [(i, to, m) for i, g in nodes.items() for to, m in g.tick(now).gossip]
        while queue:
            sender, to, msg = queue.pop(0)
            sent += 1
            if to in nodes:
                queue.extend((to, back, m) for back, m in nodes[to].on_gossip(sender, msg, now).gossip)
    return sent


def test_members_of_one_base_gossip_no_ids_and_every_increase_reaches_everyone():
    base = HeartbeatBase(IDS)
    nodes = {i: attached(i, base, seed=k, t_fail=None) for k, i in enumerate(IDS)}
    run_rounds(nodes, 1, 60)
    for g in nodes.values():
        assert g.tracked() == IDS  # nobody declared failed
        for m in IDS:  # every member's recent increases reached every member
            assert g.staleness(m, 60.0) < g.t_fail
            assert g.counter(m) >= 60 - g.t_fail
    msg = nodes["m00"].tick(61.0).gossip[0][1]
    assert len(msg.ids) == 0 and len(msg.base_ids) == 0 and not msg.base_inc_positions
    assert msg.base_size == len(IDS) and msg.base_heartbeat_width == 1


def test_the_compact_form_carries_exactly_the_full_lists_information():
    base = HeartbeatBase(IDS)
    a = attached("m00", base)
    full = gossiper("m00", IDS)  # no base: the paper's full list
    for g in (a, full):
        g.track("m03", 2, 0.0)
        g.on_gossip("m05", gossip([("m05", 0, 9), ("m03", 2, 4), ("m07", 0, 300)]), 0.5)
        g.mark_dead("m09", 0, 0.6)
    compact = a.tick(1.0).gossip[0][1]
    listed = full.tick(1.0).gossip[0][1]
    assert not listed.base_digest
    assert (
        decoded(compact, base)
        == decoded(listed, base)
        == {
            "m00": (0, 1),
            "m03": (2, 4),
            "m05": (0, 9),
            "m07": (0, 300),
        }
    )
    assert compact.base_heartbeat_width == 2  # 300 needs two bytes
    assert list(compact.base_inc_positions) == [IDS.index("m03")]


def test_bytes_per_message_grow_with_the_changes_not_with_the_ids():
    base = HeartbeatBase([f"member-{i:05d}.example.org:7946" for i in range(200)])
    a = attached(base.ids[0], base)
    quiet = a.tick(1.0).gossip[0][1]
    # Fixed part + one byte per base counter: no id travels.
    assert quiet.ByteSize() <= 200 + 32
    for k, member_id in enumerate(base.ids[1:4], start=1):  # three restarts: three (position, incarnation)
        a.track(member_id, k, 1.5)
    a.track("joiner:7946", 0, 1.5)  # one member outside the base: named once
    changed = a.tick(2.0).gossip[0][1]
    assert len(changed.base_inc_positions) == 3 and list(changed.ids) == ["joiner:7946"]
    assert changed.ByteSize() - quiet.ByteSize() <= 3 * 4 + len("joiner:7946") + 8


def test_stale_gossip_does_not_resurrect_a_tombstone_and_tombstones_are_not_gossiped():
    base = HeartbeatBase(IDS)
    a, b = attached("m00", base), attached("m01", base, seed=2)
    b.on_gossip("m02", gossip([("m02", 0, 50)]), 0.5)
    stale = b.tick(1.0).gossip[0][1]  # still lists m02 at counter 50
    a.mark_dead("m02", 0, 1.0)
    a.on_gossip("m01", stale, 1.1)
    a.on_gossip("m01", gossip([("m02", 0, 99)]), 1.2)  # even a higher counter at that incarnation
    assert a.is_tombstone("m02")
    assert decoded(a.tick(2.0).gossip[0][1], base).get("m02") is None  # sent as 0: not relayed
    a.on_gossip("m01", gossip([("m02", 1, 1)]), 2.5)  # a higher incarnation revives it
    assert not a.is_tombstone("m02") and a.incarnation("m02") == 1


def test_a_member_with_another_base_pulls_it_once_then_decodes_by_position():
    base = HeartbeatBase(IDS)
    other = HeartbeatBase([*IDS, "z-joiner"])  # bootstrapped from a join reply
    a = attached("m00", base)
    j = attached("z-joiner", other, seed=3)
    msg = a.tick(1.0).gossip[0][1]
    step = j.on_gossip("m00", msg, 1.0)
    assert [(to, m.pull) for to, m in step.gossip] == [("m00", True)]
    assert j.counter("m00") == 0  # nothing merged from a base it could not read
    answer = a.on_gossip("z-joiner", step.gossip[0][1], 1.0).gossip
    assert [to for to, _ in answer] == ["z-joiner"] and list(answer[0][1].base_ids) == IDS
    assert a.on_gossip("z-joiner", step.gossip[0][1], 1.0).gossip == []  # once per round
    assert j.on_gossip("m00", answer[0][1], 1.0).gossip == []
    assert j.counter("m00") == 1
    later = a.tick(2.0).gossip[0][1]
    assert not later.base_ids and j.on_gossip("m00", later, 2.0).gossip == []  # no second pull
    assert j.counter("m00") == 2


def test_a_listed_base_that_does_not_match_its_digest_is_not_learned():
    base = HeartbeatBase(IDS)
    a = attached("m00", base)
    j = attached("z", HeartbeatBase([*IDS, "z"]), seed=3)
    forged = pb.HeartbeatGossip()
    forged.CopyFrom(a.on_gossip("z", pb.HeartbeatGossip(pull=True), 1.0).gossip[0][1])
    forged.base_ids[0] = "evil"
    assert j.on_gossip("m00", forged, 1.0).gossip[0][1].pull  # still unknown: asks again


def test_gossipers_share_the_base_index_and_copy_only_what_they_write():
    base = HeartbeatBase(IDS)
    a, b = attached("m00", base), attached("m01", base, seed=2)
    assert a._s.ids is b._s.ids is base.ids_arr and a._s.base.index is b._s.base.index
    assert a._s.state is base.ones_i8 and a._s.inc is base.zeros_u64
    a.mark_dead("m05", 0, 1.0)
    assert a._s.state is not base.ones_i8 and b._s.state is base.ones_i8  # copied on write
    assert a._s.ids is base.ids_arr  # a tombstone moves no slot
    assert (base.ones_i8 == 0).all()  # the shared array never changed
    with pytest.raises(ValueError):
        base.zeros_u64[0] = 1  # shared arrays are read-only


def test_a_forgotten_base_member_frees_its_slot_and_can_come_back():
    base = HeartbeatBase(IDS)
    a = attached("m00", base)
    a.forget("m04")
    assert a._s.state[IDS.index("m04")] == FREE and "m04" not in a.tracked()
    assert a.counter("m04") is None
    a.on_gossip("m01", gossip([("m04", 0, 7)]), 1.0)
    assert a.counter("m04") is None  # gossip does not track members
    a.track("m04", 3, 1.0)
    assert a.incarnation("m04") == 3 and a._s.slot("m04") == IDS.index("m04")


def test_attach_base_refuses_a_gossiper_that_already_tracks_members():
    g = gossiper("m00", ["m01"])
    assert not g.attach_base(HeartbeatBase(IDS), 0.0)
    assert not HeartbeatGossiper(config(), "zz", random.Random(1), 0.0).attach_base(HeartbeatBase(IDS), 0.0)


@pytest.mark.parametrize("top", [0, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1])
def test_counters_pack_in_the_narrowest_width_and_back(top):
    counters = np.array([0, 1, top // 2, top], dtype=np.uint64)
    data, width = encoding.pack_counters(counters)
    assert width == (1 if top < 2**8 else 2 if top < 2**16 else 4 if top < 2**32 else 8)
    assert len(data) == 4 * width
    assert encoding.unpack_counters(data, width).tolist() == counters.tolist()


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"base_size": 2}, "no base_digest"),
        ({"base_digest": 5, "base_size": 2, "base_heartbeats": b"\x01", "base_heartbeat_width": 1}, "not 2 counters"),
        ({"base_digest": 5, "base_size": 1, "base_heartbeats": b"\x01", "base_heartbeat_width": 3}, "width 3"),
        (
            {
                "base_digest": 5,
                "base_size": 1,
                "base_heartbeats": b"\x01",
                "base_heartbeat_width": 1,
                "base_ids": ["a", "b"],
            },
            "base_ids",
        ),
        (
            {
                "base_digest": 5,
                "base_size": 1,
                "base_heartbeats": b"\x01",
                "base_heartbeat_width": 1,
                "base_inc_positions": [1],
                "base_inc_values": [1],
            },
            "beyond the base",
        ),
        (
            {
                "base_digest": 5,
                "base_size": 1,
                "base_heartbeats": b"\x01",
                "base_heartbeat_width": 1,
                "base_inc_positions": [0],
            },
            "differ in length",
        ),
    ],
)
def test_malformed_base_fields_are_refused_before_any_change(fields, match):
    a = attached("m00", HeartbeatBase(IDS))
    with pytest.raises(HeartbeatGossipError, match=match):
        a.on_gossip("m01", pb.HeartbeatGossip(**fields), 1.0)
    assert a.counter("m01") == 0


def test_base_members_count_against_max_members():
    msg = pb.HeartbeatGossip(
        base_digest=5, base_size=3, base_heartbeats=b"\x01\x01\x01", base_heartbeat_width=1, ids=["x"]
    )
    msg.incarnations.append(0)
    msg.heartbeats.append(1)
    with pytest.raises(HeartbeatGossipError, match="max_members"):
        check_gossip(msg, 3)
    check_gossip(msg, 4)


def test_compact_gossip_spreads_as_fast_as_the_full_list_binary_round_robin_reaches_all_in_log2_n():
    # The paper's property for binary round robin, on the base-relative form: an increase made in
    # round r is known to all 16 members after round r + 3 (log2 16 rounds), as with full lists.
    ids = [f"m{i:02d}" for i in range(16)]
    base = HeartbeatBase(ids)
    cfg = {"gossip_target": "binary_round_robin", "t_fail": 100.0}
    compact = {i: attached(i, base, seed=k, **cfg) for k, i in enumerate(ids)}
    full = {i: gossiper(i, ids, config(**cfg), seed=k) for k, i in enumerate(ids)}
    for nodes in (compact, full):
        for r in range(1, 9):
            run_rounds(nodes, r, r)
            if r >= 4:  # every member's round-(r-3) counter has reached everyone
                for g in nodes.values():
                    assert all(g.counter(m) >= r - 3 for m in ids)
    assert all(compact[i].counter(m) == full[i].counter(m) for i in ids for m in ids)
