"""The FailureDetector gRPC service: validation and status codes, nothing else.

Every handler runs on the runtime's event loop and calls the core
synchronously, so the core never sees two calls at once. Refusals map to
status codes (docs/architecture.md, "Wire rules"): no header or a malformed message ->
INVALID_ARGUMENT, wrong version or cluster -> FAILED_PRECONDITION, a caller acting
as a member its certificate does not name ->
PERMISSION_DENIED (runtime/identity.py). A refused message never reaches the core.
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
from swimfd.runtime.identity import Caller, IdentityRule, Refusal
from swimfd.runtime.tls import peer_member_id
from swimfd.runtime.transport import Rejected

SERVICE = "swimfd.v1.FailureDetector"
Context = grpc.aio.ServicerContext[bytes, bytes]


class Handlers(Protocol):
    """What the service calls; the runtime implements it (kept as a protocol so server.py needs no import of it)."""

    def note_rejected(self, rpc: str, e: Rejected, peer: str = "", sender: str = "") -> None: ...
    def note_refused(self, refusal: Refusal) -> None: ...
    def on_deliver(self, env: pb.Envelope, peer: str = "") -> list[pb.Envelope]: ...
    def on_join(self, req: pb.JoinRequest, peer: str = "") -> pb.JoinReply: ...
    def commit_join(self, req: pb.JoinRequest, answered: bool) -> None: ...
    def on_leave(self, req: pb.LeaveRequest) -> pb.LeaveReply: ...
    def on_notify(self, notice: pb.Notice, peer: str = "") -> pb.NoticeAck: ...
    def on_members(self, req: pb.MembersRequest) -> pb.MembersReply: ...
    def on_watch(self, req: pb.WatchRequest) -> AsyncIterator[pb.WatchEvent]: ...
    def on_set_labels(self, req: pb.SetLabelsRequest) -> pb.SetLabelsReply: ...


class FailureDetectorService:
    """Handlers take raw bytes and parse them here, so that bytes that are not a protobuf of the
    expected type get INVALID_ARGUMENT (gRPC's own deserializer would answer UNKNOWN).
    With ``identity`` (mutual TLS) every call is checked against the caller's certificate first."""

    def __init__(self, runtime: Handlers, identity: IdentityRule | None = None) -> None:
        self._rt = runtime
        self._identity = identity

    def _check_identity(self, rpc: str, request: Message, context: Context) -> None:
        """With mutual TLS: refuse (PERMISSION_DENIED) a caller its certificate does not allow this call."""
        if self._identity is None:
            return
        caller = Caller(context.peer(), peer_member_id(context.auth_context()))
        denied = self._identity.check(rpc, request, caller)
        if denied is not None:
            self._rt.note_refused(denied)
            raise Rejected(grpc.StatusCode.PERMISSION_DENIED, denied.reason)

    def _method(
        self,
        rpc: str,
        request_type: type[Message],
        call: Callable[[Any, str], Message],
        after: Callable[[Any, bool], None] | None = None,
    ) -> grpc.RpcMethodHandler:
        """``call(request, peer)`` answers; ``after(request, answered)`` runs once the reply was sent
        (answered) or could not be."""

        async def handle(data: bytes, context: Context) -> bytes:
            request: Any = None
            refusal: tuple[grpc.StatusCode, str] | None = None
            try:
                try:
                    request = request_type.FromString(data)
                except DecodeError as e:
                    raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"not a {request_type.__name__}: {e}") from e
                self._check_identity(rpc, request, context)
                reply = call(request, context.peer())
            except Rejected as e:
                sender = request.header.sender if request is not None and request.HasField("header") else ""
                self._rt.note_rejected(rpc, e, peer=context.peer(), sender=sender)
                refusal = (e.code, e.detail)
            if refusal is not None:
                # Abort outside the except block and without the request: the exception gRPC keeps would
                # otherwise reach this frame (a reference cycle), and with it the refused message, which
                # stays in memory until the garbage collector's next full pass (megabytes per message).
                del request, data
                await context.abort(*refusal)
            if after is not None:
                # The reply is written after this handler returns and the callback runs when the call ends.
                # A reply cannot go out once the caller's deadline passed, nor when the caller hung up.
                remaining = context.time_remaining()
                late = remaining is not None and remaining <= 0
                context.add_done_callback(lambda ctx: after(request, not late and not ctx.cancelled()))
            return reply.SerializeToString()

        return grpc.unary_unary_rpc_method_handler(handle)

    def _watch(self) -> grpc.RpcMethodHandler:
        """Watch (server streaming): refusals abort before the first message, like the unary calls."""

        async def handle(data: bytes, context: Context) -> AsyncIterator[bytes]:
            request: pb.WatchRequest | None = None
            refusal: tuple[grpc.StatusCode, str] | None = None
            try:
                try:
                    request = pb.WatchRequest.FromString(data)
                except DecodeError as e:
                    raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"not a WatchRequest: {e}") from e
                self._check_identity("Watch", request, context)
                events = self._rt.on_watch(request)
            except Rejected as e:
                sender = request.header.sender if request is not None and request.HasField("header") else ""
                self._rt.note_rejected("Watch", e, peer=context.peer(), sender=sender)
                refusal = (e.code, e.detail)
            if refusal is not None:  # outside the except block, as in _method (no reference cycle)
                del request, data
                await context.abort(*refusal)
                return
            async for event in events:
                yield event.SerializeToString()

        return grpc.unary_stream_rpc_method_handler(handle)

    def handler(self) -> grpc.GenericRpcHandler:
        rt = self._rt
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Deliver": self._method(
                    "Deliver", pb.Envelope, lambda r, p: pb.DeliverReply(replies=rt.on_deliver(r, peer=p))
                ),
                "Join": self._method("Join", pb.JoinRequest, lambda r, p: rt.on_join(r, peer=p), after=rt.commit_join),
                "Leave": self._method("Leave", pb.LeaveRequest, lambda r, _: rt.on_leave(r)),
                "Notify": self._method("Notify", pb.Notice, lambda r, p: rt.on_notify(r, peer=p)),
                "Members": self._method("Members", pb.MembersRequest, lambda r, _: rt.on_members(r)),
                "Watch": self._watch(),
                "SetLabels": self._method("SetLabels", pb.SetLabelsRequest, lambda r, _: rt.on_set_labels(r)),
            },
        )


