from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProtocolVersion(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROTOCOL_VERSION_UNSPECIFIED: _ClassVar[ProtocolVersion]
    PROTOCOL_VERSION_1: _ClassVar[ProtocolVersion]

class Limits(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIMITS_UNSPECIFIED: _ClassVar[Limits]
    MAX_CLUSTER_LEN: _ClassVar[Limits]
    MAX_ID_LEN: _ClassVar[Limits]
    MAX_CONCURRENT_RPCS: _ClassVar[Limits]
    MAX_MESSAGE_BYTES: _ClassVar[Limits]

class MemberState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMBER_STATE_UNSPECIFIED: _ClassVar[MemberState]
    ALIVE: _ClassVar[MemberState]
    SUSPECT: _ClassVar[MemberState]
    DEAD: _ClassVar[MemberState]
    LEFT: _ClassVar[MemberState]

class NoticeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTICE_KIND_UNSPECIFIED: _ClassVar[NoticeKind]
    FAILED: _ClassVar[NoticeKind]
    JOINED: _ClassVar[NoticeKind]
    LEFT_CLUSTER: _ClassVar[NoticeKind]
    REFUTED: _ClassVar[NoticeKind]
    SUSPECTED: _ClassVar[NoticeKind]
PROTOCOL_VERSION_UNSPECIFIED: ProtocolVersion
PROTOCOL_VERSION_1: ProtocolVersion
LIMITS_UNSPECIFIED: Limits
MAX_CLUSTER_LEN: Limits
MAX_ID_LEN: Limits
MAX_CONCURRENT_RPCS: Limits
MAX_MESSAGE_BYTES: Limits
MEMBER_STATE_UNSPECIFIED: MemberState
ALIVE: MemberState
SUSPECT: MemberState
DEAD: MemberState
LEFT: MemberState
NOTICE_KIND_UNSPECIFIED: NoticeKind
FAILED: NoticeKind
JOINED: NoticeKind
LEFT_CLUSTER: NoticeKind
REFUTED: NoticeKind
SUSPECTED: NoticeKind

class Header(_message.Message):
    __slots__ = ("version", "cluster", "sender", "sender_addr", "mac")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    SENDER_ADDR_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    version: int
    cluster: str
    sender: str
    sender_addr: str
    mac: bytes
    def __init__(self, version: _Optional[int] = ..., cluster: _Optional[str] = ..., sender: _Optional[str] = ..., sender_addr: _Optional[str] = ..., mac: _Optional[bytes] = ...) -> None: ...

class Member(_message.Message):
    __slots__ = ("id", "addr", "diss_addr", "incarnation", "state", "heartbeat", "labels", "priority")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    ADDR_FIELD_NUMBER: _ClassVar[int]
    DISS_ADDR_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    id: str
    addr: str
    diss_addr: str
    incarnation: int
    state: MemberState
    heartbeat: int
    labels: _containers.ScalarMap[str, str]
    priority: int
    def __init__(self, id: _Optional[str] = ..., addr: _Optional[str] = ..., diss_addr: _Optional[str] = ..., incarnation: _Optional[int] = ..., state: _Optional[_Union[MemberState, str]] = ..., heartbeat: _Optional[int] = ..., labels: _Optional[_Mapping[str, str]] = ..., priority: _Optional[int] = ...) -> None: ...

class Update(_message.Message):
    __slots__ = ("member", "detector")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    member: Member
    detector: str
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ..., detector: _Optional[str] = ..., **kwargs) -> None: ...

class Ping(_message.Message):
    __slots__ = ("seq", "target", "tombstones")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONES_FIELD_NUMBER: _ClassVar[int]
    seq: int
    target: str
    tombstones: int
    def __init__(self, seq: _Optional[int] = ..., target: _Optional[str] = ..., tombstones: _Optional[int] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("seq", "subject", "tombstones")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONES_FIELD_NUMBER: _ClassVar[int]
    seq: int
    subject: str
    tombstones: _containers.RepeatedCompositeFieldContainer[Update]
    def __init__(self, seq: _Optional[int] = ..., subject: _Optional[str] = ..., tombstones: _Optional[_Iterable[_Union[Update, _Mapping]]] = ...) -> None: ...

class PingReq(_message.Message):
    __slots__ = ("seq", "target", "target_addr")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    TARGET_ADDR_FIELD_NUMBER: _ClassVar[int]
    seq: int
    target: str
    target_addr: str
    def __init__(self, seq: _Optional[int] = ..., target: _Optional[str] = ..., target_addr: _Optional[str] = ...) -> None: ...

class Nack(_message.Message):
    __slots__ = ("seq", "subject", "refused")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    seq: int
    subject: str
    refused: bool
    def __init__(self, seq: _Optional[int] = ..., subject: _Optional[str] = ..., refused: _Optional[bool] = ...) -> None: ...

class HeartbeatGossip(_message.Message):
    __slots__ = ("ids", "incarnations", "heartbeats", "round", "base_digest", "base_size", "base_heartbeats", "base_heartbeat_width", "base_inc_positions", "base_inc_values", "base_ids", "pull")
    IDS_FIELD_NUMBER: _ClassVar[int]
    INCARNATIONS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEATS_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    BASE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    BASE_SIZE_FIELD_NUMBER: _ClassVar[int]
    BASE_HEARTBEATS_FIELD_NUMBER: _ClassVar[int]
    BASE_HEARTBEAT_WIDTH_FIELD_NUMBER: _ClassVar[int]
    BASE_INC_POSITIONS_FIELD_NUMBER: _ClassVar[int]
    BASE_INC_VALUES_FIELD_NUMBER: _ClassVar[int]
    BASE_IDS_FIELD_NUMBER: _ClassVar[int]
    PULL_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    incarnations: _containers.RepeatedScalarFieldContainer[int]
    heartbeats: _containers.RepeatedScalarFieldContainer[int]
    round: int
    base_digest: int
    base_size: int
    base_heartbeats: bytes
    base_heartbeat_width: int
    base_inc_positions: _containers.RepeatedScalarFieldContainer[int]
    base_inc_values: _containers.RepeatedScalarFieldContainer[int]
    base_ids: _containers.RepeatedScalarFieldContainer[str]
    pull: bool
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., incarnations: _Optional[_Iterable[int]] = ..., heartbeats: _Optional[_Iterable[int]] = ..., round: _Optional[int] = ..., base_digest: _Optional[int] = ..., base_size: _Optional[int] = ..., base_heartbeats: _Optional[bytes] = ..., base_heartbeat_width: _Optional[int] = ..., base_inc_positions: _Optional[_Iterable[int]] = ..., base_inc_values: _Optional[_Iterable[int]] = ..., base_ids: _Optional[_Iterable[str]] = ..., pull: _Optional[bool] = ...) -> None: ...

class ElectionIdentity(_message.Message):
    __slots__ = ("priority", "id")
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    priority: int
    id: str
    def __init__(self, priority: _Optional[int] = ..., id: _Optional[str] = ...) -> None: ...

class Elect(_message.Message):
    __slots__ = ("candidate", "members")
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    candidate: ElectionIdentity
    members: _containers.RepeatedCompositeFieldContainer[Member]
    def __init__(self, candidate: _Optional[_Union[ElectionIdentity, _Mapping]] = ..., members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ...) -> None: ...

class GotIt(_message.Message):
    __slots__ = ("responder",)
    RESPONDER_FIELD_NUMBER: _ClassVar[int]
    responder: ElectionIdentity
    def __init__(self, responder: _Optional[_Union[ElectionIdentity, _Mapping]] = ...) -> None: ...

class IAmLeader(_message.Message):
    __slots__ = ("leader", "term")
    LEADER_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    leader: ElectionIdentity
    term: int
    def __init__(self, leader: _Optional[_Union[ElectionIdentity, _Mapping]] = ..., term: _Optional[int] = ...) -> None: ...

class LeaderProbe(_message.Message):
    __slots__ = ("term",)
    TERM_FIELD_NUMBER: _ClassVar[int]
    term: int
    def __init__(self, term: _Optional[int] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ("header", "updates", "ping", "ack", "ping_req", "nack", "gossip", "elect", "got_it", "i_am_leader", "leader_probe")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    PING_REQ_FIELD_NUMBER: _ClassVar[int]
    NACK_FIELD_NUMBER: _ClassVar[int]
    GOSSIP_FIELD_NUMBER: _ClassVar[int]
    ELECT_FIELD_NUMBER: _ClassVar[int]
    GOT_IT_FIELD_NUMBER: _ClassVar[int]
    I_AM_LEADER_FIELD_NUMBER: _ClassVar[int]
    LEADER_PROBE_FIELD_NUMBER: _ClassVar[int]
    header: Header
    updates: _containers.RepeatedCompositeFieldContainer[Update]
    ping: Ping
    ack: Ack
    ping_req: PingReq
    nack: Nack
    gossip: HeartbeatGossip
    elect: Elect
    got_it: GotIt
    i_am_leader: IAmLeader
    leader_probe: LeaderProbe
    def __init__(self, header: _Optional[_Union[Header, _Mapping]] = ..., updates: _Optional[_Iterable[_Union[Update, _Mapping]]] = ..., ping: _Optional[_Union[Ping, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., ping_req: _Optional[_Union[PingReq, _Mapping]] = ..., nack: _Optional[_Union[Nack, _Mapping]] = ..., gossip: _Optional[_Union[HeartbeatGossip, _Mapping]] = ..., elect: _Optional[_Union[Elect, _Mapping]] = ..., got_it: _Optional[_Union[GotIt, _Mapping]] = ..., i_am_leader: _Optional[_Union[IAmLeader, _Mapping]] = ..., leader_probe: _Optional[_Union[LeaderProbe, _Mapping]] = ...) -> None: ...

class DeliverReply(_message.Message):
    __slots__ = ("replies",)
    REPLIES_FIELD_NUMBER: _ClassVar[int]
    replies: _containers.RepeatedCompositeFieldContainer[Envelope]
    def __init__(self, replies: _Optional[_Iterable[_Union[Envelope, _Mapping]]] = ...) -> None: ...

class JoinRequest(_message.Message):
    __slots__ = ("header", "member")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    header: Header
    member: Member
    def __init__(self, header: _Optional[_Union[Header, _Mapping]] = ..., member: _Optional[_Union[Member, _Mapping]] = ...) -> None: ...

class JoinReply(_message.Message):
    __slots__ = ("header", "members")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    header: Header
    members: _containers.RepeatedCompositeFieldContainer[Member]
    def __init__(self, header: _Optional[_Union[Header, _Mapping]] = ..., members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ...) -> None: ...

class LeaveRequest(_message.Message):
    __slots__ = ("header", "member")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    header: Header
    member: Member
    def __init__(self, header: _Optional[_Union[Header, _Mapping]] = ..., member: _Optional[_Union[Member, _Mapping]] = ...) -> None: ...

class LeaveReply(_message.Message):
    __slots__ = ("header",)
    HEADER_FIELD_NUMBER: _ClassVar[int]
    header: Header
    def __init__(self, header: _Optional[_Union[Header, _Mapping]] = ...) -> None: ...

class FailureReport(_message.Message):
    __slots__ = ("header", "kind", "update")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    header: Header
    kind: NoticeKind
    update: Update
    def __init__(self, header: _Optional[_Union[Header, _Mapping]] = ..., kind: _Optional[_Union[NoticeKind, str]] = ..., update: _Optional[_Union[Update, _Mapping]] = ...) -> None: ...

class ReportAck(_message.Message):
    __slots__ = ("header", "duplicate", "recipients")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    header: Header
    duplicate: bool
    recipients: int
    def __init__(self, header: _Optional[_Union[Header, _Mapping]] = ..., duplicate: _Optional[bool] = ..., recipients: _Optional[int] = ...) -> None: ...

class Notice(_message.Message):
    __slots__ = ("header", "kind", "update", "origin")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    header: Header
    kind: NoticeKind
    update: Update
    origin: str
    def __init__(self, header: _Optional[_Union[Header, _Mapping]] = ..., kind: _Optional[_Union[NoticeKind, str]] = ..., update: _Optional[_Union[Update, _Mapping]] = ..., origin: _Optional[str] = ...) -> None: ...

class NoticeAck(_message.Message):
    __slots__ = ("header", "applied")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    header: Header
    applied: bool
    def __init__(self, header: _Optional[_Union[Header, _Mapping]] = ..., applied: _Optional[bool] = ...) -> None: ...

class MembersRequest(_message.Message):
    __slots__ = ("header",)
    HEADER_FIELD_NUMBER: _ClassVar[int]
    header: Header
    def __init__(self, header: _Optional[_Union[Header, _Mapping]] = ...) -> None: ...

class MembershipView(_message.Message):
    __slots__ = ("member", "last_change")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    LAST_CHANGE_FIELD_NUMBER: _ClassVar[int]
    member: Member
    last_change: float
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ..., last_change: _Optional[float] = ...) -> None: ...

class LeaderInfo(_message.Message):
    __slots__ = ("leader", "term")
    LEADER_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    leader: ElectionIdentity
    term: int
    def __init__(self, leader: _Optional[_Union[ElectionIdentity, _Mapping]] = ..., term: _Optional[int] = ...) -> None: ...

class MembersReply(_message.Message):
    __slots__ = ("header", "self_id", "mode", "members", "leader")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    SELF_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    LEADER_FIELD_NUMBER: _ClassVar[int]
    header: Header
    self_id: str
    mode: str
    members: _containers.RepeatedCompositeFieldContainer[MembershipView]
    leader: LeaderInfo
    def __init__(self, header: _Optional[_Union[Header, _Mapping]] = ..., self_id: _Optional[str] = ..., mode: _Optional[str] = ..., members: _Optional[_Iterable[_Union[MembershipView, _Mapping]]] = ..., leader: _Optional[_Union[LeaderInfo, _Mapping]] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("header",)
    HEADER_FIELD_NUMBER: _ClassVar[int]
    header: Header
    def __init__(self, header: _Optional[_Union[Header, _Mapping]] = ...) -> None: ...

class WatchEvent(_message.Message):
    __slots__ = ("event", "node", "member", "incarnation", "source", "detector", "timestamp", "addr", "extra", "snapshot", "dropped")
    class ExtraEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EVENT_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    ADDR_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    event: str
    node: str
    member: str
    incarnation: int
    source: str
    detector: str
    timestamp: float
    addr: str
    extra: _containers.ScalarMap[str, str]
    snapshot: MembersReply
    dropped: int
    def __init__(self, event: _Optional[str] = ..., node: _Optional[str] = ..., member: _Optional[str] = ..., incarnation: _Optional[int] = ..., source: _Optional[str] = ..., detector: _Optional[str] = ..., timestamp: _Optional[float] = ..., addr: _Optional[str] = ..., extra: _Optional[_Mapping[str, str]] = ..., snapshot: _Optional[_Union[MembersReply, _Mapping]] = ..., dropped: _Optional[int] = ...) -> None: ...

class SetLabelsRequest(_message.Message):
    __slots__ = ("header", "set", "remove", "replace")
    class SetEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    HEADER_FIELD_NUMBER: _ClassVar[int]
    SET_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    header: Header
    set: _containers.ScalarMap[str, str]
    remove: _containers.RepeatedScalarFieldContainer[str]
    replace: bool
    def __init__(self, header: _Optional[_Union[Header, _Mapping]] = ..., set: _Optional[_Mapping[str, str]] = ..., remove: _Optional[_Iterable[str]] = ..., replace: _Optional[bool] = ...) -> None: ...

class SetLabelsReply(_message.Message):
    __slots__ = ("header", "member")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    header: Header
    member: Member
    def __init__(self, header: _Optional[_Union[Header, _Mapping]] = ..., member: _Optional[_Union[Member, _Mapping]] = ...) -> None: ...
