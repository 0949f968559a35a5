"""The monitor's web app (aiohttp): the page, its JSON state, and a server-sent event stream.

Routes: ``/`` the page; ``/static/*`` its script and style; ``/api/state`` the
model as JSON; ``/events`` an SSE stream that sends the whole model after every
poll round (a few kB for a handful of members, so no deltas).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from swimfd.monitor.collector import Collector
from swimfd.monitor.state import MonitorState

STATIC = Path(__file__).parent / "static"
KEEPALIVE_S = 15.0  # an SSE comment line this often keeps proxies from closing an idle stream


@dataclass
class Hub:
    """Fans each new view out to every connected page; a slow page only ever misses stale views."""

    state: MonitorState
    clock: Callable[[], float] = time.time
    queues: set[asyncio.Queue[str]] = field(default_factory=set)

    def payload(self) -> str:
        return json.dumps(self.state.view(self.clock()), separators=(",", ":"))

    async def publish(self) -> None:
        if not self.queues:
            return
        data = self.payload()
        for q in self.queues:
            if q.full():
                q.get_nowait()  # drop the older view: only the latest matters
            q.put_nowait(data)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[str]]:
        q: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        self.queues.add(q)
        try:
            yield q
        finally:
            self.queues.discard(q)


HUB = web.AppKey("hub", Hub)


PLACEHOLDER = "{{STATE}}"


def page(template: str, state_json: str) -> str:
    """The page with the current view inlined; '</' is escaped so no value can close the script element."""
    return template.replace(PLACEHOLDER, state_json.replace("</", "<\\/"), 1)


async def index(request: web.Request) -> web.Response:
    template = (STATIC / "index.html").read_text(encoding="utf-8")
    body = page(template, request.app[HUB].payload())
    return web.Response(text=body, content_type="text/html", headers={"Cache-Control": "no-store"})


async def state_json(request: web.Request) -> web.Response:
    return web.Response(text=request.app[HUB].payload(), content_type="application/json")


async def events(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    await resp.prepare(request)
    # A closed page ends the stream with ConnectionResetError: a normal end, not an error.
    with hub.subscribe() as q, contextlib.suppress(ConnectionResetError):
        await resp.write(f"data: {hub.payload()}\n\n".encode())
        while True:
            try:
                data = await asyncio.wait_for(q.get(), KEEPALIVE_S)
            except TimeoutError:
                await resp.write(b": keepalive\n\n")
                continue
            await resp.write(f"data: {data}\n\n".encode())
    return resp


def make_app(hub: Hub, collector: Collector | None = None) -> web.Application:
    """The web app; with a collector, it polls for as long as the app runs."""
    app = web.Application()
    app[HUB] = hub
    app.router.add_get("/", index)
    app.router.add_get("/api/state", state_json)
    app.router.add_get("/events", events)
    app.router.add_static("/static/", STATIC)
    if collector is not None:

        async def follow(app: web.Application) -> AsyncIterator[None]:
            task = asyncio.create_task(collector.run(hub.publish))
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        app.cleanup_ctx.append(follow)
    return app
