"""A peer can act only as the member its certificate names (mutual TLS, see runtime/tls.py).

The rule for each FailureDetector call, given the member id of the caller's
verified certificate:

- Deliver: the header's sender is the caller, and its sender_addr is not the
  address of another live member.
- Join and Leave: the header's sender and the joining or leaving member are
  the caller. The node's own go-diss (which holds the node's certificate) may
  forward a Join for someone else: go-diss checked the joiner's certificate.
- Notify: only the node's own go-diss (certificate id = this node's id).
- Members and Watch: any certificate from the bundle, member or client (reading).
- SetLabels: an operator's client certificate (``swimfd certs client``) or this
  node's own certificate; another member's certificate may not relabel us.
  Changing a node's labels is an operator's job, so this is the one call a
  client certificate may make that changes something (docs/security.md).

Gossiped updates about other members stay allowed inside a Deliver: that is
how gossip works; the core's plausibility rules bound what they can claim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.message import Message


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is on the other end of a call: transport address and certificate member id (None: observer)."""

    peer: str
    member: str | None


@dataclass(frozen=True, slots=True)
class Refusal:
    rpc: str
    caller: Caller
    claimed: str  # the sender the message names
    reason: str


@dataclass(frozen=True, slots=True)
class IdentityRule:
    self_id: str
    addr_owner: Callable[[str], str | None]  # the live member recorded at an address

    def check(self, rpc: str, request: Message, caller: Caller) -> Refusal | None:
        """None when ``caller`` may make this call, else why not."""
        header = getattr(request, "header", None)
        claimed = header.sender if header is not None else ""
        me = caller.member

        def refuse(reason: str) -> Refusal:
            return Refusal(rpc, caller, claimed, reason)

        if rpc in ("Members", "Watch"):
            return None
        if rpc == "SetLabels":
            if me is None or me == self.self_id:
                return None
            return refuse("only an operator's client certificate or this node's own may set its labels")
        if me is None:
            return refuse("certificate names no member")
        if rpc == "Notify":
            return None if me == self.self_id else refuse("only this node's own go-diss may notify it")
        if rpc == "Join" and me == self.self_id:
            return None  # our go-diss forwarding a join whose certificate it checked
        if claimed != me:
            return refuse("header sender is not the certificate's member")
        if rpc == "Deliver":
            owner = self.addr_owner(header.sender_addr) if header.sender_addr else None
            if owner is not None and owner != me:
                return refuse(f"sender_addr belongs to member {owner}")
            return None
        if rpc in ("Join", "Leave"):
            subject = request.member.id  # type: ignore[attr-defined]
            return None if subject == me else refuse(f"{rpc.lower()} names member {subject}, not the caller")
        return refuse("unknown call")
