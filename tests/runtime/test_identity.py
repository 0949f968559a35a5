"""runtime/identity.py: a caller acts only as the member its certificate names (table of calls)."""

from __future__ import annotations

import pytest
from google.protobuf.message import Message

from swimfd.pb import swim_pb2 as pb
from swimfd.runtime.identity import Caller, IdentityRule

OWNERS = {"10.0.0.2:1": "2", "10.0.0.3:1": "3"}
RULE = IdentityRule(self_id="1", addr_owner=OWNERS.get)


def h(sender: str, addr: str = "") -> pb.Header:
    return pb.Header(version=1, cluster="c", sender=sender, sender_addr=addr)


CASES: list[tuple[str, str, Message, str | None, bool]] = [
    # (name, rpc, request, certificate's member id, allowed)
    ("deliver as itself", "Deliver", pb.Envelope(header=h("3", "10.0.0.3:1")), "3", True),
    ("deliver from a new address", "Deliver", pb.Envelope(header=h("3", "10.0.0.9:1")), "3", True),
    ("deliver as another", "Deliver", pb.Envelope(header=h("2", "10.0.0.2:1")), "3", False),
    ("deliver from another's address", "Deliver", pb.Envelope(header=h("3", "10.0.0.2:1")), "3", False),
    ("deliver without a member certificate", "Deliver", pb.Envelope(header=h("3")), None, False),
    ("join of itself", "Join", pb.JoinRequest(header=h("3"), member=pb.Member(id="3")), "3", True),
    ("join of another", "Join", pb.JoinRequest(header=h("3"), member=pb.Member(id="2")), "3", False),
    ("join claiming another sender", "Join", pb.JoinRequest(header=h("2"), member=pb.Member(id="2")), "3", False),
    ("join forwarded by our go-diss", "Join", pb.JoinRequest(header=h("7"), member=pb.Member(id="7")), "1", True),
    ("leave of itself", "Leave", pb.LeaveRequest(header=h("3"), member=pb.Member(id="3")), "3", True),
    ("leave of another", "Leave", pb.LeaveRequest(header=h("3"), member=pb.Member(id="2")), "3", False),
    ("notify from our go-diss", "Notify", pb.Notice(header=h("1"), origin="2"), "1", True),
    ("notify from another member", "Notify", pb.Notice(header=h("3"), origin="3"), "3", False),
    ("members from an observer", "Members", pb.MembersRequest(), None, True),
    ("members from a member", "Members", pb.MembersRequest(), "3", True),
    ("watch from an observer", "Watch", pb.WatchRequest(), None, True),
    ("watch from a member", "Watch", pb.WatchRequest(), "3", True),
    ("labels from an operator's client certificate", "SetLabels", pb.SetLabelsRequest(), None, True),
    ("labels with this node's own certificate", "SetLabels", pb.SetLabelsRequest(), "1", True),
    ("labels from another member", "SetLabels", pb.SetLabelsRequest(), "3", False),
]


@pytest.mark.parametrize(("name", "rpc", "request_", "cert", "allowed"), CASES, ids=[c[0] for c in CASES])
def test_identity_rule(name: str, rpc: str, request_: Message, cert: str | None, allowed: bool) -> None:
    refusal = RULE.check(rpc, request_, Caller("ipv4:10.0.0.3:5000", cert))
    if allowed:
        assert refusal is None, refusal
    else:
        assert refusal is not None and refusal.reason and refusal.rpc == rpc
        assert refusal.caller.member == cert and refusal.claimed == request_.header.sender  # type: ignore[attr-defined]
