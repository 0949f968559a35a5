"""`python -m swimfd run` / `pyserver/failure_detector.py`: flags and environment of a node.

Flags override the environment. Every problem is reported as one line naming
the flag or variable at fault, and the process exits non-zero:

    NODE_ID=1 MEMBERS=localhost:50051,localhost:50052,localhost:50053 python pyserver/failure_detector.py
    python pyserver/failure_detector.py --id 6 --join localhost:50051,localhost:50052

Defaults: the node's id picks its entry in MEMBERS (1-based), which is both the
address it listens on and the one it advertises. With only an id, the detector
listens on 127.0.0.1:(50050 + id). The dissemination service listens on the
detector port + DISS_PORT_OFFSET (10, swimfd.runtime.settings) unless --diss-addr
names one that is already running.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn

from swimfd.commands import config_file
from swimfd.core.config import MODES, Config, ConfigError, labels_from
from swimfd.core.events import EventName
from swimfd.runtime.diss_process import default_binary
from swimfd.runtime.logs import LEVELS
from swimfd.runtime.settings import (
    DEFAULT_HOST,
    DETECTOR_PORT_BASE,
    DISS_PORT_OFFSET,
    WILDCARD_HOSTS,
    RuntimeSettings,
    UsageError,
    diss_addr_for,
    join_hostport,
    metrics_port_after,
    parse_addr_list,
    split_hostport,
)
from swimfd.runtime.tls import CLUSTER_KEY_REMOVED, TLSError, TLSFiles, TLSMaterial
from swimfd.runtime.transport import FAULT_INJECTION_ENV

# flag dest -> environment variable it falls back to
ENV_VARS: dict[str, str] = {
    "id": "NODE_ID",
    "members": "MEMBERS",
    "join": "JOIN",
    "bind": "BIND",
    "advertise": "ADVERTISE",
    "mode": "MODE",
    "config": "SWIMFD_CONFIG",
    "log_file": "LOG_FILE",
    "diss_addr": "DISS_ADDR",
    "cluster_key_file": "CLUSTER_KEY_FILE",
    "go_diss": "SWIMFD_GO_DISS",
    "log_level": "LOG_LEVEL",
    "metrics_addr": "METRICS_ADDR",
    "diss_metrics_addr": "DISS_METRICS_ADDR",
    "tls_dir": "SWIMFD_TLS_DIR",
}


class _Source:
    """Looks a setting up in the flags first, then in the environment, remembering its name for errors."""

    def __init__(self, args: argparse.Namespace, env: Mapping[str, str]) -> None:
        self._args = args
        self._env = env

    def get(self, dest: str) -> tuple[str | None, str]:
        value = getattr(self._args, dest, None)
        if value is not None:
            return value, "--" + dest.replace("_", "-")
        var = ENV_VARS.get(dest)
        if var is not None and self._env.get(var, "").strip():
            return self._env[var].strip(), var
        return None, "--" + dest.replace("_", "-")


def parse_settings(args: argparse.Namespace, env: Mapping[str, str]) -> RuntimeSettings:
    src = _Source(args, env)

    raw_id, id_name = src.get("id")
    if raw_id is None:
        raise UsageError("NODE_ID (or --id) is required")
    if not raw_id.isdigit() or int(raw_id) < 1:
        raise UsageError(f"{id_name}: {raw_id!r} is not a positive integer")
    index = int(raw_id)
    node_id = str(index)

    raw_members, members_name = src.get("members")
    members = parse_addr_list(raw_members, members_name) if raw_members is not None else ()
    raw_join, join_name = src.get("join")
    seeds = parse_addr_list(raw_join, join_name) if raw_join is not None else ()

    raw_bind, bind_name = src.get("bind")
    raw_adv, adv_name = src.get("advertise")
    own_entry: str | None = None
    if members:
        if 1 <= index <= len(members):
            own_entry = members[index - 1]
        elif raw_bind is None:
            raise UsageError(f"{id_name}: {index} is out of range 1-{len(members)} for {members_name}")

    if raw_bind is not None:
        bind_host, bind_port = split_hostport(raw_bind, bind_name)
    elif own_entry is not None:
        bind_host, bind_port = split_hostport(own_entry, members_name)
    else:
        bind_port = DETECTOR_PORT_BASE + index
        if bind_port + DISS_PORT_OFFSET > 65535:
            raise UsageError(f"{id_name}: {index} is too large for the default port {bind_port}; pass --bind")
        bind_host = DEFAULT_HOST
    bind = join_hostport(bind_host, bind_port)

    if raw_adv is not None:
        adv_host, adv_port = split_hostport(raw_adv, adv_name)
    elif own_entry is not None:
        # The MEMBERS entry is how everyone else reaches this node, whatever it binds.
        adv_host, adv_port = split_hostport(own_entry, members_name)
    elif bind_host in WILDCARD_HOSTS:
        raise UsageError(f"{bind_name}: {bind} listens on every interface; pass --advertise host:port")
    else:
        adv_host, adv_port = bind_host, bind_port
    if adv_host in WILDCARD_HOSTS:
        raise UsageError(f"{adv_name}: {adv_host!r} is not an address others can reach")
    advertise = join_hostport(adv_host, adv_port)

    raw_diss, diss_name = src.get("diss_addr")
    if raw_diss is not None:
        split_hostport(raw_diss, diss_name)
        diss_addr, diss_listen = raw_diss, None
    else:
        diss_listen = diss_addr_for(bind, bind_name)
        diss_addr = diss_addr_for(advertise, adv_name)

    config = _load_config(src)

    if src.get("cluster_key_file")[0] is not None:
        raise UsageError(CLUSTER_KEY_REMOVED)

    tls_dir, insecure = _tls(src, node_id)

    test_loss = _test_loss(getattr(args, "test_loss", None), env)

    raw_log, _ = src.get("log_file")
    raw_level, level_name = src.get("log_level")
    level = (raw_level or "info").lower()
    if level not in LEVELS:
        raise UsageError(f"{level_name}: {raw_level!r} is not one of {', '.join(LEVELS)}")
    raw_go, _ = src.get("go_diss")
    process = _process_keys(src)
    metrics_addr, diss_metrics_addr = _metrics_addrs(src, process, diss_listen is not None)
    handlers, handler_timeout = _event_handlers(args, process)
    return RuntimeSettings(
        node_id=node_id,
        bind=bind,
        advertise=advertise,
        members=members,
        seeds=tuple(s for s in seeds if s != advertise),
        config=config,
        diss_addr=diss_addr,
        diss_listen=diss_listen,
        go_diss=raw_go or default_binary(),
        log_file=raw_log,
        log_level=level,
        tls_dir=tls_dir,
        insecure=insecure,
        test_loss=test_loss,
        feign_failure=bool(getattr(args, "feign_failure", False)),
        metrics_addr=metrics_addr,
        diss_metrics_addr=diss_metrics_addr,
        event_handlers=handlers,
        event_handler_timeout=handler_timeout,
    )


def _process_keys(src: _Source) -> dict[str, object]:
    """The config file's process keys (config_file.RUNTIME_KEYS); flags and environment win over them."""
    raw_config, config_name = src.get("config")
    if raw_config is None:
        return {}
    try:
        return config_file.runtime_keys(raw_config)
    except ConfigError as e:
        raise UsageError(f"{config_name}: {e}") from e


