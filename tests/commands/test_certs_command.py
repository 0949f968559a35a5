"""`swimfd certs`: what it writes, and its refusals."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509

from swimfd.commands.main import main
from swimfd.runtime.tls import member_id_of


def test_ca_then_node_writes_a_chain_naming_the_member(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["certs", "ca", "--dir", str(tmp_path)]) == 0
    assert main(["certs", "node", "--dir", str(tmp_path), "--id", "7", "--host", "10.0.0.7", "--host", "n7"]) == 0
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.pem").read_bytes())
    node = x509.load_pem_x509_certificate((tmp_path / "node-7.pem").read_bytes())
    node.verify_directly_issued_by(ca)
    assert member_id_of(node) == "7"
    san = node.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.7"]
    assert san.get_values_for_type(x509.DNSName) == ["n7"]
    for key in ("ca.key", "node-7.key"):
        assert stat.S_IMODE((tmp_path / key).stat().st_mode) == 0o600
    assert "wrote" in capsys.readouterr().out


def test_rotation_appends_the_new_ca_to_the_bundle(tmp_path: Path) -> None:
    assert main(["certs", "ca", "--dir", str(tmp_path)]) == 0
    assert main(["certs", "ca", "--dir", str(tmp_path), "--name", "ca2"]) == 0
    bundle = x509.load_pem_x509_certificates((tmp_path / "ca-bundle.pem").read_bytes())
    expected = [x509.load_pem_x509_certificate((tmp_path / f"{n}.pem").read_bytes()) for n in ("ca", "ca2")]
    assert bundle == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["certs", "node", "--id", "1"], "run `swimfd certs ca"),
        (["certs", "node", "--id", "a:b"], "is not a member id"),
        (["certs", "ca", "--days", "0"], "--days must be at least 1"),
    ],
)
def test_refusals_say_why(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main([*argv, "--dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_existing_files_are_kept_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["certs", "ca", "--dir", str(tmp_path)]) == 0
    before = (tmp_path / "ca.key").read_bytes()
    assert main(["certs", "ca", "--dir", str(tmp_path)]) == 2
    assert "pass --force" in capsys.readouterr().err
    assert (tmp_path / "ca.key").read_bytes() == before
