"""plpython/coordination.py on the host: the seed's coordination score, weight by weight."""

from __future__ import annotations

import pytest

from plpython.coordination import CoordinationInputError, coordination_score, has_signal


def test_fully_coordinated_pack_scores_one_and_earns_the_bonus() -> None:
    s = coordination_score([1, 2, 3], [1, 1, 1], [True, True, True], [1, 5, 6])
    assert (s.score, s.bonus) == (1.0, True)
    assert (s.signal_utilization, s.pack_coverage, s.leader_presence, s.action_diversity) == (
        1.0,
        1.0,
        1.0,
        1.0,
    )


def test_weights_are_the_seeds() -> None:
    # signals 1/2, coverage 2/2, leader absent, one distinct action of 2.
    s = coordination_score([2, 3], [1, 1], [True, False], [4, 4])
    assert s.score == pytest.approx(0.4 * 0.5 + 0.3 * 1.0 + 0.2 * 0.0 + 0.1 * 0.5)
    assert s.bonus is False


def test_bonus_starts_exactly_at_the_threshold() -> None:
    # 0.4 * 0.75 + 0.3 * 1 + 0.2 * 0 + 0.1 * 1 = 0.7 (leader 9 is not in the batch).
    at = coordination_score([1, 2, 3, 4], [9] * 4, [True, True, True, False], [0, 1, 2, 3])
    assert (at.score, at.bonus) == (0.7, True)
    below = coordination_score([1, 2, 3, 4], [9] * 4, [True, True, False, False], [0, 1, 2, 3])
    assert (below.score, below.bonus) == (0.6, False)


def test_solo_monsters_have_no_pack_coverage_or_leader() -> None:
    s = coordination_score([1, 2], [None, None], [False, False], [0, 1])
    assert (s.pack_coverage, s.leader_presence, s.score) == (0.0, 0.0, 0.1)


def test_largest_pack_sets_coverage_and_every_pack_counts_for_leaders() -> None:
    s = coordination_score([1, 2, 3, 7], [1, 1, 1, 9], [False] * 4, [0, 0, 0, 0])
    assert s.pack_coverage == 0.75
    assert s.leader_presence == 0.5  # pack 1 has its leader here, pack 9 does not


def test_has_signal() -> None:
    assert has_signal([0.0] * 31 + [0.1])
    assert not has_signal([0.0] * 32)


@pytest.mark.parametrize(
    ("ids", "leaders", "signalled", "actions"),
    [([], [], [], []), ([1, 2], [None], [True, True], [0, 0])],
    ids=["empty", "lengths-differ"],
)
def test_bad_batches_are_refused(
    ids: list[int], leaders: list[int | None], signalled: list[bool], actions: list[int]
) -> None:
    with pytest.raises(CoordinationInputError):
        coordination_score(ids, leaders, signalled, actions)