def _metrics_addrs(src: _Source, process: Mapping[str, object], starts_diss: bool) -> tuple[str | None, str | None]:
    """Where /metrics is served: off unless named. go-diss defaults to the detector's port + 1."""

    def pick(dest: str) -> tuple[str | None, str]:
        value, name = src.get(dest)
        if value is None and dest in process:
            value, name = str(process[dest]), f"config {dest}"
        if value is not None:
            split_hostport(value, name)
        return value, name

    metrics, metrics_name = pick("metrics_addr")
    diss_metrics, _ = pick("diss_metrics_addr")
    if diss_metrics is None and metrics is not None and starts_diss:
        diss_metrics = metrics_port_after(metrics, metrics_name)
    return metrics, diss_metrics


Handlers = tuple[tuple[str, str], ...]


def _event_handlers(args: argparse.Namespace, process: Mapping[str, object]) -> tuple[Handlers, float]:
    """--on-event NAME=CMD (repeatable) plus the config's "on_event": {"NAME": "CMD" or ["CMD", ...]}."""
    pairs: list[tuple[str, str, str]] = []
    configured = process.get("on_event", {})
    if not isinstance(configured, dict):
        raise UsageError('config on_event: must be an object such as {"member_failed": "notify.sh"}')
    for name, cmds in configured.items():
        for cmd in [cmds] if isinstance(cmds, str) else cmds if isinstance(cmds, list) else [None]:
            if not isinstance(cmd, str):
                raise UsageError(f"config on_event: {name}: a command is a string or a list of strings")
            pairs.append((str(name), cmd, "config on_event"))
    for item in getattr(args, "on_event", None) or []:
        name, sep, cmd = item.partition("=")
        if not sep:
            raise UsageError(f"--on-event: {item!r} is not NAME=COMMAND")
        pairs.append((name.strip(), cmd, "--on-event"))
    known = {str(e) for e in EventName}
    for name, cmd, what in pairs:
        if name != "*" and name not in known:
            raise UsageError(f"{what}: {name!r} is not an event name ({', '.join(sorted(known))} or *)")
        if not cmd.strip():
            raise UsageError(f"{what}: {name}: empty command")
    raw_timeout = getattr(args, "event_handler_timeout", None)
    if raw_timeout is None:
        raw_timeout = process.get("event_handler_timeout", 30.0)
    try:
        timeout = float(raw_timeout)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise UsageError(f"--event-handler-timeout: {raw_timeout!r} is not a number") from e
    if not timeout > 0:
        raise UsageError(f"--event-handler-timeout: {raw_timeout!r} must be positive")
    return tuple((n, c) for n, c, _ in pairs), timeout


