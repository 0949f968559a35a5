"""``swimfd.Node``: a cluster member running inside the caller's asyncio event loop.

It builds the same ``RuntimeSettings`` that ``swimfd run`` builds from flags and
runs the same ``Runtime``: the gRPC detector on ``bind``, the protocol core, and
by default a go-diss child on the detector port + DISS_PORT_OFFSET. Three
choices for dissemination (docs/embedding.md):

* ``dissemination=True`` (default): start go-diss (``go_diss`` names the binary,
  else bin/go-diss of a checkout or go-diss on PATH), as ``swimfd run`` does;
* ``diss_addr="host:port"``: use a go-diss that is already running there;
* ``dissemination=False``: no go-diss at all. Failures, joins and leaves then
  spread by piggybacking only (detection is unchanged; news reaches everyone a
  little later), the node advertises no dissemination address, and its health
  does not wait for one.

Mutual TLS is the default, as for ``swimfd run``: ``tls_dir`` holds the files
``swimfd certs`` writes (node-<id>.pem/.key naming this node, ca-bundle.pem);
``insecure=True`` runs in plaintext instead. Exactly one of the two is required.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TextIO

from swimfd.api.records import Event, Member, event_from_core, member_from_view
from swimfd.api.stream import DEFAULT_MAXSIZE, EventStream
from swimfd.core.config import MAX_ID_LEN, MODES, Config, ConfigError, check_labels, labels_from
from swimfd.core.events import MembershipEvent
from swimfd.runtime.diss_process import default_binary
from swimfd.runtime.logs import LEVELS, make_logger
from swimfd.runtime.process import Runtime, StartError
from swimfd.runtime.settings import WILDCARD_HOSTS, RuntimeSettings, UsageError, diss_addr_for, split_hostport
from swimfd.runtime.tls import TLSError, TLSFiles, TLSMaterial
from swimfd.runtime.transport import Rejected


class Node:
    """One member. Use as ``async with Node(...) as node:``; leaving the block leaves the cluster gracefully.

    ``node_id``: any string of 1-256 characters with ``seeds``; with a static
    ``members`` list the ids are the list's positions (1-based), so ``node_id``
    must be one of them. ``bind``: host:port of this node's detector.
    ``advertise``: the address others dial (default ``bind``; required when
    ``bind`` is a wildcard). ``config`` (swimfd.core.config.Config) and ``mode``
    and ``labels`` override the defaults as ``--config``, ``--mode`` and
    ``--label`` do. Logs are JSON lines on ``log`` (default stderr) at ``log_level``.
    """

    def __init__(
        self,
        node_id: str | int,
        bind: str,
        *,
        advertise: str | None = None,
        members: Sequence[str] = (),
        seeds: Sequence[str] = (),
        config: Config | None = None,
        mode: str | None = None,
        labels: Mapping[str, str] | None = None,
        dissemination: bool = True,
        diss_addr: str | None = None,
        go_diss: str | None = None,
        tls_dir: str | None = None,
        insecure: bool = False,
        log: TextIO | None = None,
        log_level: str = "warning",
    ) -> None:
        self.settings = _settings(
            str(node_id),
            bind,
            advertise,
            tuple(members),
            tuple(seeds),
            _config(config, mode, labels),
            dissemination,
            diss_addr,
            go_diss,
            tls_dir,
            insecure,
            log_level,
        )
        self._log_stream = log if log is not None else sys.stderr
        self._runtime: Runtime | None = None
        self._streams: list[EventStream] = []
        self._stopped = False

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> Node:
        """Listen, start go-diss (unless told otherwise) and join; StartError (one line) when it cannot."""
        if self._runtime is not None:
            raise RuntimeError("this Node was already started; make a new one")
        log = make_logger(self._log_stream, self.settings.node_id, self.settings.log_level)
        runtime = Runtime(self.settings, log)
        runtime.listeners.append(self._deliver)
        self._runtime = runtime
        try:
            await runtime.start()
        except StartError:
            await self.stop(leave=False)
            raise
        return self

    async def stop(self, leave: bool = True) -> None:
        """Leave the cluster (``leave=False``: just stop, as a crash looks to the others), then end every stream."""
        if self._stopped:
            return
        self._stopped = True
        if self._runtime is not None:
            await self._runtime.stop(graceful=leave)
        for stream in list(self._streams):
            stream.end()
        self._streams.clear()

    async def __aenter__(self) -> Node:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop(leave=True)

    # ------------------------------------------------------------------ views

    @property
    def id(self) -> str:
        return self.settings.node_id

    @property
    def addr(self) -> str:
        return self.settings.advertise

    def events(self, maxsize: int = DEFAULT_MAXSIZE) -> EventStream:
        """A new stream of every membership and leader event from now on (each consumer gets its own).

        Up to ``maxsize`` unread events are kept; past that the oldest are dropped and counted
        in the stream's ``dropped``. The stream ends when the node stops.
        """
        stream = EventStream(maxsize, on_close=self._forget)
        if self._stopped:
            stream.end()
        else:
            self._streams.append(stream)
        return stream

    def members(self) -> list[Member]:
        """Every member this node knows, itself included, in any state (dead and left ones until forgotten)."""
        runtime = self._started()
        return [member_from_view(view, runtime.epoch_offset) for view in runtime.node.view()]

    def me(self) -> Member:
        return next(m for m in self.members() if m.id == self.id)

    def leader(self) -> str | None:
        """The elected leader's id, or None (no election yet, or the election is off)."""
        info = self._started().node.leader()
        return info.leader.id if info is not None and info.leader.id else None

    def set_labels(self, labels: Mapping[str, str]) -> None:
        """Replace this node's labels; the change spreads with a new incarnation. ValueError beyond the limits."""
        runtime = self._started()
        try:
            runtime.set_labels(dict(labels))
        except Rejected as e:
            raise ValueError(e.detail) from e

    # -------------------------------------------------------------- internals

    def _started(self) -> Runtime:
        if self._runtime is None or not self._runtime.server:
            raise RuntimeError("the Node is not running: use `async with Node(...)` or `await node.start()`")
        return self._runtime

    def _forget(self, stream: EventStream) -> None:
        if stream in self._streams:
            self._streams.remove(stream)

    def _deliver(self, event: MembershipEvent) -> None:
        assert self._runtime is not None
        record: Event = event_from_core(event, self._runtime.epoch_offset)
        for stream in self._streams:
            stream.put(record)


