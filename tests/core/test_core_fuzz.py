"""Property-based fuzzing of every message body through the core (hypothesis; `make fuzz` runs it long).

Whatever arrives, the core either uses it or raises ProtocolError, and its view stays sound: this
node is alive at a plausible incarnation, every record has a known state, the live count matches,
the table is bounded, labels are within the configured bounds and deadlines are numbers.
"""

from __future__ import annotations

import contextlib
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire_strategies import TOP, envelopes, join_requests, notices

from swimfd.core.config import Config
from swimfd.core.membership import KNOWN_STATES, LIVE_STATES
from swimfd.core.node import Node
from swimfd.core.wire import ProtocolError
from swimfd.pb import swim_pb2 as pb

pytestmark = pytest.mark.fuzz

MODES = ("swim", "heartbeat", "hybrid")


def _node(mode: str) -> Node:
    cfg = Config(mode=mode, max_members=16)
    node = Node(cfg, pb.Member(id="1", addr="127.0.0.1:50051", incarnation=1000), random.Random(7), 0.0)
    node.bootstrap(
        [pb.Member(id=i, addr=f"127.0.0.1:5005{i}", incarnation=1000, state=pb.ALIVE) for i in ("2", "3")], 0.0
    )
    return node


def _check(node: Node) -> None:
    me = node.member("1")
    assert me is not None and me.state == pb.ALIVE
    assert 1000 <= me.incarnation < TOP
    records = list(node._members)
    assert len(records) <= node.config.max_members
    assert len({r.id for r in records}) == len(records)
    assert all(r.state in KNOWN_STATES and r.id for r in records)
    assert node._members.live_count == sum(r.state in LIVE_STATES for r in records)
    cfg = node.config
    for r in records:
        assert len(r.labels) <= cfg.max_labels
        assert all(len(k) <= cfg.max_label_key_len and len(v) <= cfg.max_label_value_len for k, v in r.labels.items())
    assert not math.isnan(node.next_deadline())
    leader = node.leader()
    assert leader is None or leader.term < 2**62


inputs = st.one_of(
    st.tuples(st.just("receive"), envelopes()),
    st.tuples(st.just("join"), join_requests()),
    st.tuples(st.just("notice"), notices()),
    st.tuples(st.just("tick"), st.floats(0.0, 5.0)),
)


@given(mode=st.sampled_from(MODES), steps=st.lists(inputs, min_size=1, max_size=12))
def test_any_sequence_of_messages_raises_only_protocol_error_and_keeps_the_view_sound(
    mode: str, steps: list[tuple[str, object]]
) -> None:
    node = _node(mode)
    now = 0.0
    for kind, msg in steps:
        now += 0.05
        try:
            if kind == "receive":
                node.receive(msg, now)  # type: ignore[arg-type]
            elif kind == "join":
                node.handle_join(msg, now)  # type: ignore[arg-type]
            elif kind == "notice":
                node.apply_notice(msg, now)  # type: ignore[arg-type]
            else:
                now += float(msg)  # type: ignore[arg-type]
                node.tick(now)
        except ProtocolError:
            pass
        _check(node)


@given(data=st.binary(max_size=512))
def test_arbitrary_bytes_that_parse_as_an_envelope_raise_only_protocol_error(data: bytes) -> None:
    node = _node("hybrid")
    try:
        env = pb.Envelope.FromString(data)
    except Exception:
        return
    with contextlib.suppress(ProtocolError):
        node.receive(env, 0.1)
    _check(node)
