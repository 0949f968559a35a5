"""The FailureDetector gRPC service: validation and status codes, nothing else.

Every handler runs on the runtime's event loop and calls the core
synchronously, so the core never sees two calls at once. Refusals map to
status codes (CONTRACTS section 8): no header or a malformed message ->
INVALID_ARGUMENT, wrong version or cluster -> FAILED_PRECONDITION, bad mac ->
UNAUTHENTICATED. A refused message never reaches the core.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
import grpc.aio

from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc
from swimfd.transport import Rejected

if TYPE_CHECKING:
    from swimfd.runtime import Runtime

R = TypeVar("R")


Context = grpc.aio.ServicerContext[Any, Any]


class FailureDetectorService(swim_pb2_grpc.FailureDetectorServicer):
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def _handle(self, rpc: str, context: Context, call: Callable[[], R]) -> R:
        try:
            return call()
        except Rejected as e:
            self._rt.note_rejected(rpc, e)
            await context.abort(e.code, e.detail)
            raise  # abort() raises; this only satisfies the type checker

    async def Deliver(self, request: pb.Envelope, context: Context) -> pb.DeliverReply:
        replies = await self._handle("Deliver", context, lambda: self._rt.on_deliver(request))
        return pb.DeliverReply(replies=replies)

    async def Join(self, request: pb.JoinRequest, context: Context) -> pb.JoinReply:
        return await self._handle("Join", context, lambda: self._rt.on_join(request))

    async def Leave(self, request: pb.LeaveRequest, context: Context) -> pb.LeaveReply:
        return await self._handle("Leave", context, lambda: self._rt.on_leave(request))

    async def Notify(self, request: pb.Notice, context: Context) -> pb.NoticeAck:
        return await self._handle("Notify", context, lambda: self._rt.on_notify(request))

    async def Members(self, request: pb.MembersRequest, context: Context) -> pb.MembersReply:
        return await self._handle("Members", context, lambda: self._rt.on_members(request))


def server_options(max_message_bytes: int) -> list[tuple[str, int]]:
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        # gRPC enables SO_REUSEPORT by default, which would let a second node
        # silently share a port with the first instead of failing to start.
        ("grpc.so_reuseport", 0),
    ]


def make_server(runtime: Runtime, max_message_bytes: int, max_concurrent_rpcs: int = 256) -> grpc.aio.Server:
    server = grpc.aio.server(options=server_options(max_message_bytes), maximum_concurrent_rpcs=max_concurrent_rpcs)
    swim_pb2_grpc.add_FailureDetectorServicer_to_server(FailureDetectorService(runtime), server)
    return server
