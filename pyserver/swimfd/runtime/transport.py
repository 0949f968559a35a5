"""Detector-to-detector transport: cached gRPC channels, bounds and counters.

Every call carries a deadline and every message is bounded in size, so a slow,
paused or hostile peer costs at most one deadline and never an unbounded
buffer. Channels are cached per address (one HTTP/2 connection per peer) and
reconnect quickly, so that a restarted peer is reachable again within a
protocol period instead of after gRPC's default backoff of up to two minutes.

A failed delivery is classified (docs/detection.md): *refused* when the connect
was refused at once (UNAVAILABLE whose details end in the kernel's "Connection
refused": nothing listens at an address that answered before, i.e. the process
is gone from a live host); anything else (DEADLINE_EXCEEDED, a peer that never
answered yet) is silence. The core gets only that boolean, never gRPC.
"""

from __future__ import annotations

import errno
import os
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
# What grpc-core puts at the end of UNAVAILABLE's details when connect() got ECONNREFUSED, e.g.
# "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:36245: Failed to connect
# to remote host: Connection refused" (grpcio 1.85, a closed loopback port).
REFUSED_TEXT = os.strerror(errno.ECONNREFUSED)


def is_refusal(code: grpc.StatusCode, details: str) -> bool:
    """Whether a failed call's status says the connection was refused (not a timeout or a reset)."""
    return code == grpc.StatusCode.UNAVAILABLE and REFUSED_TEXT in details


class TransportError(Exception):
    """A message could not be delivered (peer unreachable, deadline, refusal)."""

    def __init__(self, addr: str, code: str, detail: str, refused: bool = False) -> None:
        super().__init__(f"{addr}: {code}: {detail}")
        self.addr = addr
        self.code = code
        self.detail = detail
        self.refused = refused  # connection refused by an address that answered before


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
    connect_refused: int = 0  # of those, connection refused by a peer that answered before
    # ... and by gRPC status, so a failure rate can be read as timeouts or broken connections
    failed_deadline: int = 0  # DEADLINE_EXCEEDED: no reply within the call's deadline
    failed_unavailable: int = 0  # UNAVAILABLE: no connection (refused, reset, reconnect backoff)
    failed_other: int = 0  # any other status
    dropped_out: int = 0  # fault injection, outgoing
    dropped_in: int = 0  # fault injection, incoming
    rejected_in: int = 0  # refused by header/identity/size checks
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


# Keepalive on every channel: after a cut heals, a connection whose segments sit in TCP's exponential
# retransmission backoff would stay silent for about as long as the cut lasted, and its peer would be
# suspected again. An unanswered ping closes it within KEEPALIVE_TIME_MS + KEEPALIVE_TIMEOUT_MS and the
# channel reconnects (found by the network lab, docs/faults.md). Servers permit pings this often
# (runtime/server.py MIN_PING_INTERVAL_MS, go-diss's enforcement policy).
CHANNEL_KEEPALIVE_TIME_MS = 2_000
CHANNEL_KEEPALIVE_TIMEOUT_MS = 1_000


def channel_options(max_message_bytes: int) -> list[tuple[str, int]]:
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 1000),
        ("grpc.keepalive_time_ms", CHANNEL_KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", CHANNEL_KEEPALIVE_TIMEOUT_MS),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
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
        self._answered: set[str] = set()  # cached addresses whose peer answered at least once

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
            gone, old = self._channels.popitem(last=False)
            self._answered.discard(gone)
            # Closed later: closing now would cancel calls still in flight on it.
            self._evicted.append(old)
        return ch

    def __len__(self) -> int:
        return len(self._channels)

    def mark_answered(self, addr: str) -> None:
        if addr in self._channels:
            self._answered.add(addr)

    def has_answered(self, addr: str) -> bool:
        """A call to ``addr`` succeeded before: a process listened there."""
        return addr in self._answered

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
            code = e.code()
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                self.stats.failed_deadline += 1
            elif code == grpc.StatusCode.UNAVAILABLE:
                self.stats.failed_unavailable += 1
            else:
                self.stats.failed_other += 1
            details = e.details() or ""
            # Refusal is evidence only where a process listened before: a peer not started yet refuses too.
            refused = is_refusal(e.code(), details) and self.channels.has_answered(addr)
            if refused:
                self.stats.connect_refused += 1
            raise TransportError(addr, code.name, details, refused) from e
        self.channels.mark_answered(addr)
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
