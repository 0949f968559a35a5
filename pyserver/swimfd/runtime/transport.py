"""Detector-to-detector transport: cached gRPC channels, bounds and counters.

Every call carries a deadline and every message is bounded in size, so a slow,
paused or hostile peer costs at most one deadline and never an unbounded
buffer. Channels are cached per address (one HTTP/2 connection per peer) and
reconnect quickly, so that a restarted peer is reachable again within a
protocol period instead of after gRPC's default backoff of up to two minutes.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import asdict, dataclass

import grpc
import grpc.aio

from swimfd.core import wire
from swimfd.core.wire import ProtocolError
from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc

FAULT_INJECTION_ENV = "SWIMFD_ENABLE_FAULT_INJECTION"


class TransportError(Exception):
    """A message could not be delivered (peer unreachable, deadline, refusal)."""

    def __init__(self, addr: str, code: str, detail: str) -> None:
        super().__init__(f"{addr}: {code}: {detail}")
        self.addr = addr
        self.code = code
        self.detail = detail


class Rejected(Exception):
    """An incoming message that must not reach the core; ``code`` is the gRPC status to answer with."""

    def __init__(self, code: grpc.StatusCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(slots=True)
class TransportStats:
    """Cumulative counters, logged as ``transport_stats`` (bench reads them)."""

    msgs_sent: int = 0
    bytes_sent: int = 0
    msgs_recv: int = 0
    bytes_recv: int = 0
    send_failures: int = 0
    dropped_out: int = 0  # fault injection, outgoing
    dropped_in: int = 0  # fault injection, incoming
    rejected_in: int = 0  # refused by header/mac/size checks
    oversize_out: int = 0  # never sent: larger than max_message_bytes

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(slots=True)
class FaultInjector:
    """Test-only message loss: each Deliver message in either direction is dropped with probability ``loss``."""

    loss: float
    rng: random.Random

    def drop(self) -> bool:
        return self.loss > 0 and self.rng.random() < self.loss


def channel_options(max_message_bytes: int) -> list[tuple[str, int]]:
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 1000),
    ]


def new_channel(
    addr: str, credentials: grpc.ChannelCredentials | None, options: list[tuple[str, int]]
) -> grpc.aio.Channel:
    """A mutual-TLS channel with ``credentials``, a plaintext one without (--insecure)."""
    if credentials is None:
        return grpc.aio.insecure_channel(addr, options=options)
    return grpc.aio.secure_channel(addr, credentials, options=options)


class ChannelCache:
    """At most ``capacity`` open channels, least recently used evicted first.

    With ``credentials`` every channel is mutual TLS; ``set_credentials`` (after
    a certificate reload) retires every open channel, so the next call to each
    peer handshakes with the new certificate.
    """

    def __init__(
        self, max_message_bytes: int, capacity: int = 1024, credentials: grpc.ChannelCredentials | None = None
    ) -> None:
        self._options = channel_options(max_message_bytes)
        self._capacity = capacity
        self._credentials = credentials
        self._channels: OrderedDict[str, grpc.aio.Channel] = OrderedDict()
        self._evicted: list[grpc.aio.Channel] = []

    def set_credentials(self, credentials: grpc.ChannelCredentials | None) -> None:
        self._credentials = credentials
        # Closed later, like evicted ones: calls in flight on them finish.
        self._evicted.extend(self._channels.values())
        self._channels.clear()

    def get(self, addr: str) -> grpc.aio.Channel:
        ch = self._channels.get(addr)
        if ch is not None:
            self._channels.move_to_end(addr)
            return ch
        ch = new_channel(addr, self._credentials, self._options)
        self._channels[addr] = ch
        while len(self._channels) > self._capacity:
            _, old = self._channels.popitem(last=False)
            # Closed later: closing now would cancel calls still in flight on it.
            self._evicted.append(old)
        return ch

    def __len__(self) -> int:
        return len(self._channels)

    async def close_evicted(self) -> None:
        evicted, self._evicted = self._evicted, []
        for ch in evicted:
            await ch.close(grace=1.0)

    async def close(self) -> None:
        await self.close_evicted()
        channels = list(self._channels.values())
        self._channels.clear()
        for ch in channels:
            await ch.close(grace=None)


class Transport:
    """Sends envelopes to peers and checks the ones that arrive."""

    def __init__(
        self,
        *,
        cluster: str,
        max_message_bytes: int,
        rpc_timeout: float,
        fault: FaultInjector | None = None,
        channels: ChannelCache | None = None,
    ) -> None:
        self.cluster = cluster
        self.max_message_bytes = max_message_bytes
        self.rpc_timeout = rpc_timeout
        self.fault = fault
        self.channels = channels if channels is not None else ChannelCache(max_message_bytes)
        self.stats = TransportStats()

    # ---------------------------------------------------------------- outgoing

    def prepare(self, envelope: pb.Envelope) -> pb.Envelope | None:
        """A copy of ``envelope`` ready to send, or None when it must not be sent.

        Copies so that an envelope the core may still hold is never modified.
        """
        if self.fault is not None and self.fault.drop():
            self.stats.dropped_out += 1
            return None
        out = pb.Envelope()
        out.CopyFrom(envelope)
        if out.ByteSize() > self.max_message_bytes:
            self.stats.oversize_out += 1
            return None
        return out

    async def deliver(self, addr: str, envelope: pb.Envelope, timeout: float | None = None) -> list[pb.Envelope]:
        """Send one envelope; return the replies the peer sent back inline (already checked).

        Raises TransportError on any failure; replies that fail the checks are
        dropped (counted in ``rejected_in``), not raised, because the message
        itself was delivered.
        """
        out = self.prepare(envelope)
        if out is None:
            return []
        stub = swim_pb2_grpc.FailureDetectorStub(self.channels.get(addr))
        # Counted when attempted: a message to a dead peer still costs bandwidth.
        self.stats.msgs_sent += 1
        self.stats.bytes_sent += out.ByteSize()
        try:
            reply: pb.DeliverReply = await stub.Deliver(out, timeout=timeout or self.rpc_timeout)
        except grpc.aio.AioRpcError as e:
            self.stats.send_failures += 1
            raise TransportError(addr, e.code().name, e.details() or "") from e
        accepted: list[pb.Envelope] = []
        for env in reply.replies:
            if self.admit(env):
                accepted.append(env)
        return accepted

    def prepare_reply(self, envelope: pb.Envelope) -> pb.Envelope | None:
        """Prepare an inline reply; counted as sent (it crosses the network in the DeliverReply)."""
        out = self.prepare(envelope)
        if out is not None:
            self.stats.msgs_sent += 1
            self.stats.bytes_sent += out.ByteSize()
        return out

    # ---------------------------------------------------------------- incoming

    def admit(self, envelope: pb.Envelope) -> bool:
        """Count an incoming envelope and decide whether it reaches the core (loss injection and checks)."""
        self.stats.msgs_recv += 1
        self.stats.bytes_recv += envelope.ByteSize()
        if self.fault is not None and self.fault.drop():
            self.stats.dropped_in += 1
            return False
        try:
            self.check(envelope)
        except Rejected:
            self.stats.rejected_in += 1
            return False
        return True

    def check(self, message: pb.Envelope | pb.JoinRequest | pb.JoinReply | pb.LeaveRequest | pb.Notice) -> None:
        """Raise Rejected unless the message's header names our version and cluster."""
        check_header(message, self.cluster)


def check_header(message: object, cluster: str) -> None:
    """Header checks shared by every RPC: version and cluster (``swimfd.core.wire.check_header``;
    docs/architecture.md, "Wire rules"). Who sent it is the connection's certificate (runtime/identity.py)."""
    if not message.HasField("header"):  # type: ignore[attr-defined]
        raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, "message has no header")
    try:
        wire.check_header(message.header, cluster)  # type: ignore[attr-defined]
    except ProtocolError as e:
        raise Rejected(grpc.StatusCode.FAILED_PRECONDITION, str(e)) from e
