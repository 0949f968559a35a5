"""python -m netlab matrix | soak | cleanup | up  (run with PYTHONPATH=pyserver:deploy, as root)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from netlab.cleanup import sweep_stale
from netlab.lab import PYSERVER, Lab
from netlab.matrix import LAB_MODES, matrix_cells, run_matrix, table
from netlab.names import MAX_NODES
from netlab.shell import preflight
from netlab.soak import run_soak

MAX_UP_SECONDS = 3600


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m netlab", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("matrix", help="run the fault matrix and print the table")
    m.add_argument("--n", type=int, default=5, help="nodes per lab (default 5)")
    m.add_argument(
        "--modes",
        default=",".join(LAB_MODES),
        help=f"comma-separated, of {', '.join(LAB_MODES)} (default all; memberlist only where its cells apply)",
    )
    m.add_argument("--cells", default="all", help="comma-separated cell names, or all")
    m.add_argument("--out", default="results/faults", help="results directory (default results/faults)")
    m.add_argument("--pyserver", default=str(PYSERVER), help="detector source tree (default this checkout's)")
    s = sub.add_parser("soak", help="N members at once, then a long window under loss (docs/faults.md, Soak)")
    s.add_argument("--n", type=int, default=100, help="members (default 100)")
    s.add_argument("--minutes", type=float, default=10.0, help="loss window in minutes (default 10)")
    s.add_argument("--loss", type=float, default=0.05, help="link loss during the window (default 0.05)")
    s.add_argument("--mode", default="swim")
    s.add_argument(
        "--config",
        choices=("lab", "default"),
        default="lab",
        help="lab: the matrix's timings (probe 0.5 s); default: swimfd's defaults (probe 1 s). Election off",
    )
    s.add_argument("--out", default="results/soak", help="results directory (default results/soak)")
    s.add_argument("--pyserver", default=str(PYSERVER), help="detector source tree (default this checkout's)")
    sub.add_parser("cleanup", help="remove what crashed lab runs left behind")
    up = sub.add_parser("up", help="start a lab and keep it until Ctrl-C (or --seconds)")
    up.add_argument("--n", type=int, default=5)
    up.add_argument("--mode", default="swim")
    up.add_argument("--seconds", type=float, default=600.0, help=f"at most {MAX_UP_SECONDS}")
    up.add_argument("--workdir", default="run/netlab")
    args = parser.parse_args(argv)

    reason = preflight()
    if reason is not None:
        print(f"netlab: cannot run: {reason}", file=sys.stderr)
        return 2
    if args.cmd == "cleanup":
        print(f"removed runs: {sweep_stale() or 'none'}")
        return 0
    if not 2 <= args.n <= MAX_NODES:
        parser.error(f"--n must be in 2-{MAX_NODES}")
    if args.cmd == "matrix":
        known = [c.name for c in matrix_cells(args.n)]
        names = None if args.cells == "all" else args.cells.split(",")
        unknown = sorted(set(names or []) - set(known))
        if unknown:
            parser.error(f"unknown cells {unknown}; known: {', '.join(known)}")
        modes = args.modes.split(",")
        if not modes or not set(modes) <= set(LAB_MODES):
            parser.error(f"--modes {args.modes!r}: each must be one of {', '.join(LAB_MODES)}")
        results = run_matrix(args.n, modes, names, Path(args.out), Path(args.pyserver))
        print(f"\nN = {args.n}\n{table(results)}")
        return 0 if all(r.passed for r in results) else 1
    if args.cmd == "soak":
        command = "python -m netlab " + " ".join(argv if argv is not None else sys.argv[1:])
        r = run_soak(
            args.n, args.minutes, args.loss, args.mode, Path(args.out), command, Path(args.pyserver), args.config
        )
        print(f"soak: formed={r.formed} in {r.formation_s}s, false positives {r.false_positives}; see {args.out}")
        return 0 if r.passed else 1
    seconds = min(max(args.seconds, 1.0), MAX_UP_SECONDS)
    with Lab(args.n, Path(args.workdir), mode=args.mode) as lab:
        lab.start_all()
        print(f"lab {lab.run_id}: {lab.n} nodes on {lab.names.bridge} ({lab.names.cidr}); logs in {args.workdir}")
        for k, node in lab.nodes.items():
            print(f"  node {k}: {node.addr} in netns {node.netns}")
        print(
            f"views: PYTHONPATH=pyserver python -m swimfd members --tls-dir {lab.tls_dir} --target {lab.nodes[1].addr}"
        )
        with contextlib.suppress(KeyboardInterrupt):
            time.sleep(seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
