"""The protocol core: one member's SWIM + heartbeat state machine.

CONTRACT (the simulator and the gRPC runtime both drive exactly this API):

* Pure: no sockets, no clock reads, no global randomness. Time is passed in as
  ``now`` (seconds, monotonic, any origin); randomness comes from the injected
  ``random.Random``.
* Every call returns an ``Output`` (messages to send + membership events).
* The driver calls ``tick(now)`` no later than ``next_deadline()``; calling it
  earlier or more often is harmless.
* ``receive`` validates the envelope header (version, cluster) and raises
  ``ProtocolError`` for malformed or foreign messages without changing state.

    node = Node(config, me, rng, now)
    out = node.bootstrap(static_members, now)   # MEMBERS list or a join reply
    out = node.tick(now)
    out = node.receive(envelope, now)           # replies come back as Outbound
    reply, out = node.handle_join(join_request, now)
    applied, out = node.apply_notice(notice, now)
    out = node.leave(now)
    node.view()                                 # list[pb.MembershipView]
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from swimfd.config import Config
from swimfd.events import Output
from swimfd.pb import swim_pb2 as pb


class ProtocolError(ValueError):
    """A message that is malformed, from another cluster or protocol version,
    or otherwise not acceptable. The node's state is unchanged."""


class Node:
    def __init__(self, config: Config, me: pb.Member, rng: random.Random, now: float) -> None:
        raise NotImplementedError

    def bootstrap(self, members: Iterable[pb.Member], now: float) -> Output:
        raise NotImplementedError

    def tick(self, now: float) -> Output:
        raise NotImplementedError

    def next_deadline(self) -> float:
        raise NotImplementedError

    def receive(self, envelope: pb.Envelope, now: float) -> Output:
        raise NotImplementedError

    def handle_join(self, request: pb.JoinRequest, now: float) -> tuple[pb.JoinReply, Output]:
        raise NotImplementedError

    def apply_notice(self, notice: pb.Notice, now: float) -> tuple[bool, Output]:
        raise NotImplementedError

    def leave(self, now: float) -> Output:
        raise NotImplementedError

    def view(self) -> list[pb.MembershipView]:
        raise NotImplementedError
