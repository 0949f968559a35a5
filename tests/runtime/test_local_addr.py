"""The detector dials its own go-diss child where it listens, never through the advertised address."""

from __future__ import annotations

import dataclasses

import pytest

from swimfd.core.config import Config
from swimfd.runtime.process import local_addr, local_diss_addr
from swimfd.runtime.settings import RuntimeSettings


@pytest.mark.parametrize(
    ("listen", "local"),
    [("0.0.0.0:50061", "127.0.0.1:50061"), ("[::]:7", "127.0.0.1:7"), ("10.0.0.5:50061", "10.0.0.5:50061")],
)
def test_a_wildcard_listener_is_reached_on_loopback(listen: str, local: str) -> None:
    assert local_addr(listen) == local


def test_the_child_is_dialled_at_its_listen_address_an_external_one_at_the_given_address() -> None:
    s = RuntimeSettings(
        node_id="3",
        bind="0.0.0.0:50051",
        advertise="swimfd-2.swimfd.default.svc.cluster.local:50051",
        members=(),
        seeds=(),
        config=Config(),
        diss_addr="swimfd-2.swimfd.default.svc.cluster.local:50061",
        diss_listen="0.0.0.0:50061",
        go_diss="go-diss",
    )
    assert local_diss_addr(s) == "127.0.0.1:50061"
    external = dataclasses.replace(s, diss_addr="10.1.2.3:9000", diss_listen=None)
    assert local_diss_addr(external) == "10.1.2.3:9000"
