"""`python -m swimfd monitor --seeds host:port,... [--listen 127.0.0.1:8080]`: a live web view of the cluster.

Discovers every member from the seeds' views, polls each one's Members RPC and
serves one page: who thinks what about whom, the timeline of changes, how long
each failure took to reach the first and every live member, and each node's
leader. mTLS-secured nodes (the default) need --tls-dir (or
--tls-ca/--tls-cert/--tls-key; see commands/tls_flags.py).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import grpc
from aiohttp import web

from swimfd.commands import tls_flags
from swimfd.monitor.collector import Collector
from swimfd.monitor.state import Event, MonitorState
from swimfd.monitor.web import Hub, make_app
from swimfd.runtime.logs import make_logger, open_log_stream
from swimfd.runtime.settings import UsageError, parse_addr_list, split_hostport


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", required=True, help="detector addresses host:port,... to discover the cluster from")
    parser.add_argument("--listen", default="127.0.0.1:8080", help="address of the web page (default 127.0.0.1:8080)")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between poll rounds (default 0.5)")
    parser.add_argument("--timeout", type=float, default=1.0, help="deadline of each Members call (default 1 s)")
    parser.add_argument("--concurrency", type=int, default=16, help="Members calls in flight at once (default 16)")
    parser.add_argument("--cluster", default="", help="cluster name to present (checked by the nodes when given)")
    parser.add_argument("--cluster-key-file", dest="cluster_key_file", help="removed: use --tls-dir")
    tls_flags.add_arguments(parser)
    parser.add_argument("--log-file", dest="log_file", help="JSON log lines go here (default stderr)")


def credentials(args: argparse.Namespace) -> grpc.ChannelCredentials | None:
    """TLS channel credentials from the --tls-* flags, or None for plaintext."""
    return tls_flags.credentials(args)


def _check(args: argparse.Namespace) -> None:
    if args.interval <= 0 or args.timeout <= 0 or args.concurrency < 1:
        raise UsageError("--interval and --timeout must be positive, --concurrency at least 1")
    split_hostport(args.listen, "--listen")


async def serve(args: argparse.Namespace, seeds: tuple[str, ...]) -> None:
    host, port = split_hostport(args.listen, "--listen")
    host = host.strip("[]")  # aiohttp wants a bare IPv6 address
    log = make_logger(open_log_stream(args.log_file), "monitor", "info")

    def log_events(events: list[Event]) -> None:
        for e in events:
            log.info(
                "monitor_event",
                kind=e.kind,
                observer=e.observer,
                member=e.subject,
                state=e.state,
                incarnation=e.incarnation,
                at=round(e.at, 6),
            )

    state = MonitorState()
    collector = Collector(
        seeds,
        state,
        interval=args.interval,
        timeout=args.timeout,
        concurrency=args.concurrency,
        cluster=args.cluster,
        credentials=credentials(args),
        on_events=log_events,
    )
    runner = web.AppRunner(make_app(Hub(state), collector), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    url = f"http://{args.listen}/"
    log.info("monitor_started", url=url, seeds=list(seeds))
    print(f"swimfd monitor: serving {url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def run(args: argparse.Namespace) -> int:
    try:
        _check(args)
        seeds = parse_addr_list(args.seeds, "--seeds")
        credentials(args)  # fail on bad TLS flags (or the removed --cluster-key-file) before listening
        asyncio.run(serve(args, seeds))
    except UsageError as e:
        print(f"swimfd monitor: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"swimfd monitor: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
