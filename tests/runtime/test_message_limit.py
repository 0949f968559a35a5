"""The detector and its go-diss bound messages alike: the detector passes its bound, go-diss announces the
one it uses, and the detector checks at start that they agree (docs/security.md, "Bounds")."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest
from test_runtime_io import free_port, lines, make_runtime, run, settings, until

from swimfd.runtime.diss_process import DissCommand

GO_DISS = Path(__file__).resolve().parents[2] / "bin" / "go-diss"


def test_the_detector_passes_its_message_bound_to_go_diss() -> None:
    cmd = DissCommand(binary="go-diss", node_id="1", listen="a:1", detector="b:2", cluster="c", max_message_bytes=65536)
    argv = cmd.argv()
    assert argv[argv.index("--max-message-bytes") + 1] == "65536"


@pytest.mark.parametrize(("theirs", "mismatch"), [(4194304, False), (65536, True)])
def test_a_go_diss_with_another_bound_is_a_clear_error_at_start(tmp_path: Path, theirs: int, mismatch: bool) -> None:
    if not GO_DISS.exists():
        pytest.skip("bin/go-diss is not built (run `make build`)")
    diss_port, port = free_port(), free_port()
    argv = [str(GO_DISS), "--id", "1", "--listen", f"127.0.0.1:{diss_port}", "--detector", f"127.0.0.1:{port}"]
    argv += ["--cluster", "test", "--insecure", "--max-message-bytes", str(theirs)]
    argv += ["--log-file", str(tmp_path / "diss.log")]
    child = subprocess.Popen(argv)

    async def main() -> None:
        s = dataclasses.replace(settings("1", port), diss_addr=f"127.0.0.1:{diss_port}")
        assert s.config.max_message_bytes == 4194304
        rt, buf = make_runtime(s)
        await rt.start()
        try:
            if mismatch:
                await until(lambda: any(x["event"] == "message_limit_mismatch" for x in lines(buf)), 10)
                [err] = [x for x in lines(buf) if x["event"] == "message_limit_mismatch"]
                assert err["level"] == "error" and "65536" in err["detail"] and "4194304" in err["detail"]
            else:
                assert await rt.diss.wait_ready(10)  # the go-diss child may still be starting
                assert await rt.diss.message_limit() == theirs
                assert not [x for x in lines(buf) if x["event"] == "message_limit_mismatch"]
        finally:
            await rt.stop(graceful=False)

    try:
        run(main())
    finally:
        child.terminate()
        child.wait(timeout=10)
