"""Mutual TLS for every gRPC hop: credentials from PEM files, and the member id a peer's certificate names.

A node's certificate carries its member id as a URI subject alternative name
(``urn:swimfd:member:<id>``, see ``member_uri``), written by ``swimfd certs``.
A peer is trusted when its chain ends at any CA in the node's bundle (one PEM
file holding one or more CA certificates), so a new CA can be added to every
bundle first and the node certificates re-issued afterwards without downtime.
All cryptography is grpcio's (BoringSSL) and the ``cryptography`` library's;
none is written here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

if TYPE_CHECKING:
    from cryptography import x509

# ``cryptography`` (about 9 MB resident) is imported only where a certificate file is parsed: a node
# without TLS never loads it, and a peer's member id comes from the URIs grpc (BoringSSL) extracted
# from the certificate it verified, not from parsing that certificate again on every call.

MEMBER_URI_PREFIX = "urn:swimfd:member:"
# Observers (swimfd members/health/monitor) carry a certificate naming no member: they may read, never act.
CLIENT_URI_PREFIX = "urn:swimfd:client:"
CLIENT_STEM = "client"


# The shared-key HMAC is gone: a key every member holds proves only membership, not which member
# sent a message, and it never had replay protection; mutual TLS does both jobs better.
CLUSTER_KEY_REMOVED = (
    "--cluster-key-file was removed: mutual TLS (--tls-dir, or --tls-ca/--tls-cert/--tls-key) "
    "authenticates every hop and binds each peer to its member id; see docs/security.md"
)


class TLSError(ValueError):
    """A certificate, key or bundle is missing, unreadable or not what it claims to be."""


def member_uri(member_id: str) -> str:
    return MEMBER_URI_PREFIX + member_id


def member_id_of(cert: x509.Certificate) -> str | None:
    """The member id a certificate names, or None when it names none (or more than one)."""
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID

    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return None
    return member_id_in(san.get_values_for_type(x509.UniformResourceIdentifier))


def member_id_in(uris: Iterable[str]) -> str | None:
    """The member id named by a certificate's URI subject alternative names, or None (none, or more than one)."""
    ids = [u[len(MEMBER_URI_PREFIX) :] for u in uris if u.startswith(MEMBER_URI_PREFIX)]
    ids = [i for i in ids if i and _plain_id(i)]
    return ids[0] if len(ids) == 1 else None


def _plain_id(member_id: str) -> bool:
    # Ids are printable and short; anything else in a certificate is refused rather than trusted.
    return member_id.isprintable() and len(member_id) <= 256 and ":" not in member_id


@dataclass(frozen=True, slots=True)
class TLSFiles:
    """Where a node's TLS material lives: its certificate, its key and the CA bundle it trusts."""

    cert: Path
    key: Path
    ca_bundle: Path

    @classmethod
    def in_dir(cls, directory: str | Path, member_id: str) -> TLSFiles:
        """The layout ``swimfd certs`` writes: node-<id>.pem, node-<id>.key and ca-bundle.pem."""
        d = Path(directory)
        return cls(d / f"node-{member_id}.pem", d / f"node-{member_id}.key", d / "ca-bundle.pem")

    @classmethod
    def client_in_dir(cls, directory: str | Path) -> TLSFiles:
        """An observer's files in the same layout: client.pem, client.key and ca-bundle.pem."""
        d = Path(directory)
        return cls(d / f"{CLIENT_STEM}.pem", d / f"{CLIENT_STEM}.key", d / "ca-bundle.pem")


@dataclass(frozen=True, slots=True)
class TLSMaterial:
    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes
    member_id: str | None  # the id our own certificate names (None: an observer's certificate)

    @classmethod
    def load(cls, files: TLSFiles, expect_id: str | None = None, member: bool = True) -> TLSMaterial:
        """Read and check the files; ``member=False`` accepts a certificate naming no member (observers)."""
        from cryptography import x509

        cert_pem, key_pem, ca_pem = (_read(p, what) for p, what in _named(files))
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
        except ValueError as e:
            raise TLSError(f"{files.cert}: not a PEM certificate ({e})") from e
        try:
            cas = x509.load_pem_x509_certificates(ca_pem)
        except ValueError as e:
            raise TLSError(f"{files.ca_bundle}: not a PEM CA bundle ({e})") from e
        if not cas:
            raise TLSError(f"{files.ca_bundle}: holds no CA certificate")
        mid = member_id_of(cert)
        if mid is None and member:
            raise TLSError(f"{files.cert}: names no member id (expected one {MEMBER_URI_PREFIX}<id> URI)")
        if expect_id is not None and mid != expect_id:
            raise TLSError(f"{files.cert}: names member {mid!r}, but this node is {expect_id!r}")
        return cls(cert_pem, key_pem, ca_pem, mid)

    def server_credentials(self) -> grpc.ServerCredentials:
        # require_client_auth: a peer without a certificate from our bundle never reaches a handler.
        return grpc.ssl_server_credentials([(self.key_pem, self.cert_pem)], self.ca_pem, require_client_auth=True)

    def server_configuration(self) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration([(self.key_pem, self.cert_pem)], self.ca_pem)

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(self.ca_pem, self.key_pem, self.cert_pem)


class ReloadableTLS:
    """A node's TLS material that can be re-read from its files while the node runs (SIGHUP).

    The server's credentials ask for the current material on every new
    connection (grpcio's dynamic server credentials), so a reload takes effect
    for the next handshake; clients build new channels after a reload
    (``generation`` tells them). A reload that fails keeps the old material.
    """

    def __init__(self, files: TLSFiles, expect_id: str) -> None:
        self.files = files
        self.expect_id = expect_id
        self.material = TLSMaterial.load(files, expect_id)
        self.generation = 0
        self._served = 0  # generation the server last handed out

    def reload(self) -> TLSMaterial:
        """Re-read the files; raises TLSError (keeping the current material) when they are unusable."""
        self.material = TLSMaterial.load(self.files, self.expect_id)
        self.generation += 1
        return self.material

    def server_credentials(self) -> grpc.ServerCredentials:
        def fetch() -> grpc.ServerCertificateConfiguration | None:
            if self._served == self.generation:
                return None  # unchanged: grpc keeps the configuration it has
            self._served = self.generation
            return self.material.server_configuration()

        return grpc.dynamic_ssl_server_credentials(
            self.material.server_configuration(), fetch, require_client_authentication=True
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return self.material.channel_credentials()


def peer_member_id(auth_context: dict[str, list[bytes]]) -> str | None:
    """The member id of the peer of a call, from its verified certificate (None on plaintext)."""
    pems = auth_context.get("x509_pem_cert") or []
    if len(pems) != 1:
        return None
    # grpc lists the URI subject alternative names of the certificate it verified as ``peer_uri``.
    try:
        uris = [uri.decode("ascii") for uri in auth_context.get("peer_uri") or []]
    except UnicodeDecodeError:  # a URI name is an IA5String (ASCII); anything else names no member
        return None
    return member_id_in(uris)


def _named(files: TLSFiles) -> list[tuple[Path, str]]:
    return [(files.cert, "certificate"), (files.key, "key"), (files.ca_bundle, "CA bundle")]


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise TLSError(f"{what} {path}: {e.strerror}") from e
