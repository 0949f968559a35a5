"""`swimfd certs`: a cluster CA and per-member certificates for mutual TLS.

    swimfd certs ca   --dir run/tls                      # ca.pem + ca.key, and ca-bundle.pem (the CAs nodes trust)
    swimfd certs node --dir run/tls --id 3 --host 127.0.0.1   # node-3.pem + node-3.key, signed by ca.pem
    swimfd certs ca   --dir run/tls --name ca2           # rotation: a second CA, appended to ca-bundle.pem
    swimfd certs client --dir run/tls                    # client.pem + client.key: members/health/monitor

Each member certificate names its member id (``urn:swimfd:member:<id>``), so
a peer can act only as the member its certificate names. A client
certificate names no member (``urn:swimfd:client:<name>``): its holder may
read views and health, never act as a member. Keys are ECDSA P-256.
Private keys are written with mode 0600 and never overwritten unless --force.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from swimfd.runtime.tls import CLIENT_STEM, CLIENT_URI_PREFIX, member_uri

CA_DAYS = 3650
NODE_DAYS = 365
BUNDLE = "ca-bundle.pem"


class CertError(ValueError):
    """The request cannot be carried out (missing CA, existing file without --force, bad host)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, force: bool, private: bool = False) -> None:
    if path.exists() and not force:
        raise CertError(f"{path} exists; pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def make_ca(
    directory: Path, name: str = "ca", cluster: str = "swimfd", days: int = CA_DAYS, force: bool = False
) -> Path:
    """Create <name>.pem / <name>.key and append the certificate to the directory's CA bundle."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"swimfd cluster CA {cluster} ({name})")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # key_cert_sign, crl_sign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    _write(directory / f"{name}.key", _pem_key(key), force, private=True)
    _write(directory / f"{name}.pem", cert_pem, force)
    bundle = directory / BUNDLE
    existing = bundle.read_bytes() if bundle.exists() else b""
    if cert_pem not in existing:
        _write(bundle, existing + cert_pem, force=True)
    return directory / f"{name}.pem"


def make_node(
    directory: Path,
    member_id: str,
    hosts: list[str],
    ca: str = "ca",
    days: int = NODE_DAYS,
    force: bool = False,
) -> Path:
    """Create node-<id>.pem / node-<id>.key signed by <ca>.pem, naming the member id and its hosts."""
    if not member_id or not member_id.isprintable() or ":" in member_id or len(member_id) > 256:
        raise CertError(f"--id: {member_id!r} is not a member id (printable, no ':', at most 256 characters)")
    return _issue(
        directory, f"node-{member_id}", member_uri(member_id), f"swimfd member {member_id}", hosts, ca, days, force
    )


def make_client(
    directory: Path, name: str = CLIENT_STEM, ca: str = "ca", days: int = NODE_DAYS, force: bool = False
) -> Path:
    """Create <name>.pem / <name>.key: a certificate for observers that names no member."""
    if not name or not name.isprintable() or "/" in name or ":" in name:
        raise CertError(f"--name: {name!r} is not a file stem")
    return _issue(directory, name, CLIENT_URI_PREFIX + name, f"swimfd client {name}", ["localhost"], ca, days, force)


def _issue(
    directory: Path, stem: str, uri: str, common_name: str, hosts: list[str], ca: str, days: int, force: bool
) -> Path:
    try:
        ca_key = serialization.load_pem_private_key((directory / f"{ca}.key").read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate((directory / f"{ca}.pem").read_bytes())
    except FileNotFoundError as e:
        raise CertError(f"no CA {ca!r} in {directory}: run `swimfd certs ca --dir {directory}` first") from e
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise CertError(f"{directory / (ca + '.key')}: not an EC key written by swimfd certs")
    sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(uri)]
    for h in hosts or ["localhost", "127.0.0.1"]:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            if not h or any(c.isspace() for c in h):
                raise CertError(f"--host: {h!r} is neither an IP address nor a DNS name") from None
            sans.append(x509.DNSName(h))
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(directory / f"{stem}.key", _pem_key(key), force, private=True)
    _write(directory / f"{stem}.pem", cert.public_bytes(serialization.Encoding.PEM), force)
    return directory / f"{stem}.pem"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="what", required=True)
    ca = sub.add_parser("ca", help="create a cluster CA and add it to ca-bundle.pem")
    ca.add_argument("--dir", required=True, type=Path)
    ca.add_argument("--name", default="ca", help="file stem, e.g. ca2 when rotating (default ca)")
    ca.add_argument("--cluster", default="swimfd", help="cluster name written into the CA's subject")
    ca.add_argument("--days", type=int, default=CA_DAYS)
    ca.add_argument("--force", action="store_true", help="replace existing files")
    node = sub.add_parser("node", help="create a member certificate signed by a CA")
    node.add_argument("--dir", required=True, type=Path)
    node.add_argument("--id", required=True, help="the member id the certificate names")
    node.add_argument("--host", action="append", default=[], help="IP or DNS name the node is reached at (repeat)")
    node.add_argument("--ca", default="ca", help="which CA signs it (file stem, default ca)")
    node.add_argument("--days", type=int, default=NODE_DAYS)
    node.add_argument("--force", action="store_true", help="replace existing files")
    client = sub.add_parser("client", help="create a certificate for members/health/monitor (names no member)")
    client.add_argument("--dir", required=True, type=Path)
    client.add_argument("--name", default=CLIENT_STEM, help=f"file stem (default {CLIENT_STEM})")
    client.add_argument("--ca", default="ca", help="which CA signs it (file stem, default ca)")
    client.add_argument("--days", type=int, default=NODE_DAYS)
    client.add_argument("--force", action="store_true", help="replace existing files")


def run(args: argparse.Namespace) -> int:
    if args.days < 1:
        print("swimfd certs: error: --days must be at least 1", file=sys.stderr)
        return 2
    try:
        if args.what == "ca":
            path = make_ca(args.dir, args.name, args.cluster, args.days, args.force)
        elif args.what == "client":
            path = make_client(args.dir, args.name, args.ca, args.days, args.force)
        else:
            path = make_node(args.dir, args.id, args.host, args.ca, args.days, args.force)
    except CertError as e:
        print(f"swimfd certs: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0
