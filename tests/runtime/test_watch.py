"""Watch: the bounded per-subscriber queues (swimfd.runtime.watch) and the RPC on a running runtime."""

from __future__ import annotations

import asyncio

import grpc
import grpc.aio
import pytest
from test_runtime_io import _header, free_port, make_runtime, run, settings

from swimfd.core.events import EventName, MembershipEvent, Source
from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc
from swimfd.runtime.watch import (
    LAGGED,
    TooManySubscribers,
    WatchHub,
    event_payload,
    from_watch_event,
    to_watch_event,
)


def payload(member: str, name: EventName = EventName.MEMBER_FAILED) -> dict[str, object]:
    event = MembershipEvent(name, member, 7, 10.0, Source.LOCAL, detector="swim", extra={"by": "2", "urgent": True})
    return event_payload(event, "1", 1000.0)


def test_payload_round_trips_through_a_watch_event() -> None:
    p = payload("3")
    assert p == {
        "event": "member_failed",
        "node": "1",
        "member": "3",
        "incarnation": 7,
        "ts": 1010.0,
        "source": "local",
        "detector": "swim",
        "by": "2",
        "urgent": True,
    }
    back = from_watch_event(to_watch_event(p))
    assert back == {**p, "urgent": "true"}  # extras travel as strings


def test_a_slow_reader_loses_the_oldest_events_and_is_told_how_many() -> None:
    async def main() -> None:
        hub = WatchHub("1", queue_length=3)
        sub = hub.subscribe()
        for i in range(5):
            hub.publish(payload(str(i)))
        first = await sub.get()
        assert first is not None and (first.event, first.dropped) == (LAGGED, 2)
        got = [await sub.get() for _ in range(3)]
        assert [we.member for we in got if we is not None] == ["2", "3", "4"]
        hub.publish(payload("5"))
        nxt = await sub.get()
        assert nxt is not None and nxt.member == "5"  # no second lagged marker
        hub.close()
        assert await sub.get() is None

    run(main())


def test_subscribers_are_bounded_and_each_gets_every_event() -> None:
    async def main() -> None:
        hub = WatchHub("1", max_subscribers=2)
        a, b = hub.subscribe(), hub.subscribe()
        with pytest.raises(TooManySubscribers):
            hub.subscribe()
        hub.publish(payload("3"))
        assert [(await a.get()).member, (await b.get()).member] == ["3", "3"]  # type: ignore[union-attr]
        hub.unsubscribe(a)
        assert len(hub) == 1
        hub.subscribe()  # a freed slot can be taken again

    run(main())


def test_watch_rpc_sends_the_view_then_events_and_ends_when_the_node_stops() -> None:
    async def main() -> None:
        port = free_port()
        rt, _ = make_runtime(settings("1", port))
        rt.watch = WatchHub("1", max_subscribers=1)
        await rt.start()
        stopped = False
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
                stub = swim_pb2_grpc.FailureDetectorStub(ch)
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    async for _ in stub.Watch(pb.WatchRequest(header=_header(cluster="other")), timeout=5):
                        pass
                assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION

                stream = stub.Watch(pb.WatchRequest(), timeout=30)
                first = await stream.read()
                assert first.event == "snapshot" and first.node == "1"
                assert {mv.member.id for mv in first.snapshot.members} == {"1"}
                # The one subscriber slot is taken.
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    async for _ in stub.Watch(pb.WatchRequest(), timeout=5):
                        pass
                assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

                joiner = pb.Member(id="6", addr="127.0.0.1:1", incarnation=3, state=pb.ALIVE)
                await stub.Join(pb.JoinRequest(header=_header(), member=joiner), timeout=5)
                joined = await stream.read()
                assert (joined.event, joined.member, joined.incarnation, joined.source) == (
                    "member_joined",
                    "6",
                    3,
                    "join",
                )
                assert joined.timestamp > 1.6e9  # epoch seconds

                await rt.stop()
                stopped = True
                rest = []
                while (we := await stream.read()) is not grpc.aio.EOF:
                    rest.append(we)
                assert all(we.event != "snapshot" for we in rest)  # then the stream simply ends
        finally:
            if not stopped:
                await rt.stop()

    run(main())


def test_events_reach_no_one_without_subscribers_or_handlers() -> None:
    async def main() -> None:
        hub = WatchHub("1")
        hub.publish(payload("3"))  # nobody listens: nothing is built or kept
        sub = hub.subscribe()
        hub.publish(payload("4"))
        got = await asyncio.wait_for(sub.get(), 1)
        assert got is not None and got.member == "4"

    run(main())