# Connection bounds (docs/security.md, "Resource bounds"); go-diss applies the same numbers
# (go-diss/internal/server/limits.go).
MAX_CONNECTIONS = 1024  # open connections at once; more are refused at accept
HANDSHAKE_TIMEOUT_MS = 5_000  # a connection that has not completed its TLS/HTTP2 handshake by then is closed
KEEPALIVE_TIME_MS = 5_000  # ping a connection idle this long ...
KEEPALIVE_TIMEOUT_MS = 2_000  # ... and close it when the ping is not answered: a vanished peer is reaped
MAX_CONNECTION_IDLE_MS = 60_000  # close a connection without calls for this long (clients reconnect)
MAX_CONNECTION_AGE_MS = 600_000  # close every connection this old, gracefully (rebalances, reloads certs)
MAX_CONNECTION_AGE_GRACE_MS = 5_000
MAX_PING_STRIKES = 2  # a client pinging too often is disconnected after this many
MIN_PING_INTERVAL_MS = 1_000  # "too often": our own channels ping every 2 s (transport.CHANNEL_KEEPALIVE_TIME_MS)


def server_options(max_message_bytes: int, max_connections: int = MAX_CONNECTIONS) -> list[tuple[str, int]]:
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        # gRPC enables SO_REUSEPORT by default, which would let a second node
        # silently share a port with the first instead of failing to start.
        ("grpc.so_reuseport", 0),
        ("grpc.max_allowed_incoming_connections", max_connections),
        ("grpc.server_handshake_timeout_ms", HANDSHAKE_TIMEOUT_MS),
        ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.http2.max_ping_strikes", MAX_PING_STRIKES),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", MIN_PING_INTERVAL_MS),
        ("grpc.http2.min_ping_interval_without_data_ms", MIN_PING_INTERVAL_MS),
        ("grpc.max_connection_idle_ms", MAX_CONNECTION_IDLE_MS),
        ("grpc.max_connection_age_ms", MAX_CONNECTION_AGE_MS),
        ("grpc.max_connection_age_grace_ms", MAX_CONNECTION_AGE_GRACE_MS),
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
