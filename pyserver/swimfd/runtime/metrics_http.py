"""The detector's /metrics endpoint: aiohttp on the runtime's own event loop.

prometheus_client's start_http_server would serve from a thread and read the
core while the loop mutates it; serving on the loop keeps every read of the
core between two core calls.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from swimfd.runtime.settings import split_hostport

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MetricsServer:
    def __init__(self, addr: str, render: Callable[[], bytes]) -> None:
        self.addr = addr
        self._render = render
        self._runner: web.AppRunner | None = None

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=self._render(), headers={"Content-Type": CONTENT_TYPE})

    async def start(self) -> None:
        """Listen on ``addr``; OSError (e.g. the port is taken) propagates to the caller."""
        host, port = split_hostport(self.addr, "--metrics-addr")
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, host.strip("[]"), port, reuse_port=False).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