def _tls(src: _Source, node_id: str) -> tuple[str | None, bool]:
    """(--tls-dir, --insecure): exactly one of them; the certificate must name this node."""
    raw_dir, dir_name = src.get("tls_dir")
    insecure = bool(getattr(src._args, "insecure", False))
    if raw_dir is not None and insecure:
        raise UsageError(f"{dir_name} and --insecure contradict each other; pick one")
    if raw_dir is None and not insecure:
        raise UsageError(
            f"{dir_name} (env {ENV_VARS['tls_dir']}) is required: mutual TLS is the default "
            "(create certificates with `swimfd certs`); pass --insecure to run in plaintext"
        )
    if raw_dir is not None:
        try:
            TLSMaterial.load(TLSFiles.in_dir(raw_dir, node_id), expect_id=node_id)
        except TLSError as e:
            raise UsageError(f"{dir_name}: {e}") from e
    return raw_dir, insecure


def _load_config(src: _Source) -> Config:
    raw_config, config_name = src.get("config")
    raw_mode, mode_name = src.get("mode")
    if raw_mode is not None and raw_mode not in MODES:
        raise UsageError(f"{mode_name}: {raw_mode!r} is not one of {', '.join(MODES)}")
    overrides: dict[str, object] = {"mode": raw_mode} if raw_mode is not None else {}
    raw_priority = getattr(src._args, "priority", None)
    if raw_priority is not None:
        try:
            overrides["priority"] = int(raw_priority)
        except ValueError as e:
            raise UsageError(f"--priority: {raw_priority!r} is not an integer") from e
    try:
        config = config_file.load(raw_config, **overrides) if raw_config is not None else Config(**overrides)
    except ConfigError as e:
        raise UsageError(f"{config_name}: {e}" if raw_config is not None else str(e)) from e
    flags = _labels(getattr(src._args, "label", None) or [])
    if not flags:
        return config
    try:
        # --label adds to the config file's labels and wins on the same key.
        return config.replace(labels=labels_from({**dict(config.labels), **flags}))
    except ConfigError as e:
        raise UsageError(f"--label: {e}") from e


