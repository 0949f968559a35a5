"""The soak: N members started at once on one lab, formation timed, then a long window under link loss.

    python -m netlab soak --n 100 --minutes 10 --loss 0.05 --mode swim --out results/soak

Every member is live for the whole run, so every member_failed any node logs is a false positive. The
run records: formation time (every view shows all N alive), false positives (with the accuser's loop lag
and local health at the time), suspicions raised and refuted, the CPU share and peak RSS of each
detector and of its go-diss separately (/proc, swimfd.bench.procstat), the load average over time, and
the event-loop lag / local-health figures the runtime logs (transport_stats, local_health_lagging).
Writes <out>/<stamp>.json and .md; node logs stay in <out>/<stamp>/. Bounded in time, always cleaned up.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from netlab.lab import LAB_CONFIG, START_TIMEOUT, Lab, LabNode, wait_until
from swimfd.bench.procstat import TreeMonitor, children
from swimfd.pb import swim_pb2 as pb

SAMPLE_EVERY = 5.0  # /proc and load average, and the progress line
FORMATION_PER_NODE = 3.0  # formation timeout: max(60 s, this * N)
MAX_MINUTES = 60.0


@dataclass
class SoakResult:
    n: int
    mode: str
    loss: float
    minutes: float
    run_id: str
    command: str
    started_utc: str
    config: dict[str, Any] = field(default_factory=dict)
    formed: bool = False
    formation_s: float | None = None  # from the first start to every view showing all N alive
    formation_timeout_s: float = 0.0
    not_formed: dict[str, Any] = field(default_factory=dict)  # observer -> members it did not see alive
    window_s: float = 0.0
    false_positives: int = 0  # every member_failed, whole run (every member is live)
    false_positives_formation: int = 0  # of those, before the loss window began
    false_positives_window: int = 0
    fp_examples: list[dict[str, Any]] = field(default_factory=list)
    accusers: dict[str, int] = field(default_factory=dict)  # observer -> member_failed lines it logged
    suspicions: int = 0  # member_suspected lines in the window
    refuted: int = 0  # member_alive lines in the window (a suspect cleared)
    link_loss_measured: float | None = None
    packets: dict[str, int] = field(default_factory=dict)
    detector: dict[str, Any] = field(default_factory=dict)  # CPU share / peak RSS summaries
    go_diss: dict[str, Any] = field(default_factory=dict)
    per_member: dict[str, dict[str, float | None]] = field(default_factory=dict)
    load: list[tuple[float, float, float, float]] = field(default_factory=list)  # (t since start, 1/5/15 min)
    lag: dict[str, Any] = field(default_factory=dict)
    # Detector sends over the whole run (each node's last transport_stats line, summed): sent, failed,
    # and the failures by gRPC status (failed_deadline, failed_unavailable, failed_other, connect_refused).
    sends: dict[str, int] = field(default_factory=dict)
    views_not_all_alive_at_end: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.formed and self.false_positives == 0 and not self.problems


SEND_KEYS = ("msgs_sent", "send_failures", "failed_deadline", "failed_unavailable", "failed_other", "connect_refused")


def _summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"min": None, "median": None, "max": None, "sum": None}
    return {
        "min": round(min(values), 4),
        "median": round(statistics.median(values), 4),
        "max": round(max(values), 4),
        "sum": round(sum(values), 4),
    }


def _go_diss_pid(node: LabNode) -> int | None:
    if not node.running():
        return None
    assert node.proc is not None
    kids = children(node.proc.pid)
    return kids[0] if kids else None


def _not_alive(lab: Lab) -> dict[str, Any]:
    """observer -> what it does not see alive (None when it does not answer); empty when formed."""
    want = {str(k) for k in lab.nodes}
    out: dict[str, Any] = {}
    for k in sorted(lab.nodes):
        v = lab.view(k)
        if v is None:
            out[str(k)] = None
            continue
        missing = sorted((m for m in want if v.get(m) != pb.ALIVE), key=int)
        if missing:
            out[str(k)] = missing
    return out


def _stats_before(node: LabNode, ts: float) -> dict[str, Any]:
    """The accuser's last transport_stats line (loop lag, health) at or before ``ts``, and the next one."""
    lines = node.events("transport_stats")
    before = [e for e in lines if e.get("ts", 0) <= ts]
    after = [e for e in lines if e.get("ts", 0) > ts]
    pick = {"max_loop_lag_s", "health"}
    return {
        "before": {k: v for k, v in before[-1].items() if k in pick} if before else None,
        "after": {k: v for k, v in after[0].items() if k in pick} if after else None,
    }