def _config(config: Config | None, mode: str | None, labels: Mapping[str, str] | None) -> Config:
    base = config if config is not None else Config()
    changes: dict[str, object] = {}
    if mode is not None:
        if mode not in MODES:
            raise ValueError(f"mode: {mode!r} is not one of {', '.join(MODES)}")
        changes["mode"] = mode
    if labels is not None:
        changes["labels"] = check_labels(labels_from(labels))
    try:
        return base.replace(**changes) if changes else base
    except ConfigError as e:
        raise ValueError(str(e)) from e


def _settings(
    node_id: str,
    bind: str,
    advertise: str | None,
    members: tuple[str, ...],
    seeds: tuple[str, ...],
    config: Config,
    dissemination: bool,
    diss_addr: str | None,
    go_diss: str | None,
    tls_dir: str | None,
    insecure: bool,
    log_level: str,
) -> RuntimeSettings:
    """What `swimfd run` would build from the same choices; a UsageError (a ValueError) names the one at fault."""
    if not node_id or len(node_id) > MAX_ID_LEN:
        raise UsageError(f"node_id: must be 1-{MAX_ID_LEN} characters, got {node_id!r}")
    if log_level not in LEVELS:
        raise UsageError(f"log_level: {log_level!r} is not one of {', '.join(LEVELS)}")
    host, _ = split_hostport(bind, "bind")
    for addr in (*members, *seeds):
        split_hostport(addr, "members" if addr in members else "seeds")
    if members and node_id not in {str(i) for i in range(1, len(members) + 1)}:
        raise UsageError(f"node_id: with a static members list the ids are 1-{len(members)}, got {node_id!r}")
    if advertise is None:
        if host in WILDCARD_HOSTS:
            raise UsageError(f"bind: {bind} listens on every interface; pass advertise='host:port'")
        advertise = bind
    elif split_hostport(advertise, "advertise")[0] in WILDCARD_HOSTS:
        raise UsageError(f"advertise: {advertise!r} is not an address others can reach")
    if not dissemination:
        if diss_addr is not None:
            raise UsageError("diss_addr: pass either dissemination=False or diss_addr, not both")
        own_diss, listen = "", None
    elif diss_addr is not None:
        split_hostport(diss_addr, "diss_addr")
        own_diss, listen = diss_addr, None
    else:
        own_diss, listen = diss_addr_for(advertise, "advertise"), diss_addr_for(bind, "bind")
    _check_tls(node_id, tls_dir, insecure)
    return RuntimeSettings(
        node_id=node_id,
        bind=bind,
        advertise=advertise,
        members=members,
        seeds=tuple(s for s in seeds if s != advertise),
        config=config,
        diss_addr=own_diss,
        diss_listen=listen,
        go_diss=go_diss or default_binary(),
        log_level=log_level,
        tls_dir=tls_dir,
        insecure=insecure,
    )


def _check_tls(node_id: str, tls_dir: str | None, insecure: bool) -> None:
    """Exactly one of ``tls_dir`` and ``insecure``; the certificate must name this node (as for ``swimfd run``)."""
    if tls_dir is not None and insecure:
        raise UsageError("tls_dir: pass either tls_dir or insecure=True, not both")
    if tls_dir is None and not insecure:
        raise UsageError(
            "tls_dir: required, mutual TLS is the default (create certificates with `swimfd certs`); "
            "pass insecure=True to run in plaintext"
        )
    if tls_dir is not None:
        try:
            TLSMaterial.load(TLSFiles.in_dir(tls_dir, node_id), expect_id=node_id)
        except TLSError as e:
            raise UsageError(f"tls_dir: {e}") from e
