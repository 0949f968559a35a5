"""--feign-failure and --priority in the runtime: flag parsing, silencing and the election on recovery.

No sockets: the Runtime is built around the real Node with a virtual clock and only its feign hook is driven.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random

import pytest

from swimfd.commands.run import add_arguments, parse_settings
from swimfd.core.config import Config
from swimfd.runtime.logs import make_logger
from swimfd.runtime.process import Runtime
from swimfd.runtime.settings import RuntimeSettings, UsageError


def parse(argv: list[str]) -> RuntimeSettings:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parse_settings(parser.parse_args([*argv, "--insecure"]), {})


def test_flags_set_priority_and_feigning() -> None:
    s = parse(["--id", "3", "--priority", "7", "--feign-failure"])
    assert s.config.priority == 7 and s.feign_failure
    plain = parse(["--id", "3"])
    assert plain.config.priority == 0 and not plain.feign_failure


def test_bad_priority_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--priority"):
        parse(["--id", "3", "--priority", "high"])


def test_runtime_goes_silent_during_a_window_and_elects_when_it_ends() -> None:
    # The Runtime opens a grpc.aio channel, which needs an event loop: build it inside one.
    async def scenario() -> None:
        clock = [100.0]
        settings = RuntimeSettings(
            node_id="1",
            bind="127.0.0.1:1",
            advertise="127.0.0.1:1",
            members=(),
            seeds=(),
            config=Config(cluster="test", feign_after_max=2.0, feign_duration_min=0.5, feign_duration_max=1.0),
            diss_addr="127.0.0.1:2",
            diss_listen=None,
            go_diss="/nonexistent",
            feign_failure=True,
        )
        buf = io.StringIO()
        rt = Runtime(settings, make_logger(buf, "1"), clock=lambda: clock[0], wall=lambda: 1e9, rng=random.Random(4))
        assert rt.feign is not None
        start, end = rt.feign.window()
        assert 100.0 <= start <= 102.0 and 0.5 <= end - start <= 1.0
        rt._poll_feign()
        assert not rt.silenced()
        clock[0] = start
        rt._poll_feign()
        assert rt.silenced()
        clock[0] = end
        rt._poll_feign()
        assert not rt.silenced()
        logged = [json.loads(line) for line in buf.getvalue().splitlines()]
        names = [rec["event"] for rec in logged]
        assert names[:2] == ["feign_started", "feign_ended"]
        started = [rec for rec in logged if rec["event"] == "election_started"]
        assert [rec["reason"] for rec in started] == ["recovered"]

    asyncio.run(scenario())