def soak_config(profile: str) -> dict[str, Any]:
    """The soak's protocol configuration, election off (it measures membership alone: the election's
    n(n-1)/2 start-up messages stay out of it). "lab": the matrix's fast timings (probe every 0.5 s);
    "default": swimfd's defaults (memberlist's LAN profile, probe every 1 s), what a deployment runs."""
    if profile == "lab":
        return {**LAB_CONFIG, "election": False}
    if profile == "default":
        return {"cluster": LAB_CONFIG["cluster"], "election": False}
    raise ValueError(f"soak config profile must be lab or default, got {profile!r}")


def run_soak(
    n: int,
    minutes: float,
    loss: float,
    mode: str,
    out: Path,
    command: str,
    pyserver: Path | None = None,
    profile: str = "lab",
) -> SoakResult:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    minutes = min(max(minutes, 0.05), MAX_MINUTES)
    workdir = out / stamp
    kwargs: dict[str, Any] = {"mode": mode, "config": soak_config(profile)}
    if pyserver is not None:
        kwargs["pyserver"] = pyserver
    with Lab(n, workdir, **kwargs) as lab:
        result = SoakResult(
            n, mode, loss, minutes, lab.run_id, command, time.strftime("%Y-%m-%dT%H:%M:%SZ"), dict(lab.config)
        )
        t_start = time.time()
        lab.start_all(timeout=max(START_TIMEOUT, 2.0 * n))
        monitor = TreeMonitor()
        for k, node in lab.nodes.items():
            assert node.proc is not None
            monitor.track(f"{k}", node.proc.pid, time.monotonic())
        result.formation_timeout_s = max(60.0, FORMATION_PER_NODE * n)
        load = result.load

        def formed() -> bool:
            load.append((round(time.time() - t_start, 1), *os.getloadavg()))
            return not _not_alive(lab)

        result.formed = wait_until(formed, result.formation_timeout_s - (time.time() - t_start), poll=2.0)
        if result.formed:
            result.formation_s = round(time.time() - t_start, 2)
        else:
            result.not_formed = _not_alive(lab)
            result.problems.append(f"no formation within {result.formation_timeout_s:.0f}s")
        # go-diss is each detector's child: measured on its own, the detector is the tree minus it.
        for k, node in lab.nodes.items():
            pid = _go_diss_pid(node)
            if pid is not None:
                monitor.track(f"{k}/diss", pid, time.monotonic())
        monitor.mark(time.monotonic())
        t0 = time.time()
        # A cluster that never formed has no steady state to soak: tally what formation showed and stop.
        window = minutes * 60.0 if result.formed else 0.0
        if result.formed:
            lab.loss(loss)
        while (left := window - (time.time() - t0)) > 0:
            time.sleep(min(SAMPLE_EVERY, left))
            monitor.sample(time.monotonic())
            la = os.getloadavg()
            load.append((round(time.time() - t_start, 1), *la))
            fp = sum(len(node.events("member_failed")) for node in lab.nodes.values())
            print(f"soak: +{time.time() - t0:5.0f}s load {la[0]:.1f} member_failed so far {fp}", flush=True)
        monitor.sample(time.monotonic())
        t1 = time.time()
        result.window_s = round(t1 - t0, 1)
        counters = lab.loss_counters()
        result.views_not_all_alive_at_end = _not_alive(lab)
        lab.clear_loss()
        if counters["seen"]:
            result.link_loss_measured = round(counters["dropped"] / counters["seen"], 4)
        result.packets = counters
        _tally(lab, result, monitor, t_start, t0, t1)
    write(result, out, stamp)
    return result


