"""The network model: loss, one-way links, partitions, delays, determinism."""

from __future__ import annotations

import pytest

from swimfd.sim.network import Network, NetworkError


def fates(net: Network, src: str, dst: str, count: int) -> list[float | None]:
    return [net.transit(src, dst) for _ in range(count)]


def test_no_loss_delivers_everything_within_delay_range() -> None:
    net = Network(loss=0.0, delay=(0.002, 0.004), seed=1)
    delays = fates(net, "a", "b", 2000)
    assert all(d is not None and 0.002 <= d <= 0.004 for d in delays)
    assert len(set(delays)) > 1000  # delays vary, so messages can overtake each other


def test_uniform_loss_rate_matches_probability() -> None:
    net = Network(loss=0.3, seed=7)
    lost = sum(d is None for d in fates(net, "a", "b", 20000))
    assert 0.28 < lost / 20000 < 0.32


def test_one_way_link_loss_blocks_only_that_direction() -> None:
    net = Network(seed=3)
    net.set_link_loss("a", "b", 1.0)
    assert all(d is None for d in fates(net, "a", "b", 100))
    assert all(d is not None for d in fates(net, "b", "a", 100))
    assert all(d is not None for d in fates(net, "a", "c", 100))
    assert not net.reachable("a", "b") and net.reachable("b", "a")
    net.set_link_loss("a", "b", 0.0)
    assert all(d is not None for d in fates(net, "a", "b", 100))


def test_link_loss_combines_with_global_loss() -> None:
    net = Network(loss=0.5, seed=11)
    net.set_link_loss("a", "b", 0.5)
    lost = sum(d is None for d in fates(net, "a", "b", 20000))
    assert 0.73 < lost / 20000 < 0.77  # 1 - 0.5 * 0.5


def test_partition_cuts_between_groups_and_heals() -> None:
    net = Network(seed=5)
    net.partition([{"a", "b"}, {"c"}])
    assert net.transit("a", "b") is not None
    assert net.transit("a", "c") is None and net.transit("c", "b") is None
    # members in no group form one more group of their own
    assert net.transit("d", "e") is not None
    assert net.transit("d", "a") is None and net.transit("c", "d") is None
    net.heal()
    assert all(net.transit(s, d) is not None for s in "abcd" for d in "abcd")


def test_partition_refuses_member_in_two_groups() -> None:
    with pytest.raises(NetworkError, match="more than one group"):
        Network().partition([{"a"}, {"a", "b"}])


def test_same_seed_same_fates_different_seed_different_fates() -> None:
    runs = [fates(Network(loss=0.2, seed=s), "a", "b", 500) for s in (9, 9, 10)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_custom_delay_distribution() -> None:
    net = Network(delay=lambda rng: rng.expovariate(100.0), seed=2)
    delays = fates(net, "a", "b", 5000)
    assert all(d is not None and d >= 0 for d in delays)
    mean = sum(d for d in delays if d is not None) / len(delays)
    assert 0.009 < mean < 0.011


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"loss": 1.5}, "loss"),
        ({"loss": -0.1}, "loss"),
        ({"delay": (0.01, 0.001)}, "delay"),
        ({"delay": (-1, 0)}, "delay"),
        ({"delay": "fast"}, "delay"),
    ],
)
def test_invalid_parameters_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(NetworkError, match=message):
        Network(**kwargs)


def test_bad_delay_function_is_reported() -> None:
    net = Network(delay=lambda rng: -1.0)
    with pytest.raises(NetworkError, match="delay function"):
        net.transit("a", "b")
