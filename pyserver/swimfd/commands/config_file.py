"""Reading a JSON config file: the commands do file I/O so that the core's Config stays pure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from swimfd.core.config import Config, ConfigError, from_dict

# Keys of the config file that configure the process rather than the protocol (commands/run.py reads them).
RUNTIME_KEYS = frozenset({"metrics_addr", "diss_metrics_addr", "on_event", "event_handler_timeout"})


def load(path: str | Path, **overrides: Any) -> Config:
    """Read a JSON config file; unknown keys are an error, not silently ignored."""
    raw = read(path)
    protocol = {k: v for k, v in raw.items() if k not in RUNTIME_KEYS}
    return from_dict({**protocol, **overrides}, origin=str(path))


def runtime_keys(path: str | Path) -> dict[str, Any]:
    """The RUNTIME_KEYS present in a config file."""
    return {k: v for k, v in read(path).items() if k in RUNTIME_KEYS}


def read(path: str | Path) -> dict[str, Any]:
    """The JSON object of a config file (ConfigError naming the file when it is not one)."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text())
    except OSError as e:
        raise ConfigError(f"config file {p}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise ConfigError(f"config file {p}: invalid JSON at line {e.lineno}: {e.msg}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {p}: top level must be an object")
    return raw
