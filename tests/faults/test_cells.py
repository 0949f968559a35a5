"""The fast subset of the fault matrix: real detectors (and their go-diss) in network namespaces, N = 5.

Each cell asserts ``CellResult.failures == []`` (netlab.cells holds the one rule
for what passing means): every real failure detected by every survivor within
the bound derived from the configuration (netlab.bounds), no live member ever
declared failed, and views converging. ``make faults`` runs the whole matrix.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from netlab import cells
from netlab.lab import MEMBERLIST, Lab

pytestmark = pytest.mark.faults

N = 5


def check(result: cells.CellResult) -> None:
    assert result.failures == [], result.describe()


@pytest.mark.parametrize("mode", ["swim", "hybrid"])
def test_a_crashed_member_is_detected_by_every_survivor_within_the_bound(
    make_lab: Callable[..., Lab], go_diss: None, mode: str
) -> None:
    result = cells.crash(make_lab(N, mode), victims=[N])
    assert result.expected == N - 1
    assert result.failures == [], result.describe()


@pytest.mark.parametrize("mode", ["swim", "hybrid"])
def test_a_2_3_partition_is_seen_from_both_sides_and_heals_to_all_alive(
    make_lab: Callable[..., Lab], go_diss: None, mode: str
) -> None:
    result = cells.partition(make_lab(N, mode), [{1, 2}, {3, 4, 5}])
    assert result.expected == 2 * 2 * 3
    check(result)


def test_ten_percent_kernel_loss_declares_nobody_failed(make_lab: Callable[..., Lab], go_diss: None) -> None:
    result = cells.loss(make_lab(N, "swim"), 0.10)
    # The loss was real: about 10% of the packets between lab hosts were dropped in the kernel.
    assert result.notes["packets"]["dropped"] > 0
    assert 0.05 < result.notes["link_loss_measured"] < 0.15, result.notes
    assert result.failures == [], result.describe()


def test_a_member_restarted_at_a_new_address_is_back_everywhere_at_that_address(
    make_lab: Callable[..., Lab], go_diss: None
) -> None:
    lab = make_lab(N, "swim")
    result = cells.restart_same_id(lab, N, move=True)
    assert lab.nodes[N].addr.startswith(lab.names.alt_addr(N))
    assert result.expected == N - 1
    check(result)
    assert result.notes["leader"]["id"] == str(N)  # the highest id leads again once it is back


def test_members_join_while_the_first_seed_is_down_and_the_seed_rejoins(
    make_lab: Callable[..., Lab], go_diss: None
) -> None:
    lab = make_lab(N, "hybrid")
    result = cells.seed_down_join(lab, joiners=2)
    assert result.expected == N - 2 - 1  # nodes 2..3 fail the seed
    assert result.notes["joined_s"] is not None
    assert any(ev.get("seed") == lab.nodes[2].addr for k in (4, 5) for ev in lab.nodes[k].events("joined"))
    check(result)


def test_memberlist_runs_in_the_same_lab_and_its_crash_is_detected(make_lab: Callable[..., Lab], ml_node: None) -> None:
    lab = make_lab(N, MEMBERLIST)
    result = cells.crash(lab, victims=[N])
    # memberlist's DefaultLANConfig is swimfd's default SWIM configuration: its bound comes from those values.
    assert result.bound_s == 40.0
    assert result.expected == N - 1
    check(result)
    # Its view is replayed from its delegate's log: the survivors hold the victim dead, everyone else alive.
    view = lab.view(1)
    assert view is not None and {k: view[str(k)] for k in range(1, N + 1)} == {
        **{k: cells.pb.ALIVE for k in range(1, N)},
        N: cells.pb.DEAD,
    }
    assert "leader" not in result.notes  # memberlist has no election
