"""HMAC signing: byte-compatible with go-diss (shared test vectors), and strict about key mismatches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf import json_format

from swimfd.pb import swim_pb2 as pb
from swimfd.runtime.auth import AuthError, KeyFileError, Signer, compute_mac, read_key

VECTOR = Path(__file__).resolve().parents[2] / "go-diss" / "internal" / "auth" / "testdata" / "vector.json"


def _vectors() -> list[dict[str, object]]:
    return json.loads(VECTOR.read_text())["vectors"]


@pytest.mark.parametrize("vector", _vectors(), ids=lambda v: str(v["type"]))
def test_mac_matches_shared_vector(vector: dict[str, object]) -> None:
    key = json.loads(VECTOR.read_text())["key"].encode()
    type_name = str(vector["type"]).rsplit(".", 1)[1]
    msg = json_format.ParseDict(vector["message"], getattr(pb, type_name)())
    assert msg.SerializeToString(deterministic=True).hex() == vector["unsigned_hex"]
    assert compute_mac(key, msg).hex() == vector["mac_hex"]
    Signer(key).sign(msg)
    assert msg.header.mac.hex() == vector["mac_hex"]
    Signer(key).verify(msg)


def _notice() -> pb.Notice:
    return pb.Notice(
        header=pb.Header(version=1, cluster="c", sender="1", sender_addr="127.0.0.1:50051"),
        kind=pb.FAILED,
        update=pb.Update(member=pb.Member(id="3", incarnation=2, state=pb.DEAD)),
        origin="1",
    )


def test_mac_ignores_existing_mac_and_leaves_message_unchanged() -> None:
    msg = _notice()
    msg.header.mac = b"junk"
    before = msg.SerializeToString()
    mac = compute_mac(b"k", msg)
    assert msg.SerializeToString() == before
    clean = _notice()
    assert mac == compute_mac(b"k", clean)


def test_tampered_message_is_refused() -> None:
    msg = _notice()
    Signer(b"k").sign(msg)
    msg.update.member.incarnation = 3
    with pytest.raises(AuthError, match="does not match"):
        Signer(b"k").verify(msg)


def test_wrong_key_is_refused() -> None:
    msg = _notice()
    Signer(b"k1").sign(msg)
    with pytest.raises(AuthError):
        Signer(b"k2").verify(msg)


def test_keyless_node_refuses_signed_and_keyed_node_refuses_unsigned() -> None:
    signed, unsigned = _notice(), _notice()
    Signer(b"k").sign(signed)
    Signer(None).sign(unsigned)
    assert unsigned.header.mac == b""
    Signer(None).verify(unsigned)
    with pytest.raises(AuthError, match="has no cluster key"):
        Signer(None).verify(signed)
    with pytest.raises(AuthError, match="not signed"):
        Signer(b"k").verify(unsigned)


def test_read_key_strips_ascii_whitespace_like_go(tmp_path: Path) -> None:
    f = tmp_path / "key"
    f.write_bytes(b" \t secret key\r\n\x0b\x0c")
    assert read_key(f) == b"secret key"


def test_read_key_refuses_empty_and_missing(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b" \n")
    with pytest.raises(KeyFileError, match="is empty"):
        read_key(empty)
    with pytest.raises(KeyFileError, match="No such file"):
        read_key(tmp_path / "missing")
