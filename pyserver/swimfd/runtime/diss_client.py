"""Client of the local Go dissemination service (Report and Leave).

The dissemination service is an accelerator, not a dependency: detection keeps
working through piggybacked updates when it is down. Failures are therefore
logged as a rate-limited ``dissemination_unreachable`` warning and never raised.
An empty address means the node runs without one (an embedded node may, see
swimfd.api): then nothing is sent and nothing is counted as failed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc
from swimfd.runtime.logs import Logger
from swimfd.runtime.transport import channel_options, new_channel

MESSAGE_LIMIT_HEADER = "swimfd-max-message-bytes"  # go-diss announces its bound in this response header


@dataclass(slots=True)
class RateLimit:
    """Allows one action per ``every`` seconds; counts what it suppressed in between."""

    every: float
    clock: Callable[[], float] = time.monotonic
    _last: float | None = None
    suppressed: int = field(default=0)

    def allow(self) -> bool:
        now = self.clock()
        if self._last is None or now - self._last >= self.every:
            self._last = now
            return True
        self.suppressed += 1
        return False

    def take_suppressed(self) -> int:
        n, self.suppressed = self.suppressed, 0
        return n


class DissClient:
    def __init__(
        self,
        *,
        addr: str,
        header: Callable[[], pb.Header],
        log: Logger,
        max_message_bytes: int,
        timeout: float = 1.0,
        warn_every: float = 10.0,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self.addr = addr
        self._header = header
        self._log = log
        self._timeout = timeout
        self._warn = RateLimit(warn_every)
        self._options = channel_options(max_message_bytes)
        # No address: this node runs without go-diss (embedded without dissemination).
        self._channel = new_channel(addr, credentials, self._options) if addr else None
        self._stub = swim_pb2_grpc.DisseminationStub(self._channel) if self._channel is not None else None
        self._retired: list[grpc.aio.Channel] = []
        self.reports_sent = 0
        self.reports_failed = 0

    def _unreachable(self, rpc: str, error: grpc.aio.AioRpcError | str) -> None:
        self.reports_failed += 1
        if not self._warn.allow():
            return
        if isinstance(error, grpc.aio.AioRpcError):
            code, detail = error.code().name, error.details() or ""
        else:
            code, detail = "UNAVAILABLE", error
        self._log.warning(
            "dissemination_unreachable",
            addr=self.addr,
            rpc=rpc,
            code=code,
            detail=detail,
            suppressed=self._warn.take_suppressed(),
            note="detection continues through piggybacked updates",
        )

    async def report(self, kind: pb.NoticeKind.ValueType, update: pb.Update) -> pb.ReportAck | None:
        """Ask the local service to broadcast a confirmed change; None when it cannot be reached."""
        if self._stub is None:
            return None
        req = pb.FailureReport(header=self._header(), kind=kind, update=update)
        try:
            ack: pb.ReportAck = await self._stub.Report(req, timeout=self._timeout)
        except grpc.aio.AioRpcError as e:
            self._unreachable("Report", e)
            return None
        self.reports_sent += 1
        return ack

    async def leave(self, member: pb.Member) -> bool:
        """Ask the local service to broadcast our own graceful leave."""
        if self._stub is None:
            return False
        req = pb.LeaveRequest(header=self._header(), member=member)
        try:
            await self._stub.Leave(req, timeout=self._timeout)
        except grpc.aio.AioRpcError as e:
            self._unreachable("Leave", e)
            return False
        return True

    async def wait_ready(self, timeout: float) -> bool:
        """True when a connection to the service can be made within ``timeout``; warns otherwise."""
        if self._channel is None:
            return False
        try:
            await asyncio.wait_for(self._channel.channel_ready(), timeout)
        except TimeoutError:
            self._unreachable("connect", f"no connection within {timeout:g}s")
            return False
        return True

    async def message_limit(self) -> int | None:
        """The message bound go-diss announces (response header ``swimfd-max-message-bytes`` on its
        health check), or None when it cannot be read (unreachable, or a go-diss that does not say)."""
        if self._channel is None:
            return None
        stub = health_pb2_grpc.HealthStub(self._channel)
        try:
            call = stub.Check(health_pb2.HealthCheckRequest(), timeout=self._timeout)
            await call
            metadata = await call.initial_metadata()
        except grpc.aio.AioRpcError:
            return None
        value = dict(metadata or ()).get(MESSAGE_LIMIT_HEADER)
        return int(value) if isinstance(value, str) and value.isdigit() else None

    def set_credentials(self, credentials: grpc.ChannelCredentials | None) -> None:
        """Use new credentials from the next call on (a certificate reload); the old channel closes at close()."""
        if self._channel is None:
            return
        self._retired.append(self._channel)
        self._channel = new_channel(self.addr, credentials, self._options)
        self._stub = swim_pb2_grpc.DisseminationStub(self._channel)

    async def close(self) -> None:
        for ch in [*self._retired, self._channel]:
            if ch is not None:
                await ch.close(grace=None)
        self._retired = []
