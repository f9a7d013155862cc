"""ml.request_pack_actions: what a good request writes; what each bad one gets (nothing written)."""

from __future__ import annotations

import json
from typing import Any

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
