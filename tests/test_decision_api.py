"""ml.request_pack_actions: what a good request writes; what each bad one gets (nothing written)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import psycopg
import pytest

from tests.worker_helpers import sync_pack

PACK = [2001, 2002, 2003]


@pytest.fixture
def game(game_url: str) -> Any:
    with psycopg.connect(game_url, autocommit=True) as conn:
        sync_pack(conn, PACK, "tank")
        yield conn


def request(ids: list[int], archetype: str = "tank", state: list[Any] | None = None) -> str:
    return json.dumps(
        {"monsters": [{"id": m, "archetype": archetype, "state": state or [0.1] * 64} for m in ids]}
    )


def jobs(admin: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return admin.execute(
        "SELECT kind, status, monster_ids, pack_leader_ids, array_dims(states), "
        "cardinality(signal_rows) FROM ml.inference_jobs"
    ).fetchall()


def test_request_is_enriched_at_submit_time(game: Any, admin: Any) -> None:
    job = game.execute("SELECT ml.request_pack_actions(%s::jsonb)", (request(PACK),)).fetchone()[0]
    assert job > 0
    rows = jobs(admin)
    assert len(rows) == 1
    kind, status, ids, leaders, state_dims, signal_entries = rows[0]
    assert (kind, status, ids) == ("pack", "pending", PACK)
    assert state_dims == "[1:3][1:64]"
    assert signal_entries == 0  # nobody has sent these monsters a signal
    # Packs are formed in the database (every second for maps that moved, or on demand).
    assert len(leaders) == 3


def test_typed_form_takes_an_n_by_64_array(game: Any, admin: Any) -> None:
    game.execute(
        "SELECT ml.request_pack_actions(%s::int[], %s::text[], %s::real[], 2)",
        (PACK, ["tank"] * 3, [[0.5] * 64 for _ in PACK]),
    )
    assert jobs(admin)[0][2] == PACK


BAD = [
    pytest.param(request([]), "ML005", "request has no monsters", id="empty"),
    pytest.param('{"monsters": 3}', "ML005", '"monsters" array', id="not-an-array"),
    pytest.param('[{"id": 1}]', "ML005", '"monsters" array', id="not-an-object"),
    pytest.param('{"monsters": [{"id": "x", "state": []}]}', "ML005", "each monster", id="bad-id"),
    pytest.param(request(PACK, state=[0.1] * 63), "ML004", "64 numbers", id="63-floats"),
    pytest.param(request(PACK, state=[0.1] * 63 + ["NaN"]), "ML004", "64 numbers", id="nan"),
    pytest.param(request(PACK, state=[0.1] * 63 + [True]), "ML004", "64 numbers", id="boolean"),
    pytest.param(request(PACK, state=[[0.1] * 64]), "ML004", "64 numbers", id="nested"),
    pytest.param(request(PACK, state=[0.1] * 63 + [1e300]), "ML004", "64 numbers", id="overflow"),
    pytest.param('{"monsters": [5]}', "ML005", "each monster", id="element-not-an-object"),
    pytest.param(
        '{"monsters": [{"id": 2001, "archetype": "tank"}]}', "ML005", "each monster", id="no-state"
    ),
    pytest.param(
        '{"monsters": [{"id": 1.5, "archetype": "tank", "state": []}]}',
        "ML005",
        "each monster",
        id="fractional-id",
    ),
    pytest.param(
        request(PACK, archetype="dragon"), "22P02", "unknown archetype 'dragon'", id="archetype"
    ),
    pytest.param(request([2001, 2001]), "23505", "appears twice", id="duplicate"),
    pytest.param(request([2001, 999999]), "P0002", "999999", id="unknown-monster"),
    pytest.param(
        json.dumps({"monsters": json.loads(request(PACK))["monsters"], "priority": 11}),
        "ML002",
        "priority must be between 1 and 10, got 11",
        id="priority",
    ),
]


@pytest.mark.parametrize(("payload", "sqlstate", "message"), BAD)
def test_bad_request_raises_its_sqlstate_and_writes_nothing(
    game: Any, admin: Any, payload: str, sqlstate: str, message: str
) -> None:
    with pytest.raises(psycopg.Error) as raised:
        game.execute("SELECT ml.request_pack_actions(%s::jsonb)", (payload,))
    assert raised.value.sqlstate == sqlstate
    assert message in str(raised.value)
    assert jobs(admin) == []


def test_malformed_json_is_refused_by_postgresql_itself(game: Any, admin: Any) -> None:
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        game.execute("SELECT ml.request_pack_actions('{monsters: [')")
    assert jobs(admin) == []


PACKED = "SELECT ml.request_pack_actions_packed(%s::int[], %s::text[], %s::bytea)"


def test_packed_form_stores_the_bytes_as_they_came(game: Any, admin: Any) -> None:
    """n x 64 float32 little-endian: kept as sent for the worker, no real[] beside it."""
    states = np.arange(3 * 64, dtype="<f4").reshape(3, 64) / 100
    game.execute(PACKED, (PACK, ["tank"] * 3, states.tobytes()))
    ids, array_states, packed, leaders = admin.execute(
        "SELECT monster_ids, states, states_f32, pack_leader_ids FROM ml.inference_jobs"
    ).fetchone()
    assert (ids, array_states, len(leaders)) == (PACK, None, 3)
    np.testing.assert_array_equal(np.frombuffer(packed, dtype="<f4").reshape(3, 64), states)


PACKED_BAD = [
    pytest.param(PACK, b"\0" * (3 * 256 - 4), "ML004",
                 "must be 3 x 64 float32 (768 bytes), got 764", id="63-floats-for-one"),
    pytest.param(PACK, b"\0" * (3 * 256 + 1), "ML004", "got 769 bytes", id="stray-byte"),
    pytest.param(PACK, None, "ML004", "got 0 bytes", id="null"),
    pytest.param([], b"", "ML005", "request has no monsters", id="empty"),
    pytest.param([2001, 999999], b"\0" * 512, "P0002", "999999", id="unknown-monster"),
    pytest.param([2001, 2001], b"\0" * 512, "23505", "appears twice", id="duplicate"),
]  # fmt: skip


@pytest.mark.parametrize(("ids", "states", "sqlstate", "message"), PACKED_BAD)
def test_bad_packed_request_raises_its_sqlstate_and_writes_nothing(
    game: Any, admin: Any, ids: list[int], states: bytes | None, sqlstate: str, message: str
) -> None:
    """The packed form shares the typed form's checks (one body); its own is the byte count.
    A NaN inside the bytes is the worker's to find (tests/test_worker.py)."""
    with pytest.raises(psycopg.Error) as raised:
        game.execute(PACKED, (ids, ["tank"] * len(ids), states))
    assert raised.value.sqlstate == sqlstate
    assert message in str(raised.value)
    assert jobs(admin) == []