def _tally(lab: Lab, result: SoakResult, monitor: TreeMonitor, t_start: float, t0: float, t1: float) -> None:
    det_cpu, det_rss, diss_cpu, diss_rss = [], [], [], []
    for k in sorted(lab.nodes):
        tree, diss = monitor.usage(f"{k}"), monitor.usage(f"{k}/diss")
        d_cpu = None if tree.cpu_share is None else tree.cpu_share - (diss.cpu_share or 0.0)
        d_rss = None if tree.peak_rss_mb is None else tree.peak_rss_mb - (diss.peak_rss_mb or 0.0)
        result.per_member[str(k)] = {
            "detector_cpu": None if d_cpu is None else round(d_cpu, 4),
            "detector_rss_mb": None if d_rss is None else round(d_rss, 1),
            "go_diss_cpu": None if diss.cpu_share is None else round(diss.cpu_share, 4),
            "go_diss_rss_mb": None if diss.peak_rss_mb is None else round(diss.peak_rss_mb, 1),
        }
        for dest, v in ((det_cpu, d_cpu), (det_rss, d_rss), (diss_cpu, diss.cpu_share), (diss_rss, diss.peak_rss_mb)):
            if v is not None:
                dest.append(v)
    result.detector = {"cpu_share": _summary(det_cpu), "peak_rss_mb": _summary(det_rss)}
    result.go_diss = {"cpu_share": _summary(diss_cpu), "peak_rss_mb": _summary(diss_rss)}

    fps: list[dict[str, Any]] = []
    lags: list[float] = []
    healths: list[int] = []
    lagging = 0
    result.sends = dict.fromkeys(SEND_KEYS, 0)
    for k in sorted(lab.nodes):
        node = lab.nodes[k]
        events = node.events()
        last_stats = next((ev for ev in reversed(events) if ev.get("event") == "transport_stats"), {})
        for key in SEND_KEYS:
            result.sends[key] += int(last_stats.get(key, 0))
        for ev in events:
            name, ts = ev.get("event"), float(ev.get("ts", 0.0))
            if name == "member_failed":
                fps.append({"observer": k, "subject": ev.get("member"), "t": round(ts - t_start, 2), "ts": ts})
            elif name == "member_suspected" and t0 <= ts <= t1:
                result.suspicions += 1
            elif name == "member_alive" and t0 <= ts <= t1:
                result.refuted += 1
            elif name == "transport_stats" and t0 <= ts <= t1:
                lags.append(float(ev.get("max_loop_lag_s", 0.0)))
                healths.append(int(ev.get("health", 0)))
            elif name == "local_health_lagging" and t0 <= ts <= t1:
                lagging += 1
    result.false_positives = len(fps)
    result.false_positives_formation = sum(1 for f in fps if f["ts"] < t0)
    result.false_positives_window = result.false_positives - result.false_positives_formation
    for f in fps:
        result.accusers[str(f["observer"])] = result.accusers.get(str(f["observer"]), 0) + 1
    for f in sorted(fps, key=lambda f: f["ts"])[:20]:
        f.update(_stats_before(lab.nodes[f["observer"]], f["ts"]))
        result.fp_examples.append(f)
    result.lag = {
        "max_loop_lag_s": _summary(lags) | {"p99": _pct(lags, 0.99)},
        "health_max": max(healths) if healths else None,
        "health_nonzero_samples": sum(1 for h in healths if h > 0),
        "stats_samples": len(healths),
        "local_health_lagging_lines": lagging,
    }


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, math.ceil(q * len(s)) - 1)], 4)


