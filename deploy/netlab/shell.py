"""Running `ip` and `iptables`: bounded in time, one-line errors, and the checks before a lab can start."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

CMD_TIMEOUT = 20.0  # no single ip/iptables call should take more than this
INSTALL_TIMEOUT = 600.0  # apt-get update + install on a fresh CI machine


class LabError(RuntimeError):
    """A lab command failed; the message names the command and its stderr."""


def run(argv: Sequence[str], *, timeout: float = CMD_TIMEOUT, check: bool = True, stdin: str | None = None) -> str:
    """Run a command, return its stdout; raise LabError (with stderr) when it fails and ``check``."""
    try:
        cp = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise LabError(f"{' '.join(argv)}: timed out after {timeout:g}s") from e
    except OSError as e:
        raise LabError(f"{' '.join(argv)}: {e.strerror}") from e
    if check and cp.returncode != 0:
        raise LabError(f"{' '.join(argv)}: exit {cp.returncode}: {cp.stderr.strip()}")
    return cp.stdout


def in_netns(netns: str, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", netns, *argv]


def ensure_iptables() -> str | None:
    """Install Debian's iptables when it is missing (CI is a fresh root machine); a reason when impossible."""
    if shutil.which("iptables") and shutil.which("iptables-restore"):
        return None
    apt = shutil.which("apt-get")
    if apt is None:
        return "iptables is not installed and there is no apt-get to install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", "iptables"]):
        try:
            cp = subprocess.run(argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, env=env, check=False)
        except (subprocess.TimeoutExpired, OSError) as e:
            return f"installing iptables failed: {' '.join(argv)}: {e}"
        if cp.returncode != 0:
            return f"installing iptables failed: {' '.join(argv)}: {cp.stderr.strip()[-300:]}"
    return None if shutil.which("iptables") else "apt-get installed iptables but it is not on PATH"


def preflight() -> str | None:
    """None when this machine can run a lab; otherwise why not (tests skip with this reason).

    Needs root, iproute2, network namespaces that can be created, and iptables
    that works inside one (installed here when missing).
    """
    if os.geteuid() != 0:
        return "the network lab needs root (ip netns, iptables)"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    reason = ensure_iptables()
    if reason is not None:
        return reason
    probe = f"sfdlab-probe{os.getpid()}"
    try:
        run(["ip", "netns", "add", probe])
    except LabError as e:
        return f"network namespaces are not allowed here: {e}"
    try:
        run(in_netns(probe, ["iptables", "-S"]))
    except LabError as e:
        return f"iptables does not work inside a network namespace: {e}"
    finally:
        run(["ip", "netns", "del", probe], check=False)
    return None
