"""The FailureDetector gRPC service: validation and status codes, nothing else.

Every handler runs on the runtime's event loop and calls the core
synchronously, so the core never sees two calls at once. Refusals map to
status codes (docs/architecture.md, "Wire rules"): no header or a malformed message ->
INVALID_ARGUMENT, wrong version or cluster -> FAILED_PRECONDITION, bad mac ->
UNAUTHENTICATED, a caller acting as a member its certificate does not name ->
PERMISSION_DENIED (runtime/identity.py). A refused message never reaches the core.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import grpc
import grpc.aio
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from swimfd.core.config import MAX_CONCURRENT_RPCS
from swimfd.pb import swim_pb2 as pb
from swimfd.runtime.identity import Caller, IdentityRule, Refusal
from swimfd.runtime.tls import peer_member_id
from swimfd.runtime.transport import Rejected

SERVICE = "swimfd.v1.FailureDetector"
Context = grpc.aio.ServicerContext[bytes, bytes]


class Handlers(Protocol):
    """What the service calls; the runtime implements it (kept as a protocol so server.py needs no import of it)."""

    def note_rejected(self, rpc: str, e: Rejected) -> None: ...
    def note_refused(self, refusal: Refusal) -> None: ...
    def on_deliver(self, env: pb.Envelope) -> list[pb.Envelope]: ...
    def on_join(self, req: pb.JoinRequest) -> pb.JoinReply: ...
    def on_leave(self, req: pb.LeaveRequest) -> pb.LeaveReply: ...
    def on_notify(self, notice: pb.Notice) -> pb.NoticeAck: ...
    def on_members(self, req: pb.MembersRequest) -> pb.MembersReply: ...


class FailureDetectorService:
    """Handlers take raw bytes and parse them here, so that bytes that are not a protobuf of the
    expected type get INVALID_ARGUMENT (gRPC's own deserializer would answer UNKNOWN).
    With ``identity`` (mutual TLS) every call is checked against the caller's certificate first."""

    def __init__(self, runtime: Handlers, identity: IdentityRule | None = None) -> None:
        self._rt = runtime
        self._identity = identity

    def _method(self, rpc: str, request_type: type[Message], call: Callable[[Any], Message]) -> grpc.RpcMethodHandler:
        async def handle(data: bytes, context: Context) -> bytes:
            try:
                try:
                    request = request_type.FromString(data)
                except DecodeError as e:
                    raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"not a {request_type.__name__}: {e}") from e
                if self._identity is not None:
                    caller = Caller(context.peer(), peer_member_id(context.auth_context()))
                    refusal = self._identity.check(rpc, request, caller)
                    if refusal is not None:
                        self._rt.note_refused(refusal)
                        raise Rejected(grpc.StatusCode.PERMISSION_DENIED, refusal.reason)
                reply = call(request)
            except Rejected as e:
                self._rt.note_rejected(rpc, e)
                await context.abort(e.code, e.detail)
                raise  # abort() raises; this only satisfies the type checker
            return reply.SerializeToString()

        return grpc.unary_unary_rpc_method_handler(handle)

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
    identity: IdentityRule | None = None,
) -> grpc.aio.Server:
    """The detector's server: FailureDetector, grpc.health.v1 (when given a servicer) and server reflection."""
    server = grpc.aio.server(options=server_options(max_message_bytes), maximum_concurrent_rpcs=max_concurrent_rpcs)
    server.add_generic_rpc_handlers((FailureDetectorService(runtime, identity).handler(),))
    services = [SERVICE, reflection.SERVICE_NAME]
    if health_servicer is not None:
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        services.append(health.SERVICE_NAME)
    reflection.enable_server_reflection(services, server)
    return server