def _labels(raw: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--label: {item!r} is not key=value")
        labels[key] = value
    return labels


def _test_loss(raw: str | None, env: Mapping[str, str]) -> float:
    if raw is None:
        return 0.0
    if env.get(FAULT_INJECTION_ENV) != "1":
        raise UsageError(f"--test-loss is a test-only fault injection; set {FAULT_INJECTION_ENV}=1 to allow it")
    try:
        p = float(raw)
    except ValueError as e:
        raise UsageError(f"--test-loss: {raw!r} is not a number") from e
    if not 0.0 <= p < 1.0:
        raise UsageError(f"--test-loss: {raw!r} must be in [0, 1)")
    return p


# ---------------------------------------------------------------- argparse ----


def _one_line_error(prog: str):  # type: ignore[no-untyped-def]
    def error(message: str) -> NoReturn:
        # argparse prints usage plus the error; scripts want one line naming the problem.
        print(f"{prog}: error: {message}", file=sys.stderr)
        sys.exit(2)

    return error


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.error = _one_line_error(parser.prog)  # type: ignore[method-assign]
    env = ENV_VARS
    parser.add_argument("--id", help=f"this node's member id, a positive integer (env {env['id']})")
    parser.add_argument(
        "--members", help=f"static member list host:port,... ; entry ID is this node ({env['members']})"
    )
    parser.add_argument("--join", help=f"seed detector(s) host:port,... ; any reachable one suffices ({env['join']})")
    parser.add_argument("--bind", help=f"host:port to listen on (env {env['bind']})")
    parser.add_argument("--advertise", help=f"host:port others use to reach this node (env {env['advertise']})")
    parser.add_argument("--mode", help=f"{' | '.join(MODES)}; overrides the config file (env {env['mode']})")
    parser.add_argument("--config", help=f"JSON config file (env {env['config']})")
    parser.add_argument(
        "--log-file", dest="log_file", help=f"append JSON log lines here, default stderr ({env['log_file']})"
    )
    parser.add_argument("--log-level", dest="log_level", help=f"{', '.join(LEVELS)}; default info ({env['log_level']})")
    parser.add_argument(
        "--diss-addr",
        dest="diss_addr",
        help=f"use this already running dissemination service instead of starting bin/go-diss ({env['diss_addr']})",
    )
    parser.add_argument(
        "--cluster-key-file", dest="cluster_key_file", help="removed: mutual TLS (--tls-dir) authenticates every hop"
    )
    parser.add_argument(
        "--tls-dir",
        dest="tls_dir",
        help=f"mutual TLS: node-ID.pem, node-ID.key and ca-bundle.pem from `swimfd certs` ({env['tls_dir']})",
    )
    parser.add_argument(
        "--insecure", action="store_true", help="run in plaintext without TLS (a quick experiment; logs a warning)"
    )
    parser.add_argument("--go-diss", dest="go_diss", help=f"go-diss binary, default bin/go-diss ({env['go_diss']})")
    parser.add_argument(
        "--priority", help="election priority; the highest (priority, id) leads (default 0, config 'priority')"
    )
    parser.add_argument(
        "--label",
        action="append",
        metavar="KEY=VALUE",
        help="a label of this member, shown by `members` everywhere (repeatable; config 'labels': {...})",
    )
    parser.add_argument(
        "--metrics-addr",
        dest="metrics_addr",
        help=f"serve Prometheus /metrics on host:port; default off (env {env['metrics_addr']}, config metrics_addr)",
    )
    parser.add_argument(
        "--diss-metrics-addr",
        dest="diss_metrics_addr",
        help="go-diss's /metrics host:port; default the --metrics-addr port + 1 "
        f"(env {env['diss_metrics_addr']}, config diss_metrics_addr)",
    )
    parser.add_argument(
        "--on-event",
        dest="on_event",
        action="append",
        metavar="NAME=CMD",
        help="run shell command CMD for each event NAME (member_failed, ..., or * for all), the event as JSON "
        "on stdin and in SWIMFD_* variables (repeatable; config on_event)",
    )
    parser.add_argument(
        "--event-handler-timeout",
        dest="event_handler_timeout",
        help="seconds before an --on-event command's process group is killed (default 30)",
    )
    parser.add_argument(
        "--feign-failure",
        dest="feign_failure",
        action="store_true",
        help="chaos: pretend to fail at random times (config feign_*), then recover and start an election",
    )
    parser.add_argument(
        "--test-loss",
        dest="test_loss",
        help=f"TEST ONLY: drop this fraction of Deliver messages each way (needs {FAULT_INJECTION_ENV}=1)",
    )


def run(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    try:
        settings = parse_settings(args, os.environ if env is None else env)
    except UsageError as e:
        print(f"swimfd: error: {e}", file=sys.stderr)
        return 2
    # Imported here so that argument errors are reported without loading grpc's server side.
    from swimfd.runtime.process import StartError, serve

    try:
        return asyncio.run(serve(settings))
    except StartError as e:
        print(f"swimfd: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def main(argv: Sequence[str] | None = None, prog: str = "failure_detector.py") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
