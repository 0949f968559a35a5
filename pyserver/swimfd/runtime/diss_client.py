"""Client of the local Go dissemination service (Report and Leave).

The dissemination service is an accelerator, not a dependency: detection keeps
working through piggybacked updates when it is down. Failures are therefore
logged as a rate-limited ``dissemination_unreachable`` warning and never raised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
import grpc.aio

from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc
from swimfd.runtime.logs import Logger
from swimfd.runtime.transport import channel_options, new_channel


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
        self._channel = new_channel(addr, credentials, self._options)
        self._stub = swim_pb2_grpc.DisseminationStub(self._channel)
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
        req = pb.LeaveRequest(header=self._header(), member=member)
        try:
            await self._stub.Leave(req, timeout=self._timeout)
        except grpc.aio.AioRpcError as e:
            self._unreachable("Leave", e)
            return False
        return True

    async def wait_ready(self, timeout: float) -> bool:
        """True when a connection to the service can be made within ``timeout``; warns otherwise."""
        try:
            await asyncio.wait_for(self._channel.channel_ready(), timeout)
        except TimeoutError:
            self._unreachable("connect", f"no connection within {timeout:g}s")
            return False
        return True

    def set_credentials(self, credentials: grpc.ChannelCredentials | None) -> None:
        """Use new credentials from the next call on (a certificate reload); the old channel closes at close()."""
        self._retired.append(self._channel)
        self._channel = new_channel(self.addr, credentials, self._options)
        self._stub = swim_pb2_grpc.DisseminationStub(self._channel)

    async def close(self) -> None:
        for ch in [*self._retired, self._channel]:
            await ch.close(grace=None)
        self._retired = []
