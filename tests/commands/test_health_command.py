"""`swimfd health` against in-process gRPC servers: status names, exit codes and --wait."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from swimfd.commands import health as health_cmd


@pytest.fixture
def servers() -> Iterator[tuple[str, str, health.HealthServicer]]:
    """A server with a health service (returned servicer) and one without any service."""
    started = []
    addrs = []
    servicer = health.HealthServicer()
    for with_health in (True, False):
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        if with_health:
            health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        started.append(server)
        addrs.append(f"127.0.0.1:{port}")
    try:
        yield addrs[0], addrs[1], servicer
    finally:
        for server in started:
            server.stop(None)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    health_cmd.add_arguments(parser)
    code = health_cmd.run(parser.parse_args(list(argv)))
    return code, capsys.readouterr().out


def test_status_names_and_exit_codes(capsys: pytest.CaptureFixture[str], servers) -> None:
    with_health, without, servicer = servers
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    servicer.set("svc", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert _run(capsys, "--target", with_health) == (0, f"{with_health}: SERVING\n")
    assert _run(capsys, "--target", with_health, "--service", "svc") == (1, f"{with_health} svc: NOT_SERVING\n")
    assert _run(capsys, "--target", with_health, "--service", "other") == (1, f"{with_health} other: SERVICE_UNKNOWN\n")
    assert _run(capsys, "--target", without) == (1, f"{without}: NO_HEALTH_SERVICE\n")
    assert _run(capsys, "--target", with_health, "--quiet") == (0, "")


def test_wait_returns_once_serving(capsys: pytest.CaptureFixture[str], servers) -> None:
    with_health, _, servicer = servers
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    flip = threading.Timer(0.5, servicer.set, ("", health_pb2.HealthCheckResponse.SERVING))
    flip.start()
    try:
        assert _run(capsys, "--target", with_health, "--wait", "20") == (0, f"{with_health}: SERVING\n")
    finally:
        flip.cancel()


def test_bad_wait_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "--target", "127.0.0.1:1", "--wait", "-1")[0] == 2
