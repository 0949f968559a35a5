"""The FailureDetector gRPC service: validation and status codes, nothing else.

Every handler runs on the runtime's event loop and calls the core
synchronously, so the core never sees two calls at once. Refusals map to
status codes (docs/architecture.md, "Wire rules"): no header or a malformed message ->
INVALID_ARGUMENT, wrong version or cluster -> FAILED_PRECONDITION, bad mac ->
UNAUTHENTICATED. A refused message never reaches the core.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import grpc
import grpc.aio
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from swimfd.core.config import MAX_CONCURRENT_RPCS
from swimfd.pb import swim_pb2 as pb
from swimfd.runtime.transport import Rejected

SERVICE = "swimfd.v1.FailureDetector"
Context = grpc.aio.ServicerContext[bytes, bytes]


class Handlers(Protocol):
    """What the service calls; the runtime implements it (kept as a protocol so server.py needs no import of it)."""

    def note_rejected(self, rpc: str, e: Rejected) -> None: ...
    def on_deliver(self, env: pb.Envelope) -> list[pb.Envelope]: ...
    def on_join(self, req: pb.JoinRequest) -> pb.JoinReply: ...
    def on_leave(self, req: pb.LeaveRequest) -> pb.LeaveReply: ...
    def on_notify(self, notice: pb.Notice) -> pb.NoticeAck: ...
    def on_members(self, req: pb.MembersRequest) -> pb.MembersReply: ...
    def on_watch(self, req: pb.WatchRequest) -> AsyncIterator[pb.WatchEvent]: ...
    def on_set_labels(self, req: pb.SetLabelsRequest) -> pb.SetLabelsReply: ...


class FailureDetectorService:
    """Handlers take raw bytes and parse them here, so that bytes that are not a protobuf of the
    expected type get INVALID_ARGUMENT (gRPC's own deserializer would answer UNKNOWN)."""

    def __init__(self, runtime: Handlers) -> None:
        self._rt = runtime

    def _method(self, rpc: str, request_type: type[Message], call: Callable[[Any], Message]) -> grpc.RpcMethodHandler:
        async def handle(data: bytes, context: Context) -> bytes:
            try:
                try:
                    request = request_type.FromString(data)
                except DecodeError as e:
                    raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"not a {request_type.__name__}: {e}") from e
                reply = call(request)
            except Rejected as e:
                self._rt.note_rejected(rpc, e)
                await context.abort(e.code, e.detail)
                raise  # abort() raises; this only satisfies the type checker
            return reply.SerializeToString()

        return grpc.unary_unary_rpc_method_handler(handle)

    def _watch(self) -> grpc.RpcMethodHandler:
        """Watch (server streaming): refusals abort before the first message, like the unary calls."""

        async def handle(data: bytes, context: Context) -> AsyncIterator[bytes]:
            try:
                try:
                    request = pb.WatchRequest.FromString(data)
                except DecodeError as e:
                    raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"not a WatchRequest: {e}") from e
                events = self._rt.on_watch(request)
            except Rejected as e:
                self._rt.note_rejected("Watch", e)
                await context.abort(e.code, e.detail)
                raise
            async for event in events:
                yield event.SerializeToString()

        return grpc.unary_stream_rpc_method_handler(handle)

    def handler(self) -> grpc.GenericRpcHandler:
        rt = self._rt
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Deliver": self._method("Deliver", pb.Envelope, lambda r: pb.DeliverReply(replies=rt.on_deliver(r))),
                "Join": self._method("Join", pb.JoinRequest, rt.on_join),
                "Leave": self._method("Leave", pb.LeaveRequest, rt.on_leave),
                "Notify": self._method("Notify", pb.Notice, rt.on_notify),
                "Members": self._method("Members", pb.MembersRequest, rt.on_members),
                "Watch": self._watch(),
                "SetLabels": self._method("SetLabels", pb.SetLabelsRequest, rt.on_set_labels),
            },
        )


def server_options(max_message_bytes: int) -> list[tuple[str, int]]:
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        # gRPC enables SO_REUSEPORT by default, which would let a second node
        # silently share a port with the first instead of failing to start.
        ("grpc.so_reuseport", 0),
    ]


def make_server(
    runtime: Handlers,
    max_message_bytes: int,
    max_concurrent_rpcs: int = MAX_CONCURRENT_RPCS,
    health_servicer: health_pb2_grpc.HealthServicer | None = None,
) -> grpc.aio.Server:
    """The detector's server: FailureDetector, grpc.health.v1 (when given a servicer) and server reflection."""
    server = grpc.aio.server(options=server_options(max_message_bytes), maximum_concurrent_rpcs=max_concurrent_rpcs)
    server.add_generic_rpc_handlers((FailureDetectorService(runtime).handler(),))
    services = [SERVICE, reflection.SERVICE_NAME]
    if health_servicer is not None:
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        services.append(health.SERVICE_NAME)
    reflection.enable_server_reflection(services, server)
    return server
