"""`swimfd health --target host:port [--service NAME] [--wait SECONDS]`: ask a grpc.health.v1 service.

Works against a detector and against a go-diss. Prints the status and exits 0
when it is SERVING, 1 otherwise (NOT_SERVING, unknown service, unreachable).
With ``--wait`` it asks again until SERVING or until the time is up, which is
how deploy/cluster.sh waits for a node to be ready.
"""

from __future__ import annotations

import argparse
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from swimfd.commands import tls_flags
from swimfd.runtime.settings import UsageError

POLL = 0.2  # seconds between two checks while waiting


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", required=True, help="host:port of a detector or a go-diss")
    parser.add_argument("--service", default="", help='service name to ask about (default "": the whole process)')
    parser.add_argument("--timeout", type=float, default=2.0, help="deadline of one check in seconds (default 2)")
    parser.add_argument(
        "--wait", type=float, default=0.0, help="keep asking until SERVING, for at most this many seconds (default 0)"
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing; the exit code tells")
    tls_flags.add_arguments(parser)


def check(target: str, service: str, timeout: float, credentials: grpc.ChannelCredentials | None = None) -> str:
    """The status name (SERVING, NOT_SERVING, SERVICE_UNKNOWN, NO_HEALTH_SERVICE), or UNREACHABLE (code)."""
    channel = grpc.secure_channel(target, credentials) if credentials else grpc.insecure_channel(target)
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as e:
            code = e.code()  # type: ignore[attr-defined]
            if code == grpc.StatusCode.NOT_FOUND:
                return "SERVICE_UNKNOWN"
            if code == grpc.StatusCode.UNIMPLEMENTED:
                return "NO_HEALTH_SERVICE"  # something answers, but not grpc.health.v1
            return f"UNREACHABLE ({code.name})"
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def wait_serving(
    target: str, service: str, timeout: float, wait: float, credentials: grpc.ChannelCredentials | None = None
) -> str:
    """Check until SERVING or ``wait`` seconds have passed; the last status seen."""
    deadline = time.monotonic() + wait
    while True:
        status = check(target, service, timeout, credentials)
        if status == "SERVING" or time.monotonic() >= deadline:
            return status
        time.sleep(POLL)


def run(args: argparse.Namespace) -> int:
    if args.wait < 0 or args.timeout <= 0:
        print("swimfd health: --wait must be >= 0 and --timeout > 0", file=sys.stderr)
        return 2
    try:
        creds = tls_flags.credentials(args)
    except UsageError as e:
        print(f"swimfd health: error: {e}", file=sys.stderr)
        return 2
    status = wait_serving(args.target, args.service, args.timeout, args.wait, creds)
    if not args.quiet:
        print(f"{args.target}{' ' + args.service if args.service else ''}: {status}")
    return 0 if status == "SERVING" else 1
