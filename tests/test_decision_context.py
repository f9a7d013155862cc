"""What a decision job is enriched with at submit time, set-based: ml.signal_vectors (one
PL/Python call per request) gives exactly what ml.signal_vector gives monster by monster, and
ml.pack_keys names each monster's pack as the job records it."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.coordination_helpers import PACK, monster, sync


@pytest.fixture
def game(game_url: str) -> Any:
    with psycopg.connect(game_url, autocommit=True) as conn:
        sync(conn, *PACK)
        yield conn


def test_signal_vectors_equal_the_one_monster_function_row_by_row(game: Any) -> None:
    game.execute("SELECT ml.send_attack_target_signal(1001, 7, 0.9, ARRAY[1002, 1003])")
    game.execute("SELECT ml.send_retreat_signal(1002, 90, 90, 'low hp', ARRAY[1001, 1003])")
    order = [1003, 2001, 1001, 1002]
    vectors = game.execute("SELECT ml.signal_vectors(%s)", (order,)).fetchone()[0]
    assert len(vectors) == len(order)
    for monster_id, vector in zip(order, vectors, strict=True):
        one = game.execute("SELECT ml.signal_vector(%s)", (monster_id,)).fetchone()[0]
        assert vector == one
    assert any(vectors[0])  # 1003 received both signals
    assert not any(vectors[1])  # 2001 nothing


def test_signal_vectors_of_unknown_monsters_are_zeros_and_of_nothing_empty(game: Any) -> None:
    assert game.execute("SELECT ml.signal_vectors(ARRAY[424242])").fetchone()[0] == [[0.0] * 32]
    assert game.execute("SELECT ml.signal_vectors('{}'::int[])").fetchone()[0] == []


def test_pack_keys_name_the_leader_in_request_order(admin: Any, game: Any) -> None:
    # Internal to the submit path (the game server calls ml.request_pack_actions): run as owner.
    keys = admin.execute("SELECT ml.pack_keys(ARRAY[2001, 1003, 1001, 1002], true)").fetchone()[0]
    assert keys == [None, 1001, 1001, 1001]


def test_pack_keys_of_a_pack_of_equals_is_its_lowest_id(admin: Any, game: Any) -> None:
    sync(game, monster(1, 0, 0), monster(2, 50, 50))
    admin.execute(
        """INSERT INTO monster_ai."TEAMMATE_OF" (start_id, end_id)
           SELECT a.vertex_id, b.vertex_id FROM ml.monsters a, ml.monsters b
           WHERE a.id IN (1, 2) AND b.id IN (1, 2) AND a.id <> b.id"""
    )
    assert admin.execute("SELECT ml.pack_keys(ARRAY[2, 1], true)").fetchone()[0] == [1, 1]


def test_pack_keys_of_an_unknown_monster_raise_or_are_null(admin: Any, game: Any) -> None:
    with pytest.raises(psycopg.errors.NoDataFound, match="unknown monster 424242"):
        admin.execute("SELECT ml.pack_keys(ARRAY[1001, 424242], true)")
    keys = admin.execute("SELECT ml.pack_keys(ARRAY[1001, 424242], false)").fetchone()[0]
    assert keys == [1001, None]