def write(result: SoakResult, out: Path, stamp: str) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    js, md = out / f"{stamp}.json", out / f"{stamp}.md"
    js.write_text(json.dumps({**asdict(result), "passed": result.passed}, indent=1))
    md.write_text(markdown(result))
    return js, md


def markdown(r: SoakResult) -> str:
    peak = max((la[1] for la in r.load), default=None)
    mean = statistics.mean(la[1] for la in r.load) if r.load else None
    d, g = r.detector, r.go_diss
    lines = [
        f"# Soak {r.started_utc}: {r.n} members, {r.mode}, {r.loss:.0%} loss, {r.minutes:g} min",
        "",
        f"Command: `{r.command}` (run {r.run_id}). Passed: {r.passed}.",
        "",
        f"Configuration (everything else default): `{json.dumps(r.config, sort_keys=True)}`",
        "",
        "| figure | value |",
        "|---|---|",
        f"| formation (all views all {r.n} alive) | "
        + (f"{r.formation_s} s" if r.formed else f"not within {r.formation_timeout_s:.0f} s")
        + " |",
        f"| window | {r.window_s} s, link loss measured {r.link_loss_measured} |",
        f"| false positives (member_failed, all live) | {r.false_positives} "
        f"(formation {r.false_positives_formation}, window {r.false_positives_window}) |",
        f"| suspicions raised / refuted in window | {r.suspicions} / {r.refuted} |",
        f"| detector CPU share per member (min/median/max) | {_mmm(d['cpu_share'])} |",
        f"| detector peak RSS MB (min/median/max) | {_mmm(d['peak_rss_mb'])} |",
        f"| go-diss CPU share per member (min/median/max) | {_mmm(g['cpu_share'])} |",
        f"| go-diss peak RSS MB (min/median/max) | {_mmm(g['peak_rss_mb'])} |",
        f"| all detectors + go-diss CPU (cores) | {(d['cpu_share']['sum'] or 0) + (g['cpu_share']['sum'] or 0):.2f} |",
        "| load average 1 min (mean / peak) | "
        + (f"{mean:.1f} / {peak:.1f}" if mean is not None and peak is not None else "-")
        + " |",
        f"| event-loop lag per 5 s stats line (median/p99/max) | {_mmm(r.lag.get('max_loop_lag_s', {}), p99=True)} |",
        f"| detector sends failed (deadline / unavailable / other; refused) | {_sends(r.sends)} |",
        f"| local health: max / non-zero samples / lagging lines | {r.lag.get('health_max')} / "
        f"{r.lag.get('health_nonzero_samples')} of {r.lag.get('stats_samples')} / "
        f"{r.lag.get('local_health_lagging_lines')} |",
        "",
    ]
    if r.problems:
        lines += ["Problems: " + "; ".join(r.problems), ""]
    if r.fp_examples:
        lines += ["First false positives (accuser's loop lag / health from its stats lines around it):", ""]
        for f in r.fp_examples:
            lines.append(f"- +{f['t']}s {f['observer']}->{f['subject']} before={f['before']} after={f['after']}")
        lines.append("")
    return "\n".join(lines)


def _sends(s: dict[str, int]) -> str:
    if not s.get("msgs_sent"):
        return "-"
    return (
        f"{s['send_failures']:,} of {s['msgs_sent']:,} ({s['send_failures'] / s['msgs_sent']:.1%}): "
        f"{s['failed_deadline']:,} / {s['failed_unavailable']:,} / {s['failed_other']:,}; {s['connect_refused']:,}"
    )


def _mmm(s: dict[str, Any], p99: bool = False) -> str:
    if not s or s.get("median") is None:
        return "-"
    mid = f"{s['median']} / {s['p99']}" if p99 else f"{s['median']}"
    return f"{s['min']} / {mid} / {s['max']}" if not p99 else f"{mid} / {s['max']}"
