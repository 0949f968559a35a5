"""`python -m swimfd monitor`: flag errors are reported before anything listens."""

from __future__ import annotations

import pytest

from swimfd.commands.main import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds", "nohost"], "--seeds: 'nohost' is not host:port"),
        (["--seeds", "127.0.0.1:1", "--listen", "127.0.0.1:0x"], "--listen"),
        (["--seeds", "127.0.0.1:1", "--interval", "0"], "--interval and --timeout must be positive"),
        (["--seeds", "127.0.0.1:1", "--tls-cert", "c.pem"], "--tls-cert and --tls-key go together"),
        (["--seeds", "127.0.0.1:1", "--tls-ca", "/nonexistent/ca.pem"], "cannot read TLS file"),
        (["--seeds", "127.0.0.1:1", "--cluster-key-file", "/nonexistent/key"], "--cluster-key-file was removed"),
    ],
)
def test_bad_flags_exit_2_with_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["monitor", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("swimfd monitor: error:") and message in err and err.count("\n") == 1
