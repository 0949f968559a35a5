"""Checks on what arrives from the wire, made before any state changes.

Every check raises ``ProtocolError`` and leaves the node untouched. ``check_header`` (protocol
version and cluster) is the one Python header check: the node calls it on every message, and the
gRPC transport wraps it, turning a ProtocolError into its status code.
"""

from __future__ import annotations

from swimfd.core.config import MAX_ID_LEN, PROTOCOL_VERSION, Config
from swimfd.core.election import validate as validate_election
from swimfd.core.heartbeat.shape import HeartbeatGossipError, check_gossip
from swimfd.core.membership import KNOWN_STATES
from swimfd.core.reports import KIND_STATE
from swimfd.pb import swim_pb2 as pb

MAX_ADDR_LEN = 512
ELECTION_BODIES = ("elect", "got_it", "i_am_leader", "leader_probe")


class ProtocolError(ValueError):
    """A message that is malformed, from another cluster or protocol version,
    or otherwise not acceptable. The node's state is unchanged."""


def check_header(h: pb.Header, cluster: str) -> None:
    """The header names our protocol version and our cluster."""
    if h.version != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {h.version} is not supported (this node speaks {PROTOCOL_VERSION})")
    if h.cluster != cluster:
        raise ProtocolError(f"cluster {h.cluster!r} is not this node's cluster {cluster!r}")


def check_member(m: pb.Member, what: str) -> None:
    """A member named in a message has an id, and bounded id and addresses."""
    mid = m.id
    if not mid:
        raise ProtocolError(f"{what} has an empty id")
    if len(mid) > MAX_ID_LEN or len(m.addr) > MAX_ADDR_LEN or len(m.diss_addr) > MAX_ADDR_LEN:
        raise ProtocolError(f"{what} id or address too long")


def check_labels(m: pb.Member, cfg: Config, what: str) -> None:
    """A member's labels are bounded in count, key and value size (Config.max_labels and friends):
    labels ride on every update about the member, so one oversized map would be copied everywhere."""
    labels = m.labels
    if len(labels) > cfg.max_labels:
        raise ProtocolError(f"{what} {m.id!r} carries {len(labels)} labels (at most {cfg.max_labels})")
    for key, value in labels.items():
        if len(key) > cfg.max_label_key_len or len(value) > cfg.max_label_value_len:
            raise ProtocolError(
                f"{what} {m.id!r} has a label longer than {cfg.max_label_key_len} (key) "
                f"or {cfg.max_label_value_len} (value) characters"
            )


def validate_envelope(env: pb.Envelope, cfg: Config, election: bool) -> str:
    """Check a detector-to-detector envelope; returns its body field.

    Only the first ``max_piggyback`` updates are checked: the node reads no more. ``election``:
    the node runs the bully election, so election bodies are checked (and later handled).
    """
    check_header(env.header, cfg.cluster)
    body = env.WhichOneof("body")
    if body is None:
        raise ProtocolError("envelope has no body")
    if not env.header.sender:
        raise ProtocolError("envelope header has no sender")
    if len(env.header.sender) > MAX_ID_LEN or len(env.header.sender_addr) > MAX_ADDR_LEN:
        raise ProtocolError("envelope header sender or sender_addr too long")
    for upd in env.updates[: cfg.max_piggyback]:
        check_member(upd.member, "update member")
        check_labels(upd.member, cfg, "update member")
        if upd.member.state not in KNOWN_STATES:
            raise ProtocolError(f"update about {upd.member.id!r} has unknown state {upd.member.state}")
    if body == "ping_req" and not env.ping_req.target:
        raise ProtocolError("ping_req has no target")
    if body == "ack":
        if len(env.ack.tombstones) > cfg.max_piggyback:
            raise ProtocolError(f"ack lists {len(env.ack.tombstones)} tombstones (at most {cfg.max_piggyback})")
        for upd in env.ack.tombstones:
            check_member(upd.member, "ack tombstone")
            check_labels(upd.member, cfg, "ack tombstone")
    if body in ELECTION_BODIES and election:
        try:
            validate_election(env.header.sender, env)
        except ValueError as e:
            raise ProtocolError(str(e)) from e
        if body == "elect":
            for m in env.elect.members:  # merged like a join: same checks as gossiped members
                check_member(m, "elect member")
                check_labels(m, cfg, "elect member")
    if body == "gossip":
        try:
            check_gossip(env.gossip, cfg.max_members)  # the one rule for the gossip's shape
        except HeartbeatGossipError as e:
            raise ProtocolError(str(e)) from e
    return body


def validate_join(request: pb.JoinRequest, cluster: str, own_id: str, cfg: Config | None = None) -> None:
    """A join request from another member that can be reached (its own address); with ``cfg``, its
    labels are checked against the configured bounds."""
    check_header(request.header, cluster)
    joiner = request.member
    check_member(joiner, "join request member")
    if cfg is not None:
        check_labels(joiner, cfg, "join request member")
    if joiner.id == own_id:
        raise ProtocolError(f"join request uses this node's own id {joiner.id!r}")
    if not joiner.addr:
        raise ProtocolError("join request member has no addr")


def validate_notice(notice: pb.Notice, cluster: str, cfg: Config | None = None) -> None:
    """A notice from the dissemination service names a known kind and a member (with bounded labels)."""
    check_header(notice.header, cluster)
    if notice.kind not in KIND_STATE:
        raise ProtocolError(f"notice kind {notice.kind} is not known")
    if not notice.HasField("update"):
        raise ProtocolError("notice has no update")
    check_member(notice.update.member, "notice member")
    if cfg is not None:
        check_labels(notice.update.member, cfg, "notice member")
