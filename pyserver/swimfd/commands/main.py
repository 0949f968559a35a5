"""`swimfd COMMAND ...` (or `python -m swimfd COMMAND ...`): one dispatcher, one module per command.

Each command module exposes ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are imported lazily so that, say, ``members`` never pays for
matplotlib or the simulator.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from swimfd import __version__

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("swimfd.commands.run", "run a failure detector node (same as pyserver/failure_detector.py)"),
    "simulate": ("swimfd.commands.simulate", "run the deterministic discrete-event simulator"),
    "members": ("swimfd.commands.members", "print a running node's membership view"),
    "labels": ("swimfd.commands.labels", "show or change a running node's own labels (spreads to every member)"),
    "monitor": ("swimfd.commands.monitor", "serve a live web view of every member's view"),
    "certs": ("swimfd.commands.certs", "create a cluster CA and member certificates for mutual TLS"),
    "bench": ("swimfd.commands.bench", "compare swim, heartbeat, hybrid and memberlist on real clusters"),
    "health": ("swimfd.commands.health", "ask a detector's or go-diss's grpc.health.v1 service (--wait until SERVING)"),
}


def program_name() -> str:
    """How the user called us: the console script, or python -m swimfd."""
    return "python -m swimfd" if Path(sys.argv[0]).name == "__main__.py" else "swimfd"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = program_name()
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"swimfd {__version__}")
    parser.add_argument(
        "command", choices=sorted(COMMANDS), help="; ".join(f"{k}: {v[1]}" for k, v in COMMANDS.items())
    )
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"swimfd {__version__}")
        return 0
    ns = parser.parse_args(argv[:1])
    module = importlib.import_module(COMMANDS[ns.command][0])
    sub = argparse.ArgumentParser(prog=f"{prog} {ns.command}", description=COMMANDS[ns.command][1])
    module.add_arguments(sub)
    return int(module.run(sub.parse_args(argv[1:])))
