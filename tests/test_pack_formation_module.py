"""plpython/pack_formation.py on the host: the rules ml.form_packs applies, case by case."""

from __future__ import annotations

import pytest

from plpython.pack_formation import (
    FormationConfig,
    Monster,
    Pack,
    cell_distance,
    current_packs_from_edges,
    form_packs,
    pack_edges,
)

CONFIG = FormationConfig(radius=10, min_size=2, max_size=5)


def m(id_: int, x: int, y: int, score: float = 0.5, alive: bool = True) -> Monster:
    return Monster(id_, x, y, score, alive)


def test_distance_is_rathena_cell_distance() -> None:
    assert cell_distance(m(1, 0, 0), m(2, 10, 7)) == 10
    assert cell_distance(m(1, 5, 5), m(2, 5, 5)) == 0


def test_nearby_monsters_form_one_pack_led_by_the_highest_score() -> None:
    monsters = [m(1, 100, 100, 0.4), m(2, 105, 100, 0.9), m(3, 100, 110, 0.5)]
    assert form_packs(monsters, [], CONFIG) == [Pack(2, (1, 3))]


def test_ties_go_to_the_lower_id() -> None:
    assert form_packs([m(7, 0, 0, 0.5), m(3, 1, 1, 0.5)], [], CONFIG) == [Pack(3, (7,))]


def test_radius_is_inclusive_and_measured_from_the_leader() -> None:
    # 3 is 10 cells from the leader (in) though 20 from 2; 4 is 11 cells away (out).
    monsters = [m(1, 10, 10, 0.9), m(2, 0, 10), m(3, 20, 10), m(4, 21, 10)]
    packs = form_packs(monsters, [], CONFIG)
    assert packs[0] == Pack(1, (2, 3))
    assert 4 not in packs[0].member_ids


def test_pack_never_exceeds_max_size_and_keeps_the_nearest() -> None:
    monsters = [m(1, 50, 50, 0.9)] + [m(10 + i, 50 + i, 50) for i in range(1, 7)]
    packs = form_packs(monsters, [], CONFIG)
    assert packs[0] == Pack(1, (11, 12, 13, 14))
    assert [p.member_ids for p in packs[1:]] == [(15, 16)]  # the rest pack up on their own


def test_lone_monster_and_dead_monsters_form_no_pack() -> None:
    assert form_packs([m(1, 0, 0)], [], CONFIG) == []
    assert form_packs([m(1, 0, 0), m(2, 1, 1, alive=False)], [], CONFIG) == []


def test_existing_pack_is_kept_when_a_stronger_stranger_arrives() -> None:
    current = [{1, 2}]
    monsters = [m(1, 0, 0, 0.6), m(2, 2, 0, 0.5), m(3, 1, 1, 0.9)]
    # 3 outranks the leader, so it does not join; alone in reach of nobody free, it stays solo.
    assert form_packs(monsters, current, CONFIG) == [Pack(1, (2,))]


def test_free_monster_joins_a_pack_with_room_whose_leader_outranks_it() -> None:
    current = [{1, 2}]
    monsters = [m(1, 0, 0, 0.9), m(2, 2, 0, 0.5), m(3, 5, 5, 0.4)]
    assert form_packs(monsters, current, CONFIG) == [Pack(1, (2, 3))]


def test_leader_death_promotes_the_next_best_member() -> None:
    current = [{1, 2, 3}]
    monsters = [m(1, 0, 0, 0.9, alive=False), m(2, 3, 0, 0.7), m(3, 6, 0, 0.5)]
    assert form_packs(monsters, current, CONFIG) == [Pack(2, (3,))]


def test_pack_under_min_size_dissolves() -> None:
    current = [{1, 2}]
    assert form_packs([m(1, 0, 0, 0.9), m(2, 0, 0, alive=False)], current, CONFIG) == []
    assert form_packs([m(1, 0, 0, 0.9)], current, CONFIG) == []  # 2 despawned


def test_member_that_moves_out_of_reach_leaves() -> None:
    current = [{1, 2, 3}]
    monsters = [m(1, 0, 0, 0.9), m(2, 5, 0), m(3, 40, 40)]
    assert form_packs(monsters, current, CONFIG) == [Pack(1, (2,))]


def test_sticky_packs_do_not_swap_members_between_neighbouring_packs() -> None:
    # Fresh formation would put all four under leader 1; the existing packs keep their members.
    current = [{1, 2}, {4, 3}]
    monsters = [m(1, 0, 0, 0.9), m(2, 1, 0, 0.1), m(3, 2, 0, 0.2), m(4, 9, 0, 0.8)]
    assert form_packs(monsters, current, CONFIG) == [Pack(1, (2,)), Pack(4, (3,))]


def test_edges_lead_follow_back_and_link_followers_both_ways() -> None:
    monsters = {1: m(1, 0, 0, 0.9), 2: m(2, 1, 0, 0.5), 3: m(3, 2, 0, 0.9)}
    edges = pack_edges([Pack(1, (2, 3))], monsters)
    assert edges.leads == {(1, 2): 0.4, (1, 3): 0.0}  # 3 ties with its leader: id broke the tie
    assert edges.follows == {(2, 1), (3, 1)}
    assert edges.teammates == {(2, 3), (3, 2)}


def test_current_packs_read_back_from_edges() -> None:
    groups = current_packs_from_edges([(1, 2), (1, 3), (9, 8)], [(2, 3), (3, 2), (5, 6)])
    assert sorted(sorted(g) for g in groups) == [[1, 2, 3], [5, 6], [8, 9]]


@pytest.mark.parametrize(("min_size", "max_size"), [(1, 5), (3, 2)])
def test_config_is_checked(min_size: int, max_size: int) -> None:
    with pytest.raises(ValueError, match="min_size"):
        FormationConfig(radius=10, min_size=min_size, max_size=max_size)
