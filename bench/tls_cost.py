"""What mutual TLS costs a running swimfd cluster: wire bytes, CPU and memory, TLS against --insecure (not a test).

    .venv/bin/python bench/tls_cost.py [--n 5] [--window 60] [--warm 15]

Starts n real nodes (detector + go-diss each, default config) on loopback, once with
--insecure and once with --tls-dir (certificates from `swimfd certs`), waits until every node
logged node_started plus --warm seconds, then measures for --window seconds:
  wire_bytes_per_s  TCP payload bytes sent by every socket of the cluster (ss tcp_info
                    bytes_sent: gRPC, HTTP/2 and, with TLS, the TLS records), whole cluster
  cpu_pct           utime + stime of every node's process tree / wall time, whole cluster
  rss_mb            VmRSS of every process at the end, whole cluster
  member_failed     events logged during the run (should be 0)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CERTS_ID_HOST = "127.0.0.1"


def tree(pid: int) -> list[int]:
    out = [pid]
    try:
        for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            out += tree(int(c))
    except OSError:
        pass
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pids: list[int]) -> float:
    kb = 0
    for p in pids:
        try:
            m = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{p}/status").read_text())
        except OSError:
            continue
        kb += int(m.group(1)) if m else 0
    return kb / 1024


def wire_bytes(ports: set[int]) -> int:
    """bytes_sent of every TCP socket with one end on the cluster's ports (both ends are local)."""
    lines = subprocess.run(["ss", "-tinH"], capture_output=True, text=True, check=True).stdout.splitlines()
    total = 0
    for i, line in enumerate(lines):
        m = re.match(r"\S+\s+\d+\s+\d+\s+\S+:(\d+)\s+\S+:(\d+)", line)
        if m and (int(m.group(1)) in ports or int(m.group(2)) in ports) and i + 1 < len(lines):
            sent = re.search(r"bytes_sent:(\d+)", lines[i + 1])
            total += int(sent.group(1)) if sent else 0
    return total


def measure(secure: bool, n: int, base: int, warm: float, window: float, work: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "pyserver")}
    py = [sys.executable, "-m", "swimfd"]
    tls = work / "tls"
    if secure:
        subprocess.run([*py, "certs", "ca", "--dir", str(tls)], env=env, check=True, capture_output=True)
        for k in range(1, n + 1):
            node = ["certs", "node", "--dir", str(tls), "--id", str(k), "--host", CERTS_ID_HOST]
            subprocess.run([*py, *node], env=env, check=True, capture_output=True)
    members = ",".join(f"127.0.0.1:{base + k}" for k in range(1, n + 1))
    ports = {base + k for k in range(1, n + 1)} | {base + 10 + k for k in range(1, n + 1)}
    logs = [work / f"n{k}.log" for k in range(1, n + 1)]
    procs = [
        subprocess.Popen(
            [*py, "run", "--id", str(k), "--members", members, "--log-file", str(logs[k - 1])]
            + (["--tls-dir", str(tls)] if secure else ["--insecure"]),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for k in range(1, n + 1)
    ]
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not all(p.exists() and '"node_started"' in p.read_text() for p in logs):
            time.sleep(0.5)
        time.sleep(warm)
        pids = [p for proc in procs for p in tree(proc.pid)]
        c0, b0, t0 = cpu_seconds(pids), wire_bytes(ports), time.time()
        time.sleep(window)
        c1, b1, t1 = cpu_seconds(pids), wire_bytes(ports), time.time()
        rss = rss_mb(pids)
    finally:
        for proc in procs:
            os.killpg(proc.pid, 9)
            proc.wait()
    failed = sum(p.read_text().count('"member_failed"') for p in logs if p.exists())
    wall = t1 - t0
    return {
        "mode": "tls" if secure else "insecure",
        "window_s": round(wall, 1),
        "wire_bytes_per_s": round((b1 - b0) / wall),
        "cpu_pct": round(100 * (c1 - c0) / wall, 1),
        "rss_mb": round(rss, 1),
        "member_failed": failed,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--window", type=float, default=60.0)
    ap.add_argument("--warm", type=float, default=15.0)
    ap.add_argument("--base", type=int, default=43050, help="detector ports base+1..base+n, go-diss +10")
    args = ap.parse_args()
    if shutil.which("ss") is None:
        print("tls_cost: needs ss (iproute2)", file=sys.stderr)
        return 2
    for secure in (False, True):
        with tempfile.TemporaryDirectory(prefix="swimfd-tls-cost-") as tmp:
            base = args.base + (100 if secure else 0)
            print(json.dumps(measure(secure, args.n, base, args.warm, args.window, Path(tmp))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
