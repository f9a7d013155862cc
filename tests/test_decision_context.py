"""What a decision job is enriched with at submit time, set-based: ml.signal_vectors (one query per
request, over the encodings stored on the signal edges) gives exactly what the encoder module gives
for each monster's live signals, the queue row carries the non-zero entries of those vectors, and
ml.pack_keys names each monster's pack as the job records it."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from plpython.signal_encoding import encode_signals
from tests.coordination_helpers import PACK, monster, sync


@pytest.fixture
def game(game_url: str) -> Any:
    with psycopg.connect(game_url, autocommit=True) as conn:
        sync(conn, *PACK)
        yield conn


#: Monsters the database does not know, to make a request a batch (beyond 16 monsters the pack
#: keys and signal entries are found set-based, up to 16 by probes: both must agree).
UNKNOWN = list(range(900_001, 900_021))
SIZES = [pytest.param([], id="probes"), pytest.param(UNKNOWN, id="batch")]


@pytest.mark.parametrize("padding", SIZES)
def test_signal_vectors_equal_the_encoder_over_each_monsters_live_signals(
    game: Any, admin: Any, padding: list[int]
) -> None:
    """The batch reads each edge's encoding, stored when it was sent; the reference runs the
    encoder module over the monster's live signals: every kind of signal, several on one dimension
    (the strongest wins), and an edge made by hand without its encoding (encoded on the way by the
    same module)."""
    game.execute("SELECT ml.send_attack_target_signal(1001, 7, 0.9, ARRAY[1002, 1003])")
    game.execute(  # the same dimension as the first for 1003, weaker (priority 6)
        "SELECT ml.broadcast_signal(1002, 'attack_target', "
        '\'{"target_id": 8, "threat": 0.95}\', ARRAY[1003], 6)'
    )
    game.execute("SELECT ml.send_retreat_signal(1002, 90, 90, 'low hp', ARRAY[1001, 1003])")
    game.execute("SELECT ml.send_formation_command(1001, 'v_formation', NULL, ARRAY[1002])")
    game.execute("SELECT ml.send_help_request(1003, 0.4, 0.2, 100, 106, ARRAY[1001, 1002])")
    game.execute("SELECT ml.broadcast_signal(1001, 'directive', '{\"directive\": \"hold\"}')")
    game.execute("SELECT ml.broadcast_signal(1002, 'directive', '{\"directive\": \"dance\"}')")
    admin.execute(
        """INSERT INTO monster_ai."SIGNALS" (start_id, end_id, properties)
           SELECT a.vertex_id, b.vertex_id, ag_catalog.agtype_build_map(
               'signal_type', 'help_request', 'content', '{"urgency": 0.5}'::ag_catalog.agtype,
               'priority', 3, 'expires_at', ml.graph_time(now() + interval '1 minute'))
           FROM ml.monsters a, ml.monsters b WHERE a.id = 1001 AND b.id = 1003"""
    )
    order = [1003, 2001, *padding, 1001, 1002]
    vectors = game.execute("SELECT ml.signal_vectors(%s)", (order,)).fetchone()[0]
    assert len(vectors) == len(order)
    for monster_id, vector in zip(order, vectors, strict=True):
        if monster_id in padding:  # unknown: no signals
            assert vector == [0.0] * 32
            continue
        live = game.execute(
            "SELECT signal_type, content, priority FROM ml.receive_signals(%s)", (monster_id,)
        ).fetchall()
        encoded = encode_signals(
            {"signal_type": t, "content": c, "priority": p} for t, c, p in live
        )
        assert vector == pytest.approx(encoded)  # stored as float4
        one = game.execute("SELECT ml.signal_vector(%s)", (monster_id,)).fetchone()[0]
        assert one == vector
    assert any(vectors[0])  # 1003 received both signals
    assert not any(vectors[1])  # 2001 nothing


def test_signal_vectors_of_unknown_monsters_are_zeros_and_of_nothing_empty(game: Any) -> None:
    assert game.execute("SELECT ml.signal_vectors(ARRAY[424242])").fetchone()[0] == [[0.0] * 32]
    assert game.execute("SELECT ml.signal_vectors('{}'::int[])").fetchone()[0] == []


def pack_keys(admin: Any, ids: list[int], must_exist: bool) -> list[int | None]:
    # Internal to the submit path (the game server calls ml.request_pack_actions): run as owner.
    return list(
        admin.execute("SELECT ml.pack_keys(%s::int[], %s)", (ids, must_exist)).fetchone()[0]
    )


@pytest.mark.parametrize("padding", SIZES)
def test_pack_keys_name_the_leader_in_request_order(
    admin: Any, game: Any, padding: list[int]
) -> None:
    keys = pack_keys(admin, [2001, 1003, *padding, 1001, 1002], False)
    assert keys == [None, 1001, *[None] * len(padding), 1001, 1001]


@pytest.mark.parametrize("padding", SIZES)
def test_pack_keys_of_a_pack_of_equals_is_its_lowest_id(
    admin: Any, game: Any, padding: list[int]
) -> None:
    sync(game, monster(1, 0, 0), monster(2, 50, 50))
    admin.execute(
        """INSERT INTO monster_ai."TEAMMATE_OF" (start_id, end_id)
           SELECT a.vertex_id, b.vertex_id FROM ml.monsters a, ml.monsters b
           WHERE a.id IN (1, 2) AND b.id IN (1, 2) AND a.id <> b.id"""
    )
    assert pack_keys(admin, [2, *padding, 1], False) == [1, *[None] * len(padding), 1]


@pytest.mark.parametrize("padding", SIZES)
def test_pack_keys_of_an_unknown_monster_raise_or_are_null(
    admin: Any, game: Any, padding: list[int]
) -> None:
    first_unknown = (padding or [424242])[0]
    with pytest.raises(psycopg.errors.NoDataFound, match=f"unknown monster {first_unknown}"):
        pack_keys(admin, [1001, *padding, 424242], True)
    keys = pack_keys(admin, [1001, *padding, 424242], False)
    assert keys == [1001, *[None] * len(padding), None]


def dense(n: int, rows: list[int], dims: list[int], weights: list[float]) -> list[list[float]]:
    vectors = [[0.0] * 32 for _ in range(n)]
    for row, dim, weight in zip(rows, dims, weights, strict=True):
        vectors[row - 1][dim] = weight
    return vectors


def test_a_job_carries_the_non_zero_entries_of_its_monsters_signal_vectors(
    admin: Any, game: Any
) -> None:
    game.execute("SELECT ml.send_attack_target_signal(1001, 7, 0.9, ARRAY[1002, 1003])")
    game.execute("SELECT ml.send_retreat_signal(1002, 90, 90, 'low hp', ARRAY[1001, 1003])")
    order = [1003, 1001, 1002]
    game.execute(
        "SELECT ml.request_pack_actions(%s::int[], %s::text[], %s::real[])",
        (order, ["tank"] * 3, [[0.5] * 64 for _ in order]),
    )
    expected = game.execute("SELECT ml.signal_vectors(%s)", (order,)).fetchone()[0]
    [(n, *entries)] = admin.execute(
        "SELECT cardinality(monster_ids), signal_rows, signal_dims, signal_weights "
        "FROM ml.inference_jobs ORDER BY id"
    ).fetchall()
    assert dense(n, *entries) == expected
    assert 0 < len(entries[0]) < 3 * 32  # only the non-zero entries


def test_gateway_requests_carry_no_pack_and_no_signals(admin: Any, game: Any) -> None:
    """A gateway request's monster_id is the mob's type id (the rAthena gateway writes it into
    both monster_id and mob_id), shared by every monster of the type: nothing is looked up by it.
    Even where monsters with those ids are in a pack and hear signals, each gateway job carries no
    signal entries and no pack leader, whether the gateway sends one row to a statement or many."""
    game.execute("SELECT ml.send_attack_target_signal(1001, 7, 0.9, ARRAY[1002, 1003])")
    game.execute("SELECT ml.send_retreat_signal(1002, 90, 90, 'low hp', ARRAY[1001, 1003])")
    assert admin.execute("SELECT ml.pack_keys(ARRAY[1003], false)").fetchone()[0] == [1001]
    ids = [1003, UNKNOWN[0], 1001, 1002, *UNKNOWN[1:]]  # 23 rows to one statement at the end
    insert = (
        "INSERT INTO ai_requests (monster_id, mob_id, archetype, state_vector, map_id, "
        "position_x, position_y, hp_ratio, sp_ratio, status, priority) "
        "SELECT m, m, 'tank', ARRAY[0.5]::REAL[], 0, 0, 0, 0.8, 0.5, 'pending', 5 "
        "FROM unnest(%s::int[]) WITH ORDINALITY AS u(m, o) ORDER BY o"
    )
    for monster_id in ids[:4]:
        game.execute(insert, ([monster_id],))
    game.execute(insert, (ids,))
    jobs = admin.execute(
        "SELECT monster_ids[1], signal_rows, signal_dims, signal_weights, pack_leader_ids "
        "FROM ml.inference_jobs WHERE kind = 'gateway' ORDER BY id"
    ).fetchall()
    assert [job[0] for job in jobs] == ids[:4] + ids
    assert all(tuple(job[1:]) == ([], [], [], [None]) for job in jobs)
