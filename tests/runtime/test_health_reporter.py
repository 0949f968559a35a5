"""The detector's readiness rule and how its health servicer and log follow it (no processes)."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from grpc_health.v1 import health_pb2

from swimfd.runtime.health import DISS_NOT_REACHED, HealthReporter, Readiness
from swimfd.runtime.logs import make_logger

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE = "swimfd.v1.FailureDetector"


@pytest.mark.parametrize(
    ("readiness", "serving", "reason"),
    [
        (Readiness(), False, "starting"),
        (Readiness(started=True), False, "joining"),
        (Readiness(started=True, joined=True), False, "dissemination_down"),
        (Readiness(started=True, joined=True, diss_down=None), True, "ready"),
        (Readiness(started=True, joined=True, diss_down=None, leaving=True), False, "leaving"),
        (Readiness(started=True, joined=False, diss_down="gone", leaving=True), False, "leaving"),
        (Readiness(started=True, joined=False, diss_down="gone"), False, "joining"),
    ],
)
def test_first_unmet_condition_is_the_reason(readiness: Readiness, serving: bool, reason: str) -> None:
    verdict = readiness.verdict()
    assert (verdict.serving, verdict.reason) == (serving, reason)


def test_dissemination_reason_carries_the_detail() -> None:
    assert Readiness(started=True, joined=True).verdict().detail == DISS_NOT_REACHED
    assert Readiness(started=True, joined=True, diss_down="killed").verdict().detail == "killed"


def _health_events(buf: io.StringIO) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    return [
        {k: e[k] for k in ("status", "reason", "detail") if k in e} for e in lines if e["event"] == "health_changed"
    ]


def _statuses(reporter: HealthReporter) -> dict[str, int]:
    return {name: reporter.servicer._server_status[name] for name in ("", SERVICE)}


def test_reporter_publishes_every_service_and_logs_each_flip_once() -> None:
    async def main() -> None:
        buf = io.StringIO()
        reporter = HealthReporter(make_logger(buf, "1"), [SERVICE])
        await reporter.update(started=True)  # still NOT_SERVING: nothing to log
        assert _statuses(reporter) == {"": NOT_SERVING, SERVICE: NOT_SERVING}
        await reporter.update(joined=True, diss_down=None)
        assert _statuses(reporter) == {"": SERVING, SERVICE: SERVING}
        await reporter.update(diss_down=None)  # no change, no event
        await reporter.update(diss_down="go-diss killed")
        await reporter.update(diss_down="still down")  # already NOT_SERVING: no second event
        assert _statuses(reporter) == {"": NOT_SERVING, SERVICE: NOT_SERVING}
        await reporter.update(diss_down=None)
        await reporter.shutdown()
        await reporter.update(leaving=False)  # after shutdown nothing serves again
        assert _statuses(reporter) == {"": NOT_SERVING, SERVICE: NOT_SERVING}
        assert _health_events(buf) == [
            {"status": "SERVING", "reason": "ready"},
            {"status": "NOT_SERVING", "reason": "dissemination_down", "detail": "go-diss killed"},
            {"status": "SERVING", "reason": "ready"},
            {"status": "NOT_SERVING", "reason": "leaving"},
        ]

    asyncio.run(main())
