"""Property-based fuzzing of the FailureDetector servicer with arbitrary bytes and arbitrary messages.

Every call ends cleanly: a reply, or a refusal with a status code that names the caller's mistake
(never INTERNAL, never an exception escaping the handler), and the node stays alive.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
from typing import Any

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_runtime_io import free_port, settings
from wire_strategies import envelopes, join_requests, notices

from swimfd.pb import swim_pb2 as pb
from swimfd.runtime.logs import make_logger
from swimfd.runtime.process import Runtime
from swimfd.runtime.server import FailureDetectorService

pytestmark = pytest.mark.fuzz

REFUSALS = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
METHODS = ("Deliver", "Join", "Leave", "Notify", "Members")


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode) -> None:
        super().__init__(code)
        self.code = code


class FakeContext:
    """The parts of grpc.aio.ServicerContext the service uses."""

    def __init__(self) -> None:
        self.done: list[Any] = []

    async def abort(self, code: grpc.StatusCode, detail: str) -> None:
        raise Aborted(code)

    def peer(self) -> str:
        return "ipv4:127.0.0.1:40000"

    def time_remaining(self) -> float | None:
        return 1.0

    def cancelled(self) -> bool:
        return False

    def add_done_callback(self, callback: Any) -> None:
        self.done.append(callback)


class Harness:
    """A real Runtime around a real Node (not started: no sockets), its sends captured."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)  # the Runtime's primitives bind to it
        s = settings("1", free_port(), members=("127.0.0.1:50051", "127.0.0.1:50052", "127.0.0.1:50053"))
        s = dataclasses.replace(s, config=s.config.replace(cluster="swimfd"))
        self.rt = Runtime(s, make_logger(io.StringIO(), "1"))
        self.rt.send = lambda ob: None  # type: ignore[method-assign]
        self.rt._spawn = lambda coro: coro.close()  # type: ignore[method-assign,assignment]
        self.rt.node.bootstrap(
            [pb.Member(id=i, addr=f"127.0.0.1:5005{i}", state=pb.ALIVE, incarnation=1) for i in ("2", "3")], 0.0
        )
        self.handlers = FailureDetectorService(self.rt).handler()

    def call(self, method: str, data: bytes) -> None:
        details = type("D", (), {"method": f"/swimfd.v1.FailureDetector/{method}"})()
        handler = self.handlers.service(details)
        ctx = FakeContext()
        try:
            reply = self.loop.run_until_complete(handler.unary_unary(data, ctx))
            assert isinstance(reply, bytes)
        except Aborted as e:
            assert e.code in REFUSALS, f"{method}: {e.code}"
        for callback in ctx.done:
            callback(ctx)
        me = self.rt.node.member("1")
        assert me is not None and me.state == pb.ALIVE


HARNESS = st.shared(st.builds(Harness), key="servicer")
messages = st.one_of(
    st.tuples(st.just("Deliver"), envelopes().map(lambda m: m.SerializeToString())),
    st.tuples(st.just("Join"), join_requests().map(lambda m: m.SerializeToString())),
    st.tuples(st.just("Notify"), notices().map(lambda m: m.SerializeToString())),
    st.tuples(st.sampled_from(METHODS), st.binary(max_size=256)),
)


@given(h=HARNESS, calls=st.lists(messages, min_size=1, max_size=8))
def test_every_call_ends_with_a_reply_or_a_refusal_code(h: Harness, calls: list[tuple[str, bytes]]) -> None:
    for method, data in calls:
        h.call(method, data)
