"""Mutual TLS on a real gRPC server on loopback: who may connect, and which member the peer is."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import grpc.aio
import pytest

from swimfd.commands.certs import make_ca, make_node
from swimfd.runtime.tls import TLSError, TLSFiles, TLSMaterial, peer_member_id

METHOD = "/swimfd.test.Echo/WhoAmI"


def _cluster(tmp: Path, ids: list[str], ca: str = "ca") -> None:
    make_ca(tmp, ca)
    for mid in ids:
        make_node(tmp, mid, ["127.0.0.1"], ca=ca)


async def _serve(material: TLSMaterial) -> tuple[grpc.aio.Server, int]:
    async def who(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        return (peer_member_id(context.auth_context()) or "?").encode()

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "swimfd.test.Echo", {"WhoAmI": grpc.unary_unary_rpc_method_handler(who)}
            ),
        )
    )
    port = server.add_secure_port("127.0.0.1:0", material.server_credentials())
    await server.start()
    return server, port


async def _call(port: int, creds: grpc.ChannelCredentials | None) -> bytes:
    target = f"127.0.0.1:{port}"
    channel = grpc.aio.secure_channel(target, creds) if creds else grpc.aio.insecure_channel(target)
    async with channel:
        return await channel.unary_unary(METHOD)(b"", timeout=5)


def test_the_server_learns_the_member_id_the_client_certificate_names(tmp_path: Path) -> None:
    _cluster(tmp_path, ["1", "2"])
    server_tls = TLSMaterial.load(TLSFiles.in_dir(tmp_path, "1"), expect_id="1")
    client_tls = TLSMaterial.load(TLSFiles.in_dir(tmp_path, "2"), expect_id="2")

    async def main() -> bytes:
        server, port = await _serve(server_tls)
        try:
            return await _call(port, client_tls.channel_credentials())
        finally:
            await server.stop(None)

    assert asyncio.run(main()) == b"2"


@pytest.mark.parametrize("client", ["plaintext", "foreign CA", "no client certificate"])
def test_peers_without_a_certificate_from_the_bundle_are_refused(tmp_path: Path, client: str) -> None:
    _cluster(tmp_path / "ours", ["1"])
    _cluster(tmp_path / "theirs", ["2"])
    server_tls = TLSMaterial.load(TLSFiles.in_dir(tmp_path / "ours", "1"))
    creds: grpc.ChannelCredentials | None
    if client == "plaintext":
        creds = None
    elif client == "foreign CA":
        foreign = TLSMaterial.load(TLSFiles.in_dir(tmp_path / "theirs", "2"))
        # It trusts our CA (so it would accept our server) but holds a certificate our server does not trust.
        creds = grpc.ssl_channel_credentials(server_tls.ca_pem, foreign.key_pem, foreign.cert_pem)
    else:
        creds = grpc.ssl_channel_credentials(server_tls.ca_pem)

    async def main() -> grpc.StatusCode:
        server, port = await _serve(server_tls)
        try:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await _call(port, creds)
            return err.value.code()
        finally:
            await server.stop(None)

    assert asyncio.run(main()) == grpc.StatusCode.UNAVAILABLE


def test_a_second_ca_in_the_bundle_is_trusted_alongside_the_first(tmp_path: Path) -> None:
    """Rotation: ca2 joins the bundle, a node re-issued by ca2 talks to one still holding a ca certificate."""
    _cluster(tmp_path, ["1"])
    make_ca(tmp_path, "ca2")
    make_node(tmp_path, "2", ["127.0.0.1"], ca="ca2")
    old = TLSMaterial.load(TLSFiles.in_dir(tmp_path, "1"))
    new = TLSMaterial.load(TLSFiles.in_dir(tmp_path, "2"))

    async def main() -> tuple[bytes, bytes]:
        s1, p1 = await _serve(old)
        s2, p2 = await _serve(new)
        try:
            return await _call(p1, new.channel_credentials()), await _call(p2, old.channel_credentials())
        finally:
            await s1.stop(None)
            await s2.stop(None)

    assert asyncio.run(main()) == (b"2", b"1")


def test_loading_refuses_a_certificate_for_another_member(tmp_path: Path) -> None:
    _cluster(tmp_path, ["3"])
    with pytest.raises(TLSError, match=r"names member '3', but this node is '2'"):
        TLSMaterial.load(TLSFiles.in_dir(tmp_path, "3"), expect_id="2")


def test_loading_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TLSError, match=r"node-1\.pem"):
        TLSMaterial.load(TLSFiles.in_dir(tmp_path, "1"))


def test_the_peer_member_id_needs_one_verified_certificate_naming_one_member() -> None:
    # grpc's auth context as a TLS server sees it (grpcio 1.85): the URIs BoringSSL read from the peer's certificate.
    def ctx(*uris: bytes, pems: int = 1) -> dict[str, list[bytes]]:
        return {"x509_pem_cert": [b"pem"] * pems, "peer_uri": list(uris)}

    assert peer_member_id(ctx(b"urn:swimfd:member:4")) == "4"
    assert peer_member_id(ctx(b"urn:swimfd:client:watch", b"urn:swimfd:member:4")) == "4"
    assert peer_member_id(ctx(b"urn:swimfd:member:4", pems=0)) is None  # plaintext: no certificate
    assert peer_member_id(ctx(b"urn:swimfd:member:4", b"urn:swimfd:member:5")) is None
    assert peer_member_id(ctx(b"urn:swimfd:client:watch")) is None
    assert peer_member_id(ctx(b"urn:swimfd:member:a:b")) is None
    assert peer_member_id(ctx(b"urn:swimfd:member:\xc3\xa9")) is None
    assert peer_member_id(ctx()) is None
    assert peer_member_id({}) is None
