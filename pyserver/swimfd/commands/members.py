"""`python -m swimfd members --target host:port [--json] [--watch]`: print a running node's view.

Usage: ``python -m swimfd members --target localhost:50051 [--json]``. With
``--watch`` it prints the view once, then one line per membership or leader
event as the node sees it (``--json``: one JSON object per line), until
interrupted or the node stops.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

import grpc

from swimfd.commands import tls_flags
from swimfd.core.config import PROTOCOL_VERSION
from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc
from swimfd.runtime.settings import UsageError
from swimfd.runtime.watch import LAGGED, SNAPSHOT, from_watch_event

COLUMNS = ("id", "addr", "diss_addr", "state", "incarnation", "heartbeat", "last_change")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", required=True, help="detector address host:port of the node to ask")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table (JSON lines with --watch)")
    parser.add_argument(
        "--watch", action="store_true", help="after the view, print every membership and leader event live"
    )
    parser.add_argument("--timeout", type=float, default=3.0, help="RPC deadline in seconds (default 3)")
    parser.add_argument("--cluster", default="", help="cluster name to present (checked by the node when given)")
    parser.add_argument("--cluster-key-file", dest="cluster_key_file", help="removed: use --tls-dir")
    tls_flags.add_arguments(parser)


def fetch(
    target: str,
    timeout: float,
    cluster: str = "",
    credentials: grpc.ChannelCredentials | None = None,
) -> pb.MembersReply:
    req = pb.MembersRequest(header=pb.Header(version=PROTOCOL_VERSION, cluster=cluster, sender="swimfd-members"))
    channel = grpc.secure_channel(target, credentials) if credentials else grpc.insecure_channel(target)
    with channel:
        stub = swim_pb2_grpc.FailureDetectorStub(channel)
        reply: pb.MembersReply = stub.Members(req, timeout=timeout)
        return reply


def watch(
    target: str, timeout: float, cluster: str = "", credentials: grpc.ChannelCredentials | None = None
) -> Iterator[pb.WatchEvent]:
    """The node's Watch stream: ``timeout`` bounds the connection, not the (endless) stream."""
    req = pb.WatchRequest(header=pb.Header(version=PROTOCOL_VERSION, cluster=cluster, sender="swimfd-members"))
    channel = grpc.secure_channel(target, credentials) if credentials else grpc.insecure_channel(target)
    with channel:
        grpc.channel_ready_future(channel).result(timeout=timeout)
        stub = swim_pb2_grpc.FailureDetectorStub(channel)
        yield from stub.Watch(req)


def format_event(payload: dict[str, Any]) -> str:
    """One line per event: time, name, then its fields as key=value."""
    if payload["event"] == LAGGED:
        return f"-             lagged  dropped={payload['dropped']} (this reader fell behind; events were lost)"
    at = time.strftime("%H:%M:%S", time.localtime(payload["ts"])) + f".{int(payload['ts'] % 1 * 1000):03d}"
    rest = " ".join(f"{k}={v}" for k, v in payload.items() if k not in ("event", "node", "member", "ts"))
    return f"{at}  {payload['event']:<16}  member={payload['member']} {rest}".rstrip()


def print_watch(events: Iterable[pb.WatchEvent], as_json: bool) -> None:
    for we in events:
        if we.event == SNAPSHOT:
            view = as_dict(we.snapshot)
            if as_json:
                print(json.dumps({"event": SNAPSHOT, "node": we.node, "view": view}), flush=True)
            else:
                print(format_table(view, time.time()), flush=True)
            continue
        payload = from_watch_event(we)
        print(json.dumps(payload) if as_json else format_event(payload), flush=True)


def as_dict(reply: pb.MembersReply) -> dict[str, Any]:
    members = []
    for mv in sorted(reply.members, key=lambda v: _id_key(v.member.id)):
        m = mv.member
        members.append(
            {
                "id": m.id,
                "addr": m.addr,
                "diss_addr": m.diss_addr,
                "state": pb.MemberState.Name(m.state),
                "incarnation": m.incarnation,
                "heartbeat": m.heartbeat,
                "last_change": round(mv.last_change, 3),
                "priority": m.priority,
                "labels": dict(m.labels),
            }
        )
    leader = None
    if reply.HasField("leader") and reply.leader.leader.id:
        leader = {"id": reply.leader.leader.id, "priority": reply.leader.leader.priority, "term": reply.leader.term}
    return {"self_id": reply.self_id, "mode": reply.mode, "leader": leader, "members": members}


def _id_key(member_id: str) -> tuple[int, int | str]:
    # Numeric ids sort numerically (2 before 10), others after them by name.
    return (0, int(member_id)) if member_id.isdigit() else (1, member_id)


def format_labels(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "-"


def format_table(view: dict[str, Any], now: float) -> str:
    # The labels column appears only when some member has labels.
    with_labels = any(m["labels"] for m in view["members"])
    columns = [*COLUMNS, "labels"] if with_labels else list(COLUMNS)
    rows = [columns]
    for m in view["members"]:
        age = max(now - m["last_change"], 0.0)
        changed = time.strftime("%H:%M:%S", time.localtime(m["last_change"])) + f" ({age:.0f}s ago)"
        row = [str(m[c]) for c in COLUMNS[:-1]] + [changed]
        rows.append([*row, format_labels(m["labels"])] if with_labels else row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    leader = view["leader"]
    lead = f"leader {leader['id']} (term {leader['term']})" if leader else "leader none"
    head = f"node {view['self_id']}  mode {view['mode']}  {lead}"
    return "\n".join([head, *lines])


def run(args: argparse.Namespace) -> int:
    try:
        creds = tls_flags.credentials(args)
    except UsageError as e:
        print(f"swimfd members: error: {e}", file=sys.stderr)
        return 2
    if args.watch:
        return _run_watch(args, creds)
    try:
        reply = fetch(args.target, args.timeout, args.cluster, creds)
    except grpc.RpcError as e:
        code = e.code().name if isinstance(e, grpc.Call) else "UNKNOWN"
        detail = e.details() if isinstance(e, grpc.Call) else str(e)
        print(f"swimfd members: error: {args.target}: {code}: {detail}", file=sys.stderr)
        return 1
    view = as_dict(reply)
    if args.json:
        print(json.dumps(view, indent=2))
    else:
        print(format_table(view, time.time()))
    return 0


def _run_watch(args: argparse.Namespace, creds: grpc.ChannelCredentials | None) -> int:
    try:
        print_watch(watch(args.target, args.timeout, args.cluster, creds), args.json)
    except KeyboardInterrupt:
        return 0
    except grpc.FutureTimeoutError:
        print(f"swimfd members: error: {args.target}: no answer within {args.timeout}s", file=sys.stderr)
        return 1
    except grpc.RpcError as e:
        code = e.code().name if isinstance(e, grpc.Call) else "UNKNOWN"
        detail = e.details() if isinstance(e, grpc.Call) else str(e)
        print(f"swimfd members: error: {args.target}: {code}: {detail}", file=sys.stderr)
        return 1
    print(f"swimfd members: {args.target} ended the stream (the node stopped)", file=sys.stderr)
    return 0
