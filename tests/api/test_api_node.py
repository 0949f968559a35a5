"""swimfd.Node in one event loop: settings it builds, events, members, labels, and the SetLabels RPC.

Nodes here run without go-diss (dissemination=False), on free loopback ports; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import Callable

import grpc
import grpc.aio
import pytest

import swimfd
from swimfd.core.config import MAX_LABELS, PROTOCOL_VERSION, Config
from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc
from swimfd.runtime.settings import DISS_PORT_OFFSET

FAST = Config(cluster="api", probe_interval=0.2, probe_timeout=0.1, election=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def addr() -> str:
    return f"127.0.0.1:{free_port()}"


def labels_of(node: swimfd.Node, member: str) -> dict[str, str] | None:
    return next((dict(m.labels) for m in node.members() if m.id == member), None)


async def until(cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not cond():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout:g}s waiting for {what}") from None


def test_swimfd_exports_node_lazily() -> None:
    assert swimfd.Node is swimfd.api.Node
    assert swimfd.StartError is swimfd.runtime.process.StartError
    with pytest.raises(AttributeError):
        _ = swimfd.NoSuchThing  # type: ignore[attr-defined]


def test_settings_follow_the_run_command_rules() -> None:
    a = addr()
    node = swimfd.Node("web-1", a, seeds=[a, "127.0.0.1:7000"], mode="hybrid", labels={"zone": "z"}, insecure=True)
    s = node.settings
    assert (s.node_id, s.bind, s.advertise) == ("web-1", a, a)
    assert s.seeds == ("127.0.0.1:7000",)  # itself is never a seed
    host, port = a.rsplit(":", 1)
    assert (s.diss_addr, s.diss_listen) == (f"{host}:{int(port) + DISS_PORT_OFFSET}",) * 2
    assert s.config.mode == "hybrid" and dict(s.config.labels) == {"zone": "z"}

    s = swimfd.Node(2, a, dissemination=False, insecure=True).settings
    assert (s.node_id, s.diss_addr, s.diss_listen) == ("2", "", None)
    s = swimfd.Node(2, a, diss_addr="127.0.0.1:9999", insecure=True).settings
    assert (s.diss_addr, s.diss_listen) == ("127.0.0.1:9999", None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bind": "nowhere"}, "bind: 'nowhere' is not host:port"),
        ({"bind": "0.0.0.0:7001"}, "listens on every interface"),
        ({"members": ["127.0.0.1:7001", "127.0.0.1:7002"], "node_id": "3"}, "ids are 1-2"),
        ({"dissemination": False, "diss_addr": "127.0.0.1:1"}, "not both"),
        ({"mode": "gossip"}, "mode: 'gossip'"),
        ({"labels": {f"k{i}": "v" for i in range(MAX_LABELS + 1)}}, f"at most {MAX_LABELS}"),
        ({"log_level": "loud"}, "log_level"),
        ({"node_id": ""}, "node_id: must be 1-256"),
        ({"insecure": False}, "tls_dir: required, mutual TLS is the default"),
        ({"tls_dir": "/nonexistent"}, "tls_dir: pass either tls_dir or insecure=True"),
        ({"insecure": False, "tls_dir": "/nonexistent"}, "tls_dir: .*nonexistent"),
    ],
)
def test_bad_arguments_are_value_errors_naming_the_argument(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"node_id": "1", "bind": "127.0.0.1:7001", "insecure": True, **kwargs}
    with pytest.raises(ValueError, match=message):
        swimfd.Node(**args)  # type: ignore[arg-type]


def test_events_members_labels_and_leave_across_three_nodes() -> None:
    logs = io.StringIO()
    addrs = [addr() for _ in range(3)]

    async def go() -> None:
        opts = {"config": FAST, "dissemination": False, "log": logs, "log_level": "info", "insecure": True}
        async with swimfd.Node("1", addrs[0], **opts) as n1:  # type: ignore[arg-type]
            events = n1.events()
            late = n1.events(maxsize=1)  # a consumer that never reads: loses old events, never blocks
            n2 = await swimfd.Node("2", addrs[1], seeds=[addrs[0]], **opts).start()  # type: ignore[arg-type]
            n3 = await swimfd.Node("3", addrs[2], seeds=[addrs[0]], labels={"a": "1"}, **opts).start()  # type: ignore[arg-type]
            try:
                seen: list[tuple[str, str]] = []
                async with asyncio.timeout(10):
                    async for e in events:
                        assert isinstance(e, swimfd.Event) and e.at > 1e9  # epoch seconds
                        seen.append((e.name, e.member))
                        if {("member_joined", "2"), ("member_joined", "3")} <= set(seen):
                            break
                await until(
                    lambda: all(m.state == "alive" for m in n3.members()) and len(n3.members()) == 3,
                    "node 3 to see all three alive",
                )
                [me3] = [m for m in n1.members() if m.id == "3"]
                assert isinstance(me3, swimfd.Member) and dict(me3.labels) == {"a": "1"} and me3.live
                assert me3.diss_addr == ""  # no dissemination service advertised

                n3.set_labels({"a": "2", "b": "x"})
                assert n3.me().incarnation == me3.incarnation + 1
                async with asyncio.timeout(10):
                    async for e in events:
                        if e.name == "member_updated":
                            assert e.member == "3" and e.extra == {"labels": {"a": "2", "b": "x"}}
                            break
                await until(lambda: labels_of(n2, "3") == {"a": "2", "b": "x"}, "n2 to see the new labels")
                with pytest.raises(ValueError, match="key 'bad key'"):
                    n3.set_labels({"bad key": "v"})

                await n3.stop()
                async with asyncio.timeout(10):
                    async for e in events:
                        if (e.name, e.member) == ("member_left", "3"):
                            break
                assert late.dropped > 0
            finally:
                await n2.stop()
                await n3.stop()
        # The node stopped: its streams end, new ones are born ended; closing one is harmless.
        assert [e async for e in n1.events()] == []
        events.close()
        n1.events().close()

    asyncio.run(go())
    names = [json.loads(line)["event"] for line in logs.getvalue().splitlines()]
    assert "labels_changed" in names
    assert "dissemination_unreachable" not in names  # no go-diss is not an error for an embedded node
    health = [json.loads(line) for line in logs.getvalue().splitlines() if '"health_changed"' in line]
    assert any(h["status"] == "SERVING" for h in health)


def test_set_labels_rpc_merges_replaces_and_refuses() -> None:
    a = addr()

    async def call(stub: swim_pb2_grpc.FailureDetectorStub, **fields: object) -> pb.SetLabelsReply:
        req = pb.SetLabelsRequest(header=pb.Header(version=PROTOCOL_VERSION), **fields)  # type: ignore[arg-type]
        reply: pb.SetLabelsReply = await stub.SetLabels(req, timeout=2)
        return reply

    async def go() -> None:
        node = swimfd.Node("1", a, config=FAST, labels={"keep": "1", "old": "x"}, dissemination=False, insecure=True)
        async with node, grpc.aio.insecure_channel(a) as ch:
            stub = swim_pb2_grpc.FailureDetectorStub(ch)
            inc = node.me().incarnation
            reply = await call(stub, set={"new": "2"}, remove=["old"])
            assert dict(reply.member.labels) == {"keep": "1", "new": "2"}
            assert reply.member.incarnation == inc + 1
            reply = await call(stub, set={"only": "this"}, replace=True)
            assert dict(node.me().labels) == {"only": "this"}
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call(stub, set={"v": "x" * 300})
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            with pytest.raises(grpc.aio.AioRpcError) as err:
                req = pb.SetLabelsRequest(header=pb.Header(version=PROTOCOL_VERSION, cluster="other"))
                await stub.SetLabels(req, timeout=2)
            assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert dict(node.me().labels) == {"only": "this"}

    asyncio.run(go())


def test_a_failing_listener_is_logged_and_the_node_carries_on() -> None:
    logs = io.StringIO()
    addrs = [addr(), addr()]

    def broken(_event: object) -> None:
        raise RuntimeError("consumer bug")

    async def go() -> None:
        opts = {"config": FAST, "dissemination": False, "log": logs, "log_level": "info", "insecure": True}
        async with swimfd.Node("1", addrs[0], **opts) as n1:  # type: ignore[arg-type]
            assert n1._runtime is not None
            n1._runtime.listeners.insert(0, broken)
            events = n1.events()
            async with swimfd.Node("2", addrs[1], seeds=[addrs[0]], **opts):  # type: ignore[arg-type]
                event = await events.next(timeout=10)
                assert event is not None and (event.name, event.member) == ("member_joined", "2")
                await until(lambda: labels_of(n1, "2") == {}, "node 1 to know node 2")

    asyncio.run(go())
    errors = [json.loads(line) for line in logs.getvalue().splitlines() if '"listener_error"' in line]
    assert errors and errors[0]["event_name"] == "member_joined" and "consumer bug" in errors[0]["exception"]
