"""The web app: the page with its inlined view, the JSON state and the SSE stream."""

from __future__ import annotations

import asyncio
import json

from aiohttp.test_utils import TestClient, TestServer

from swimfd.monitor.state import MemberObs, MonitorState, Snapshot
from swimfd.monitor.web import Hub, make_app, page


def model(state: str = "ALIVE") -> MonitorState:
    m = MonitorState()
    m.observe("a:1", Snapshot("1", "swim", "", 0, (MemberObs("1", "a:1", "ALIVE", 1, 5.0),)), 10.0)
    m.observe("a:2", Snapshot("2", "swim", "", 0, (MemberObs("1", "a:1", state, 1, 5.0),)), 10.0)
    return m


def test_the_inlined_view_cannot_close_its_script_element() -> None:
    out = page("<script>{{STATE}}</script>", json.dumps({"x": "</script><b>"}))
    assert out.count("</script>") == 1
    assert json.loads(out[len("<script>") : -len("</script>")]) == {"x": "</script><b>"}


def test_page_state_and_event_stream() -> None:
    async def scenario() -> None:
        m = model()
        hub = Hub(m, clock=lambda: 42.0)
        async with TestClient(TestServer(make_app(hub))) as client:
            html = await (await client.get("/")).text()
            assert '<script src="/static/monitor.js">' in html and '"observers":["1","2"]' in html
            js = await client.get("/static/monitor.js")
            assert js.status == 200 and "EventSource" in await js.text()
            state = await (await client.get("/api/state")).json()
            assert state["now"] == 42.0 and state["rows"]["2"]["cells"]["1"]["state"] == "ALIVE"

            stream = await client.get("/events")
            assert stream.headers["Content-Type"] == "text/event-stream"
            first = json.loads((await stream.content.readline()).decode().removeprefix("data: "))
            assert first["subjects"] == ["1", "2"]
            await stream.content.readline()  # the blank line that ends the event
            m.observe("a:2", Snapshot("2", "swim", "", 0, (MemberObs("1", "a:1", "SUSPECT", 1, 5.0),)), 11.0)
            await hub.publish()
            line = await asyncio.wait_for(stream.content.readline(), 5)
            pushed = json.loads(line.decode().removeprefix("data: "))
            assert pushed["rows"]["2"]["cells"]["1"]["state"] == "SUSPECT"
            assert [e["kind"] for e in pushed["events"]] == ["suspected"]
            assert pushed["disputes"] == {"1": {"ALIVE": ["1"], "SUSPECT": ["2"]}}
            stream.close()

    asyncio.run(scenario())


def test_a_slow_page_only_keeps_the_latest_view() -> None:
    async def scenario() -> None:
        m = model()
        hub = Hub(m, clock=lambda: 1.0)
        with hub.subscribe() as q:
            await hub.publish()
            m.observe("a:2", Snapshot("2", "swim", "", 0, (MemberObs("1", "a:1", "DEAD", 1, 5.0),)), 11.0)
            await hub.publish()
            assert q.qsize() == 1
            assert json.loads(q.get_nowait())["rows"]["2"]["cells"]["1"]["state"] == "DEAD"
        assert hub.queues == set()

    asyncio.run(scenario())
