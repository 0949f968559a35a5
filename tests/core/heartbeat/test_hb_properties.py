"""Invariants of the heartbeat list under arbitrary sequences of operations (hypothesis)."""

from __future__ import annotations

from hb_helpers import config, gossip, gossiper
from hypothesis import given, settings
from hypothesis import strategies as st

IDS = ["a", "b", "c", "d", "e"]
ALL = [*IDS, "zz"]
OTHERS = IDS[1:]

member = st.sampled_from([*OTHERS, "zz"])
entry = st.tuples(st.sampled_from(ALL), st.integers(0, 3), st.integers(0, 50))
op = st.one_of(
    st.tuples(st.just("gossip"), st.lists(entry, max_size=6)),
    st.tuples(st.just("track"), member, st.integers(0, 3)),
    st.tuples(st.just("dead"), member, st.integers(0, 3)),
    st.tuples(st.just("forget"), member),
    st.tuples(st.just("tick")),
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    ops=st.lists(st.tuples(op, st.floats(0.0, 3.0)), max_size=40),
    mode=st.sampled_from(["heartbeat", "hybrid"]),
    detector=st.sampled_from(["fixed", "phi"]),
    target=st.sampled_from(["random", "sequence_check"]),
)
def test_heartbeat_list_invariants(ops, mode, detector, target):
    cfg = config(
        mode=mode, t_fail=4.0, t_cleanup=6.0, gossip_fanout=2, heartbeat_detector=detector, gossip_target=target
    )
    g = gossiper("a", OTHERS, cfg)
    now = 0.0
    reported: set[str] = set()  # failed and not revived since
    for action, dt in ops:
        now += dt
        before = {m: (g.incarnation(m), g.counter(m), g.is_tombstone(m)) for m in ALL}
        kind = action[0]
        if kind == "gossip":
            step = g.on_gossip("b", gossip(action[1]), now)
        elif kind == "track":
            g.track(action[1], action[2], now)
            step = None
        elif kind == "dead":
            g.mark_dead(action[1], action[2], now)
            step = None
        elif kind == "forget":
            g.forget(action[1])
            step = None
        else:
            step = g.tick(now)
        after = {m: (g.incarnation(m), g.counter(m), g.is_tombstone(m)) for m in ALL}
        removed = set(step.removed) if step else set()
        for m in ALL:
            (inc0, hb0, dead0), (inc1, hb1, dead1) = before[m], after[m]
            if inc0 is None or inc1 is None or kind == "forget" or m in removed:
                continue
            assert inc1 >= inc0, f"{m}: incarnation went back"
            if inc1 == inc0 and kind != "dead":
                assert hb1 >= hb0, f"{m}: counter went back"
                assert not (dead0 and not dead1), f"{m}: tombstone revived without a higher incarnation"
        if step is not None:
            assert not set(step.failed) & reported, "a failure was reported twice"
            for m in step.progressed:
                reported.discard(m)
            reported |= set(step.failed)
            reported -= removed
            for _, msg in step.gossip:
                assert list(msg.ids) == sorted(msg.ids) == g.tracked()
                assert len(msg.incarnations) == len(msg.heartbeats) == len(msg.ids)
                assert not any(g.is_tombstone(m) for m in msg.ids)
        if kind in ("track", "forget"):
            reported.discard(action[1])
        assert g.counter("a") is not None and not g.is_tombstone("a")
