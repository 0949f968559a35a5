"""swimfd: SWIM and gossip-heartbeat cluster membership and failure detection."""

from __future__ import annotations

__version__ = "0.1.0"

# Not `from typing import TYPE_CHECKING`: typing alone would add ~5 ms to every CLI start.
# Type checkers treat this constant name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from swimfd.api import Event, EventStream, Member, Node, StartError

__all__ = ["Event", "EventStream", "Member", "Node", "StartError", "__version__"]


def __getattr__(name: str) -> object:
    # swimfd.Node loads gRPC and the runtime on first use, so the CLI (which imports
    # swimfd for __version__) starts without paying for them.
    if name in ("Event", "EventStream", "Member", "Node", "StartError"):
        import swimfd.api

        return getattr(swimfd.api, name)
    raise AttributeError(f"module 'swimfd' has no attribute {name!r}")
