"""Message authentication with the cluster key (same scheme as go-diss/internal/auth).

mac = HMAC-SHA256(key, deterministic serialization of the whole message with
header.mac empty). Without a key messages carry no mac. A node without a key
refuses signed messages and a node with one refuses unsigned ones: either way
the sender holds a different key, so both are reported as a key mismatch.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from swimfd.pb import swim_pb2 as pb

# Exactly the bytes Python's bytes.strip() removes; go-diss trims the same set,
# so both processes derive the same key from the same file.
_KEY_SPACE = b" \t\n\r\x0b\x0c"


class AuthError(ValueError):
    """The message's mac does not match this node's key (or its absence)."""


class KeyFileError(ValueError):
    """The cluster key file cannot be used."""


class SignedMessage(Protocol):
    """Any swimfd request or reply: they all carry a Header."""

    @property
    def header(self) -> pb.Header: ...

    def SerializeToString(self, *, deterministic: bool = ...) -> bytes: ...  # protobuf's name


def read_key(path: str | Path) -> bytes:
    """The key file's bytes without surrounding ASCII whitespace; empty keys are refused."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise KeyFileError(f"cluster key file {p}: {e.strerror}") from e
    key = raw.strip(_KEY_SPACE)
    if not key:
        raise KeyFileError(f"cluster key file {p} is empty")
    return key


def compute_mac(key: bytes, message: SignedMessage) -> bytes:
    """The mac of ``message`` as if header.mac were empty; ``message`` is not modified."""
    saved = message.header.mac
    # Clearing in place and restoring avoids a copy of every outgoing envelope;
    # the runtime is single-threaded, so nobody observes the cleared field.
    message.header.mac = b""
    try:
        data = message.SerializeToString(deterministic=True)
    finally:
        message.header.mac = saved
    return hmac.new(key, data, hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class Signer:
    """Signs outgoing messages and verifies incoming ones with an optional cluster key."""

    key: bytes | None = None

    def sign(self, message: SignedMessage) -> None:
        """Set header.mac; the message must already carry its final content."""
        if self.key is None:
            message.header.mac = b""
            return
        message.header.mac = compute_mac(self.key, message)

    def verify(self, message: SignedMessage) -> None:
        """Raise AuthError unless the mac matches this node's key."""
        mac = message.header.mac
        if self.key is None:
            if mac:
                raise AuthError("message is signed but this node has no cluster key")
            return
        if not mac:
            raise AuthError("message is not signed but this node requires a cluster key")
        if not hmac.compare_digest(mac, compute_mac(self.key, message)):
            raise AuthError("message mac does not match the cluster key")
