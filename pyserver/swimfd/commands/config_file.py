"""Reading a JSON config file: the commands do file I/O so that the core's Config stays pure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from swimfd.core.config import Config, ConfigError, from_dict


def load(path: str | Path, **overrides: Any) -> Config:
    """Read a JSON config file; unknown keys are an error, not silently ignored."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text())
    except OSError as e:
        raise ConfigError(f"config file {p}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise ConfigError(f"config file {p}: invalid JSON at line {e.lineno}: {e.msg}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {p}: top level must be an object")
    return from_dict({**raw, **overrides}, origin=str(p))
