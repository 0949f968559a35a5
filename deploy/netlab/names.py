"""Names of everything one lab run creates, all derived from a short run id.

Every bridge, veth and namespace name carries the run id, so two runs never
collide and the leftovers of a run that crashed can be found by prefix and
removed (swept) later. Link names must fit Linux's 15-character limit.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

LINK_PREFIX = "sfd"  # bridge sfd<id>b, host-side veth sfd<id>h<k>, namespace-side veth sfd<id>n<k>
NETNS_PREFIX = "sfdlab-"  # namespace sfdlab-<id>-<k>
LOCK_DIR = Path("/run/swimfd-netlab")  # <id>.lock, flock-ed by the live owner of run <id>
IFNAMSIZ = 15
MAX_NODES = 200  # addresses .1 .. .200; .254 is the host's end of the bridge
HOST_OCTET = 254
ALT_OCTET_BASE = 200  # node k's second address is .(200 + k), for a restart at a new address
RUN_ID_LEN = 6

_LINK_RE = re.compile(rf"^{LINK_PREFIX}([0-9a-f]{{{RUN_ID_LEN}}})(b|[hn]\d+)$")
_NETNS_RE = re.compile(rf"^{NETNS_PREFIX}([0-9a-f]{{{RUN_ID_LEN}}})-\d+$")


def new_run_id() -> str:
    return secrets.token_hex(RUN_ID_LEN // 2)


def run_id_of(name: str) -> str | None:
    """The run id a lab link or namespace name belongs to, or None for any other name."""
    m = _LINK_RE.match(name) or _NETNS_RE.match(name)
    return m.group(1) if m else None


@dataclass(frozen=True, slots=True)
class RunNames:
    run_id: str
    subnet: int  # the run's addresses are 10.200.<subnet>.0/24

    def __post_init__(self) -> None:
        if not re.fullmatch(rf"[0-9a-f]{{{RUN_ID_LEN}}}", self.run_id):
            raise ValueError(f"run id must be {RUN_ID_LEN} hex digits, got {self.run_id!r}")
        if not 1 <= self.subnet <= 254:
            raise ValueError(f"subnet must be in 1-254, got {self.subnet}")

    @property
    def bridge(self) -> str:
        return f"{LINK_PREFIX}{self.run_id}b"

    def host_veth(self, k: int) -> str:
        return self._link(f"h{k}")

    def ns_veth(self, k: int) -> str:
        return self._link(f"n{k}")

    def netns(self, k: int) -> str:
        return f"{NETNS_PREFIX}{self.run_id}-{k}"

    def addr(self, k: int) -> str:
        if not 1 <= k <= MAX_NODES:
            raise ValueError(f"node number must be in 1-{MAX_NODES}, got {k}")
        return f"10.200.{self.subnet}.{k}"

    def alt_addr(self, k: int) -> str:
        """Node k's second address, used when it restarts somewhere else (only for k < HOST_OCTET - 200)."""
        if not 1 <= k < HOST_OCTET - ALT_OCTET_BASE:
            raise ValueError(f"only nodes 1-{HOST_OCTET - ALT_OCTET_BASE - 1} have a second address, got {k}")
        return f"10.200.{self.subnet}.{ALT_OCTET_BASE + k}"

    @property
    def host_addr(self) -> str:
        """The host's address on the bridge: observers (tests, the matrix) query views from here."""
        return f"10.200.{self.subnet}.{HOST_OCTET}"

    @property
    def cidr(self) -> str:
        return f"10.200.{self.subnet}.0/24"

    @property
    def lock_file(self) -> Path:
        return LOCK_DIR / f"{self.run_id}.lock"

    def _link(self, suffix: str) -> str:
        name = f"{LINK_PREFIX}{self.run_id}{suffix}"
        assert len(name) <= IFNAMSIZ, name
        return name
