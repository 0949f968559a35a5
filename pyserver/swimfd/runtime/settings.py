"""What a detector process needs to start: typed settings, and the address rules shared by its callers.

`swimfd.commands.run` builds a RuntimeSettings from flags and environment; the
runtime only ever sees the typed result.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from swimfd.core.config import Config

DETECTOR_PORT_BASE = 50050
# go-diss listens on the detector port + this, unless told otherwise. The one place it is named:
# bench/cluster.py, tests/integration/harness.py and deploy/cluster.sh (which asks Python) read it.
DISS_PORT_OFFSET = 10
DEFAULT_HOST = "127.0.0.1"
WILDCARD_HOSTS = ("", "0.0.0.0", "::", "[::]")


class UsageError(ValueError):
    """A flag or environment variable is missing, malformed or inconsistent."""


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    node_id: str
    bind: str  # host:port the detector listens on
    advertise: str  # host:port other members use to reach the detector
    members: tuple[str, ...]  # static MEMBERS: entry i is member id str(i + 1)
    seeds: tuple[str, ...]  # --join: any reachable one suffices
    config: Config
    diss_addr: str  # local dissemination service: where we Report, and what we advertise; "" for none (swimfd.api)
    diss_listen: str | None  # where to start our go-diss child; None: --diss-addr runs elsewhere
    go_diss: str  # path of the go-diss binary
    log_file: str | None = None
    log_level: str = "info"
    tls_dir: str | None = None  # mutual TLS material in TLSFiles.in_dir's layout; None only with insecure
    insecure: bool = False  # plaintext, asked for explicitly (--insecure)
    test_loss: float = 0.0
    feign_failure: bool = False  # chaos: pretend to fail at random times (swimfd.core.feign)
    metrics_addr: str | None = None  # Prometheus /metrics of the detector; None: not served
    diss_metrics_addr: str | None = None  # passed to our go-diss child as --metrics-addr
    event_handlers: tuple[tuple[str, str], ...] = ()  # --on-event (event name or "*", shell command)
    event_handler_timeout: float = 30.0  # seconds before a handler's process group is killed


def split_hostport(value: str, what: str) -> tuple[str, int]:
    """("host", port) from "host:port" or "[v6]:port"; UsageError naming ``what`` otherwise."""
    v = value.strip()
    host, sep, port_s = v.rpartition(":")
    if not sep or not host:
        raise UsageError(f"{what}: {value!r} is not host:port")
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError as e:
            raise UsageError(f"{what}: {value!r} has an invalid IPv6 address") from e
    elif ":" in host:
        raise UsageError(f"{what}: {value!r} is not host:port (write IPv6 addresses as [addr]:port)")
    if not port_s.isdigit() or not 1 <= int(port_s) <= 65535:
        raise UsageError(f"{what}: {value!r} needs a port number in 1-65535")
    return host, int(port_s)


def join_hostport(host: str, port: int) -> str:
    return f"{host}:{port}"


def parse_addr_list(value: str, what: str) -> tuple[str, ...]:
    items = [s.strip() for s in value.split(",")]
    if not value.strip() or any(not s for s in items):
        raise UsageError(f"{what}: {value!r} must be a comma-separated list of host:port")
    seen: set[str] = set()
    for item in items:
        split_hostport(item, what)
        if item in seen:
            raise UsageError(f"{what}: {item} is listed twice")
        seen.add(item)
    return tuple(items)


def metrics_port_after(addr: str, what: str) -> str:
    """The default go-diss metrics address: the detector's metrics address with port + 1."""
    host, port = split_hostport(addr, what)
    if port + 1 > 65535:
        raise UsageError(f"{what}: port {port} leaves no room for go-diss's metrics port; pass --diss-metrics-addr")
    return join_hostport(host, port + 1)


def diss_addr_for(addr: str, what: str) -> str:
    """The default go-diss address of a detector at ``addr`` (same host, port + DISS_PORT_OFFSET)."""
    host, port = split_hostport(addr, what)
    p = port + DISS_PORT_OFFSET
    if p > 65535:
        raise UsageError(f"{what}: port {port} leaves no room for the dissemination port {p}; pass --diss-addr")
    return join_hostport(host, p)
