"""Hypothesis strategies for every swim.proto message body: arbitrary, but near the values that matter
(this node's id, known members, incarnations at the edges of the plausibility bounds, big labels)."""

from __future__ import annotations

from hypothesis import strategies as st

from swimfd.pb import swim_pb2 as pb

IDS = ("1", "2", "3", "9", "x", "")  # "1" is the node under test, 2 and 3 its members
TOP = 2**64 - 1
STEP = 1 << 20

ids = st.sampled_from(IDS) | st.text(max_size=300)
addrs = st.sampled_from(("127.0.0.1:50052", "127.0.0.1:50053", "203.0.113.5:22", "")) | st.text(max_size=600)
u64 = st.sampled_from((0, 1, 2, STEP, STEP + 1, 2 * STEP, 2**62, 2**63, TOP - 1, TOP)) | st.integers(0, TOP)
i64 = st.integers(-(2**63), 2**63 - 1)
states = st.sampled_from((0, 1, 2, 3, 4)) | st.integers(0, 2**31 - 1)
labels = st.dictionaries(st.text(max_size=70), st.text(max_size=300), max_size=40)


@st.composite
def members(draw: st.DrawFn) -> pb.Member:
    m = pb.Member(
        id=draw(ids),
        addr=draw(addrs),
        diss_addr=draw(addrs),
        incarnation=draw(u64),
        heartbeat=draw(u64),
        priority=draw(i64),
    )
    m.state = draw(states)  # open enum: any int32 arrives from the wire
    m.labels.update(draw(labels))
    return m


@st.composite
def updates(draw: st.DrawFn) -> pb.Update:
    u = pb.Update(member=draw(members()), detector=draw(st.sampled_from(("", "swim", "heartbeat", "x"))))
    setattr(u, "from", draw(ids))
    return u


def headers(cluster: str = "swimfd") -> st.SearchStrategy[pb.Header]:
    return st.builds(
        pb.Header,
        version=st.sampled_from((1, 1, 1, 0, 2)),
        cluster=st.sampled_from((cluster, cluster, cluster, "other", "")),
        sender=ids,
        sender_addr=addrs,
    )


identities = st.builds(pb.ElectionIdentity, priority=i64, id=ids)
bodies = st.one_of(
    st.builds(lambda seq, t: ("ping", pb.Ping(seq=seq, target=t)), u64, ids),
    st.builds(lambda seq, s: ("ack", pb.Ack(seq=seq, subject=s)), u64, ids),
    st.builds(lambda seq, t, a: ("ping_req", pb.PingReq(seq=seq, target=t, target_addr=a)), u64, ids, addrs),
    st.builds(lambda seq, s: ("nack", pb.Nack(seq=seq, subject=s)), u64, ids),
    st.builds(
        lambda i, inc, hb, r: ("gossip", pb.HeartbeatGossip(ids=i, incarnations=inc, heartbeats=hb, round=r)),
        st.lists(ids, max_size=6),
        st.lists(u64, max_size=6),
        st.lists(u64, max_size=6),
        u64,
    ),
    st.builds(lambda c, m: ("elect", pb.Elect(candidate=c, members=m)), identities, st.lists(members(), max_size=4)),
    st.builds(lambda r: ("got_it", pb.GotIt(responder=r)), identities),
    st.builds(lambda ld, t: ("i_am_leader", pb.IAmLeader(leader=ld, term=t)), identities, u64),
    st.builds(lambda t: ("leader_probe", pb.LeaderProbe(term=t)), u64),
    st.just((None, None)),
)


@st.composite
def envelopes(draw: st.DrawFn, cluster: str = "swimfd") -> pb.Envelope:
    env = pb.Envelope(header=draw(headers(cluster)))
    env.updates.extend(draw(st.lists(updates(), max_size=20)))
    field, body = draw(bodies)
    if field is not None:
        getattr(env, field).CopyFrom(body)
    return env


@st.composite
def join_requests(draw: st.DrawFn, cluster: str = "swimfd") -> pb.JoinRequest:
    return pb.JoinRequest(header=draw(headers(cluster)), member=draw(members()))


@st.composite
def notices(draw: st.DrawFn, cluster: str = "swimfd") -> pb.Notice:
    n = pb.Notice(header=draw(headers(cluster)), update=draw(updates()), origin=draw(ids))
    n.kind = draw(st.sampled_from((0, 1, 2, 3)) | st.integers(0, 2**31 - 1))
    return n
