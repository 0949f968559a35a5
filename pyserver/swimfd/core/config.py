"""Protocol configuration: one validated dataclass.

SWIM defaults follow hashicorp/memberlist's LAN profile so that comparisons are
like for like; heartbeat defaults follow van Renesse et al. (Middleware 1998)
with T_cleanup = 2 * T_fail.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from swimfd.pb import swim_pb2 as pb

Mode = Literal["swim", "heartbeat", "hybrid"]
GossipTarget = Literal["random", "round_robin", "binary_round_robin", "sequence_check"]
HeartbeatDetector = Literal["fixed", "phi"]

MODES: tuple[str, ...] = ("swim", "heartbeat", "hybrid")
GOSSIP_TARGETS: tuple[str, ...] = ("random", "round_robin", "binary_round_robin", "sequence_check")
HEARTBEAT_DETECTORS: tuple[str, ...] = ("fixed", "phi")

# Named once in swim.proto (enums ProtocolVersion and Limits) so that go-diss
# reads the same values from its generated code; tests/runtime/test_shared_limits.py
# checks that both sides agree.
PROTOCOL_VERSION: Final[int] = pb.PROTOCOL_VERSION_1  # the Header.version this node speaks
MAX_CLUSTER_LEN: Final[int] = pb.MAX_CLUSTER_LEN  # characters in a cluster name
MAX_ID_LEN: Final[int] = pb.MAX_ID_LEN  # characters in a member id
MAX_CONCURRENT_RPCS: Final[int] = pb.MAX_CONCURRENT_RPCS  # calls a gRPC server handles at once
MAX_MESSAGE_BYTES: Final[int] = pb.MAX_MESSAGE_BYTES  # default bound on every gRPC message

# Member labels ride on every update about the member, so they are kept small.
MAX_LABELS = 32
MAX_LABEL_KEY = 63
MAX_LABEL_VALUE = 255
LABEL_KEY = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?")

Labels = tuple[tuple[str, str], ...]


class ConfigError(ValueError):
    """A configuration value is out of range or inconsistent."""


@dataclass(frozen=True, slots=True)
class Config:
    cluster: str = "swimfd"
    mode: Mode = "swim"

    # --- SWIM + Lifeguard (memberlist LAN defaults) ---
    probe_interval: float = 1.0  # seconds per protocol period
    probe_timeout: float = 0.5  # wait for a direct ack
    indirect_checks: int = 3  # k proxies for ping-req
    suspicion_mult: int = 4  # Min suspicion = mult * max(1, log10 n) * interval
    suspicion_max_timeout_mult: int = 6  # Max suspicion = this * Min
    retransmit_mult: int = 4  # an update is sent mult * ceil(log10(n + 1)) times
    awareness_max_multiplier: int = 8  # local health score ranges over [0, max - 1]
    probe_recheck: bool = True  # a failed round-robin probe is repeated at once before the target is suspected
    nack_fraction: float = 0.8  # proxy sends a nack at this fraction of probe_timeout
    max_piggyback: int = 16  # updates piggybacked on one message
    dead_probe_interval: float = 30.0  # re-probe known-dead members this often, so healed partitions merge
    tombstone_ttl: float = 3600.0  # a DEAD or LEFT member is forgotten (member_removed) this long after

    # --- evidence beyond silence (docs/detection.md) ---
    refusal_quorum: int = 2  # observers whose ping was refused (us + proxies) before the short grace; 0: off
    refusal_grace: float | None = None  # suspicion timeout on a quorum of refusals; None: probe_interval / 2
    broadcast_refutations: bool = True  # report our own refutations (REFUTED) so go-diss tells everyone
    broadcast_suspicions: bool = True  # report suspicions we raise (SUSPECTED) so other members probe the suspect
    alert_observers: int = 10  # members expected to probe on a SUSPECTED notice (Rapid's K); 0: every member

    # --- hybrid rule (swimfd.core.hybrid) ---
    hybrid_stale_after: float | None = None  # heartbeat staleness that triggers an early probe; None: derived from n

    # --- van Renesse heartbeat gossip ---
    gossip_interval: float = 0.5  # T_gossip
    gossip_fanout: int = 1  # M members per round
    gossip_target: GossipTarget = "random"
    t_fail: float | None = None  # None: derived from p_mistake
    p_mistake: float = 1e-6  # target probability of a wrong failure decision
    t_cleanup: float | None = None  # None: 2 * t_fail
    heartbeat_detector: HeartbeatDetector = "fixed"
    phi_threshold: float = 8.0
    phi_window: int = 32  # inter-arrival samples kept per member (Hayashibara SRDS 2004)
    phi_min_std: float = 0.1  # floor on the fitted standard deviation (seconds)
    phi_acceptable_pause: float = 3.0  # added to the fitted mean, as Akka's acceptable-heartbeat-pause

    # --- bully election (Garcia-Molina 1982) ---
    election: bool = True  # run the bully election on top of membership
    priority: int = 0  # election identity is (priority, id); highest wins
    # This member's labels, sorted (key, value) pairs; a config file gives an object {"zone": "a"}.
    labels: Labels = ()
    election_timeout: float = 1.0  # wait for GotIt from higher members
    leader_wait_timeout: float = 3.0  # after a GotIt, wait this long for IAmLeader
    leader_probe_min: float = 0.5  # leader probes at random intervals in [min, max]
    leader_probe_max: float = 3.0
    feign_after_max: float = 10.0  # --feign-failure: next fake failure after U(0, this) s
    feign_duration_min: float = 1.0  # ... lasting U(min, max) s
    feign_duration_max: float = 4.0

    # --- back-pressure (issue 15, lever 7: swimfd.core.backpressure, swimfd.core.health) ---
    max_loop_lag: float = 0.25  # event-loop lag (s) beyond which a node counts itself unhealthy
    startup_grace: float | None = None  # never-acked members are not suspected so long; None: mult * interval
    max_probe_requests: int = 3  # extra probes new suspicions may request per probe period

    # --- runtime bounds (the core enforces the ones about content) ---
    max_members: int = 65536
    max_message_bytes: int = MAX_MESSAGE_BYTES

    # --- plausibility bounds (docs/security.md; swimfd.core.plausibility, swimfd.core.wire) ---
    # A claim about another member may be at most this far past the incarnation this node knows for it
    # (accusations) or twice that (its own Alive); an unknown member's incarnation at most this far past
    # the incarnation a member starting now would take (incarnations start from the wall clock).
    max_incarnation_step: int = 1 << 20
    max_term_step: int = 1 << 20  # an election term at most this far past the highest term this node knows
    max_labels: int = MAX_LABELS  # labels a member may carry, in any message (refused beyond)
    max_label_key_len: int = MAX_LABEL_KEY
    max_label_value_len: int = MAX_LABEL_VALUE

    def __post_init__(self) -> None:
        validate(self)

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    @property
    def refusal_grace_s(self) -> float:
        """The grace a refused member gets to answer before it is confirmed dead."""
        return self.probe_interval / 2 if self.refusal_grace is None else self.refusal_grace


def labels_from(mapping: Mapping[str, str]) -> Labels:
    """The Config form of a label mapping (sorted pairs, so equal label sets compare equal)."""
    return tuple(sorted(mapping.items()))


def _require(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(msg)


def validate(c: Config) -> None:
    _require(bool(c.cluster) and len(c.cluster) <= MAX_CLUSTER_LEN, f"cluster: must be 1-{MAX_CLUSTER_LEN} characters")
    _require(c.mode in MODES, f"mode: {c.mode!r} is not one of {', '.join(MODES)}")
    for name in (
        "probe_interval",
        "probe_timeout",
        "gossip_interval",
        "dead_probe_interval",
        "tombstone_ttl",
        "election_timeout",
        "leader_wait_timeout",
        "leader_probe_min",
        "leader_probe_max",
        "feign_after_max",
        "feign_duration_min",
        "feign_duration_max",
        "phi_min_std",
    ):
        v = getattr(c, name)
        _require(
            isinstance(v, int | float) and math.isfinite(v) and v > 0,
            f"{name}: must be a positive number of seconds, got {v!r}",
        )
    _require(
        c.probe_timeout < c.probe_interval,
        f"probe_timeout ({c.probe_timeout}) must be shorter than probe_interval ({c.probe_interval})",
    )
    for name, lo in (
        ("indirect_checks", 0),
        ("suspicion_mult", 1),
        ("suspicion_max_timeout_mult", 1),
        ("retransmit_mult", 1),
        ("awareness_max_multiplier", 1),
        ("max_piggyback", 0),
        ("gossip_fanout", 1),
        ("max_members", 2),
        ("max_message_bytes", 1024),
        ("max_incarnation_step", 1),
        ("max_term_step", 1),
        ("max_labels", 0),
        ("max_label_key_len", 1),
        ("max_label_value_len", 0),
        ("phi_window", 2),
        ("refusal_quorum", 0),
        ("alert_observers", 0),
    ):
        v = getattr(c, name)
        _require(
            isinstance(v, int) and not isinstance(v, bool) and v >= lo, f"{name}: must be an integer >= {lo}, got {v!r}"
        )
    _require(
        c.leader_probe_min <= c.leader_probe_max,
        f"leader_probe_min ({c.leader_probe_min}) must be <= leader_probe_max ({c.leader_probe_max})",
    )
    _require(
        c.feign_duration_min <= c.feign_duration_max,
        f"feign_duration_min ({c.feign_duration_min}) must be <= feign_duration_max ({c.feign_duration_max})",
    )
    _require(
        isinstance(c.priority, int) and not isinstance(c.priority, bool),
        f"priority: must be an integer, got {c.priority!r}",
    )
    _validate_labels(c.labels)
    _require(
        len(c.labels) <= c.max_labels
        and all(len(k) <= c.max_label_key_len and len(v) <= c.max_label_value_len for k, v in c.labels),
        f"labels: this member's labels exceed max_labels ({c.max_labels}), max_label_key_len "
        f"({c.max_label_key_len}) or max_label_value_len ({c.max_label_value_len})",
    )
    _require(0 < c.nack_fraction < 1, f"nack_fraction: must be in (0, 1), got {c.nack_fraction!r}")
    _require(
        c.gossip_target in GOSSIP_TARGETS,
        f"gossip_target: {c.gossip_target!r} is not one of {', '.join(GOSSIP_TARGETS)}",
    )
    _require(
        c.heartbeat_detector in HEARTBEAT_DETECTORS,
        f"heartbeat_detector: {c.heartbeat_detector!r} is not one of {', '.join(HEARTBEAT_DETECTORS)}",
    )
    _require(0 < c.p_mistake < 1, f"p_mistake: must be in (0, 1), got {c.p_mistake!r}")
    _require(c.phi_threshold > 0, f"phi_threshold: must be positive, got {c.phi_threshold!r}")
    _require(
        isinstance(c.phi_acceptable_pause, int | float) and 0 <= c.phi_acceptable_pause < math.inf,
        f"phi_acceptable_pause: must be a non-negative number of seconds, got {c.phi_acceptable_pause!r}",
    )
    if c.refusal_grace is not None:
        _require(
            isinstance(c.refusal_grace, int | float) and math.isfinite(c.refusal_grace) and c.refusal_grace > 0,
            f"refusal_grace: must be a positive number of seconds, got {c.refusal_grace!r}",
        )
    for name in ("broadcast_refutations", "broadcast_suspicions", "probe_recheck"):
        _require(isinstance(getattr(c, name), bool), f"{name}: must be true or false, got {getattr(c, name)!r}")
    if c.hybrid_stale_after is not None:
        _require(
            isinstance(c.hybrid_stale_after, int | float)
            and math.isfinite(c.hybrid_stale_after)
            and c.hybrid_stale_after > c.gossip_interval,
            f"hybrid_stale_after ({c.hybrid_stale_after!r}) must be longer than gossip_interval ({c.gossip_interval})",
        )
    _require(
        isinstance(c.max_loop_lag, int | float) and math.isfinite(c.max_loop_lag) and c.max_loop_lag > 0,
        f"max_loop_lag: must be a positive number of seconds, got {c.max_loop_lag!r}",
    )
    if c.startup_grace is not None:
        _require(
            isinstance(c.startup_grace, int | float) and 0 <= c.startup_grace < math.inf,
            f"startup_grace: must be a non-negative number of seconds, got {c.startup_grace!r}",
        )
    _require(
        isinstance(c.max_probe_requests, int)
        and not isinstance(c.max_probe_requests, bool)
        and c.max_probe_requests >= 0,
        f"max_probe_requests: must be an integer >= 0, got {c.max_probe_requests!r}",
    )
    if c.t_fail is not None:
        _require(
            c.t_fail > c.gossip_interval,
            f"t_fail ({c.t_fail}) must be longer than gossip_interval ({c.gossip_interval})",
        )
    if c.t_cleanup is not None:
        t_fail = c.t_fail if c.t_fail is not None else 0.0
        _require(c.t_cleanup >= t_fail, f"t_cleanup ({c.t_cleanup}) must be >= t_fail ({t_fail})")


def check_labels(labels: Labels) -> Labels:
    """``labels`` when they are within the limits above; ConfigError naming the problem otherwise."""
    _validate_labels(labels)
    return labels


def _validate_labels(labels: Labels) -> None:
    _require(isinstance(labels, tuple), f"labels: must be key/value pairs, got {labels!r}")
    _require(len(labels) <= MAX_LABELS, f"labels: at most {MAX_LABELS}, got {len(labels)}")
    keys = [pair[0] for pair in labels if isinstance(pair, tuple) and len(pair) == 2]
    _require(len(keys) == len(labels), f"labels: must be key/value pairs, got {labels!r}")
    _require(len(set(keys)) == len(keys), f"labels: a key appears twice in {labels!r}")
    for key, value in labels:
        _require(
            isinstance(key, str) and len(key) <= MAX_LABEL_KEY and LABEL_KEY.fullmatch(key) is not None,
            f"labels: key {key!r} must be 1-{MAX_LABEL_KEY} letters, digits or ._/- "
            "(starting and ending with a letter or digit)",
        )
        _require(
            isinstance(value, str) and len(value) <= MAX_LABEL_VALUE,
            f"labels: value of {key!r} must be a string of at most {MAX_LABEL_VALUE} characters",
        )


def from_dict(raw: dict[str, Any], origin: str = "config") -> Config:
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{origin}: unknown key(s) {', '.join(unknown)}")
    if "labels" in raw:
        labels = raw["labels"]
        if not isinstance(labels, dict):
            raise ConfigError(f'{origin}: labels: must be an object such as {{"zone": "a"}}, got {labels!r}')
        raw = {**raw, "labels": labels_from(labels)}
    try:
        return Config(**raw)
    except TypeError as e:
        raise ConfigError(f"{origin}: {e}") from e
