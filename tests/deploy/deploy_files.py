"""Shared helpers for tests/deploy: the manifests, and the entrypoint run against a stub detector."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from swimfd.commands import run as run_command
from swimfd.runtime.settings import RuntimeSettings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
ENTRYPOINT = DEPLOY / "entrypoint.sh"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = REPO / "Dockerfile"

# The stub detector: prints its pid, NODE_ID and each argument on its own line.
STUB = """#!/bin/sh
echo "PID $$"
echo "NODE_ID $NODE_ID"
for a in "$@"; do echo "ARG $a"; done
"""


def k8s_documents() -> dict[str, dict[str, Any]]:
    """kind -> the one document of that kind under deploy/k8s (each file holds one)."""
    docs: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert doc["kind"] not in docs, f"{path.name}: a second {doc['kind']}"
            docs[doc["kind"]] = {**doc, "_file": path.name}
    return docs


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def entrypoint_variables() -> set[str]:
    """Environment variables the entrypoint reads."""
    return set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", ENTRYPOINT.read_text()))


def k8s_env(container: Mapping[str, Any], namespace: str) -> dict[str, str]:
    """A container's env as the kubelet would set it ($(VAR) references expanded, fieldRefs resolved)."""
    env: dict[str, str] = {}
    for item in container.get("env", []):
        if "valueFrom" in item:
            assert item["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace", item
            env[item["name"]] = namespace
        else:
            env[item["name"]] = re.sub(r"\$\(([A-Z_]+)\)", lambda m: env[m.group(1)], str(item["value"]))
    return env


def run_entrypoint(
    tmp: Path, env: Mapping[str, str], *args: str, binary: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run deploy/entrypoint.sh with only ``env`` (plus PATH), its detector replaced by the stub."""
    stub = tmp / "stub.sh"
    stub.write_text(STUB)
    stub.chmod(0o755)
    full = {"PATH": os.environ["PATH"], "SWIMFD_BIN": binary or str(stub), **env}
    return subprocess.run(["sh", str(ENTRYPOINT), *args], env=full, capture_output=True, text=True, timeout=30)


def stub_output(stdout: str) -> tuple[int, str, list[str]]:
    """(pid, NODE_ID, argv) the stub printed."""
    lines = stdout.splitlines()
    pid = int(lines[0].removeprefix("PID "))
    node_id = lines[1].removeprefix("NODE_ID ")
    return pid, node_id, [line.removeprefix("ARG ") for line in lines[2:]]


def settings_for(argv: list[str], env: Mapping[str, str]) -> RuntimeSettings:
    """What `swimfd run` makes of ``argv`` (starting with "run") and ``env``: the detector's own parser."""
    assert argv[0] == "run", argv
    parser = argparse.ArgumentParser(prog="swimfd run")
    run_command.add_arguments(parser)
    return run_command.parse_settings(parser.parse_args(argv[1:]), env)
