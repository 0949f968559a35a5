"""`swimfd labels --target host:port ...`: show or change a running node's own labels.

    swimfd labels --target localhost:50051                        print them
    swimfd labels --target localhost:50051 set zone=eu-1 rack=r7  add or change some
    swimfd labels --target localhost:50051 unset rack             remove some
    swimfd labels --target localhost:50051 replace zone=eu-2      exactly these (none: no labels)

A change raises the node's incarnation, so it spreads to every member like any
news about it (SetLabels RPC, docs/running.md "Labels"). Limits are those of
swimfd.core.config (MAX_LABELS, MAX_LABEL_KEY, MAX_LABEL_VALUE); the node refuses more.
With mutual TLS, ``--tls-dir`` (an operator's client certificate, ``swimfd certs
client``) is enough to change labels: the one change a client certificate may
make (docs/security.md); another member's certificate may not.
"""

from __future__ import annotations

import argparse
import sys

import grpc

from swimfd.commands import tls_flags
from swimfd.commands.members import fetch, format_labels
from swimfd.core.config import PROTOCOL_VERSION
from swimfd.pb import swim_pb2 as pb
from swimfd.pb import swim_pb2_grpc
from swimfd.runtime.settings import UsageError

ACTIONS = ("show", "set", "unset", "replace")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", required=True, help="detector address host:port of the node to change")
    parser.add_argument("--timeout", type=float, default=3.0, help="RPC deadline in seconds (default 3)")
    parser.add_argument("--cluster", default="", help="cluster name to present (checked by the node when given)")
    parser.add_argument("--cluster-key-file", dest="cluster_key_file", help="removed: use --tls-dir")
    tls_flags.add_arguments(parser)
    parser.add_argument("action", nargs="?", default="show", choices=ACTIONS, help="default: show")
    parser.add_argument("items", nargs="*", metavar="KEY=VALUE|KEY", help="labels to set or replace, keys to unset")


def request(action: str, items: list[str]) -> pb.SetLabelsRequest:
    """The SetLabels request for an action; ValueError naming a malformed item."""
    req = pb.SetLabelsRequest(replace=action == "replace")
    if action == "unset":
        req.remove.extend(items)
        return req
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{item!r} is not key=value")
        req.set[key] = value
    return req


def run(args: argparse.Namespace) -> int:
    try:
        creds = tls_flags.credentials(args)
    except UsageError as e:
        print(f"swimfd labels: error: {e}", file=sys.stderr)
        return 2
    try:
        if args.action == "show":
            reply = fetch(args.target, args.timeout, args.cluster, creds)
            own = next((mv.member for mv in reply.members if mv.member.id == reply.self_id), pb.Member())
            print(f"node {reply.self_id} incarnation {own.incarnation} labels {format_labels(dict(own.labels))}")
            return 0
        if args.action in ("set", "unset") and not args.items:
            print(f"swimfd labels: error: {args.action} needs at least one label", file=sys.stderr)
            return 2
        try:
            req = request(args.action, args.items)
        except ValueError as e:
            print(f"swimfd labels: error: {e}", file=sys.stderr)
            return 2
        req.header.CopyFrom(pb.Header(version=PROTOCOL_VERSION, cluster=args.cluster, sender="swimfd-labels"))
        channel = grpc.secure_channel(args.target, creds) if creds else grpc.insecure_channel(args.target)
        with channel:
            changed: pb.SetLabelsReply = swim_pb2_grpc.FailureDetectorStub(channel).SetLabels(req, timeout=args.timeout)
    except grpc.RpcError as e:
        code = e.code().name if isinstance(e, grpc.Call) else "UNKNOWN"
        detail = e.details() if isinstance(e, grpc.Call) else str(e)
        print(f"swimfd labels: error: {args.target}: {code}: {detail}", file=sys.stderr)
        return 1
    m = changed.member
    print(f"node {m.id} incarnation {m.incarnation} labels {format_labels(dict(m.labels))}")
    return 0
