"""The TLS flags of the client commands (members, health, monitor): one rule for all three.

``--tls-dir DIR`` (env SWIMFD_TLS_DIR) uses DIR/client.pem, DIR/client.key and
DIR/ca-bundle.pem (``swimfd certs client``); ``--tls-ca/--tls-cert/--tls-key``
name the files one by one and win over --tls-dir. Without any of them the
client speaks plaintext, which only an --insecure cluster answers.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

import grpc

from swimfd.runtime.settings import UsageError
from swimfd.runtime.tls import CLUSTER_KEY_REMOVED, TLSError, TLSFiles, TLSMaterial

TLS_DIR_ENV = "SWIMFD_TLS_DIR"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tls-dir", dest="tls_dir", help=f"client.pem, client.key, ca-bundle.pem from `swimfd certs` ({TLS_DIR_ENV})"
    )
    parser.add_argument("--tls-ca", dest="tls_ca", help="CA bundle (PEM) to verify mTLS-secured nodes with")
    parser.add_argument("--tls-cert", dest="tls_cert", help="client certificate (PEM) for mTLS")
    parser.add_argument("--tls-key", dest="tls_key", help="client private key (PEM) for mTLS")


def credentials(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> grpc.ChannelCredentials | None:
    """Channel credentials from the flags, or None for plaintext; UsageError names the flag at fault."""
    if getattr(args, "cluster_key_file", None):  # the removed flag, kept so that it says what replaced it
        raise UsageError(CLUSTER_KEY_REMOVED)
    env = os.environ if env is None else env
    tls_dir = getattr(args, "tls_dir", None) or env.get(TLS_DIR_ENV, "").strip() or None
    ca, cert, key = (getattr(args, n, None) for n in ("tls_ca", "tls_cert", "tls_key"))
    if not (tls_dir or ca or cert or key):
        return None
    if bool(cert) != bool(key):
        raise UsageError("--tls-cert and --tls-key go together")
    base = TLSFiles.client_in_dir(tls_dir) if tls_dir else None
    files = TLSFiles(
        Path(cert) if cert else base.cert if base else Path(),
        Path(key) if key else base.key if base else Path(),
        Path(ca) if ca else base.ca_bundle if base else Path(),
    )
    if base is None and not ca:
        raise UsageError("--tls-ca is required with --tls-cert (or pass --tls-dir)")
    if base is None and not cert:
        # Verify the servers only: they refuse us without a client certificate, but the flag stays usable.
        try:
            return grpc.ssl_channel_credentials(files.ca_bundle.read_bytes())
        except OSError as e:
            raise UsageError(f"--tls-ca: cannot read TLS file {files.ca_bundle}: {e.strerror}") from e
    try:
        return TLSMaterial.load(files, member=False).channel_credentials()
    except TLSError as e:
        raise UsageError(f"--tls-dir/--tls-*: {e}") from e
