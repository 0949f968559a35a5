"""The detector's grpc.health.v1 status: SERVING once started and joined while its go-diss serves.

``Readiness`` holds the rule (which condition makes the node not ready, and
why); ``HealthReporter`` publishes it through the standard health servicer and
logs every flip as one ``health_changed`` event with the reason; ``watch_diss``
follows the local go-diss's own health stream, so a killed or stopping go-diss
turns the detector NOT_SERVING within one stream error, and a restarted one
turns it back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from swimfd.runtime.logs import Logger

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

DISS_NOT_REACHED = "go-diss not reached yet"
WATCH_RETRY = 0.5  # seconds between two attempts to follow go-diss's health
# Reconnect quickly to a restarted go-diss (gRPC's default backoff grows to two minutes).
WATCH_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


@dataclass(frozen=True, slots=True)
class Verdict:
    serving: bool
    reason: str  # stable name: ready, starting, joining, leaving, dissemination_down
    detail: str = ""

    @property
    def status_name(self) -> str:
        return "SERVING" if self.serving else "NOT_SERVING"


@dataclass(frozen=True, slots=True)
class Readiness:
    """Conditions of readiness; the first unmet one, in this order, is the reason."""

    started: bool = False
    joined: bool = False
    leaving: bool = False
    diss_down: str | None = DISS_NOT_REACHED  # why go-diss is not serving; None while it is

    def verdict(self) -> Verdict:
        if self.leaving:
            return Verdict(False, "leaving")
        if not self.started:
            return Verdict(False, "starting")
        if not self.joined:
            return Verdict(False, "joining")
        if self.diss_down is not None:
            return Verdict(False, "dissemination_down", self.diss_down)
        return Verdict(True, "ready")


class HealthReporter:
    """Owns the health servicer; every service name (and "") follows the node's verdict."""

    def __init__(self, log: Logger, services: Sequence[str]) -> None:
        self.servicer = health_aio.HealthServicer()
        self.services = ("", *services)
        self.readiness = Readiness()
        self._log = log
        # Before start nothing is serving; only flips from here on are logged.
        self._published: bool | None = None
        self._shut = False

    @property
    def verdict(self) -> Verdict:
        return self.readiness.verdict()

    async def update(self, **conditions: bool | str | None) -> Verdict:
        """Change conditions (fields of Readiness), publish the result, log it when SERVING flips."""
        if self._shut:
            return self.readiness.verdict()
        self.readiness = replace(self.readiness, **conditions)
        verdict = self.readiness.verdict()
        if verdict.serving == self._published:
            return verdict
        status = SERVING if verdict.serving else NOT_SERVING
        for name in self.services:
            await self.servicer.set(name, status)
        if self._published is not None or verdict.serving:
            fields = {"detail": verdict.detail} if verdict.detail else {}
            log = self._log.info if verdict.serving or verdict.reason == "leaving" else self._log.warning
            log("health_changed", status=verdict.status_name, reason=verdict.reason, **fields)
        self._published = verdict.serving
        return verdict

    async def shutdown(self) -> None:
        """NOT_SERVING for good (the server is stopping); later updates change nothing."""
        await self.update(leaving=True)
        self._shut = True
        await self.servicer.enter_graceful_shutdown()


async def watch_diss(
    addr: str,
    on_change: Callable[[str | None], Awaitable[object]],
    retry: float = WATCH_RETRY,
    credentials: Callable[[], grpc.ChannelCredentials | None] = lambda: None,
) -> None:
    """Follow go-diss's grpc.health.v1 Watch stream until cancelled.

    ``on_change(None)`` when it reports SERVING, ``on_change(reason)`` when it
    reports anything else, cannot be reached, or the stream breaks (it was
    killed). A NOT_SERVING go-diss is shutting down: the stream is dropped so
    it does not hold up go-diss's graceful stop. ``credentials`` is asked
    again for every new stream, so a certificate reload is picked up.
    """
    while True:
        creds = credentials()
        if creds is None:
            channel = grpc.aio.insecure_channel(addr, options=WATCH_CHANNEL_OPTIONS)
        else:
            channel = grpc.aio.secure_channel(addr, creds, options=WATCH_CHANNEL_OPTIONS)
        try:
            await on_change(await _follow(health_pb2_grpc.HealthStub(channel), addr, on_change))
        finally:
            await channel.close(grace=None)
        await asyncio.sleep(retry)


async def _follow(
    stub: health_pb2_grpc.HealthStub, addr: str, on_change: Callable[[str | None], Awaitable[object]]
) -> str:
    """One Watch stream; returns why it stopped saying SERVING."""
    # wait_for_ready: while go-diss is down the call waits for it to come back instead of failing in a loop.
    call = stub.Watch(health_pb2.HealthCheckRequest(service=""), wait_for_ready=True)
    try:
        async for response in call:
            if response.status == SERVING:
                await on_change(None)
            else:
                return f"go-diss at {addr} reports {health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)}"
    except grpc.aio.AioRpcError as e:
        return f"go-diss at {addr}: {e.code().name} {e.details() or ''}".rstrip()
    finally:
        call.cancel()
    return f"go-diss at {addr} ended its health stream"
