"""What the game server's role (ml_user) may and may not do, each case asserted."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import errors

GATEWAY_INSERT = (
    "INSERT INTO ai_requests (monster_id, mob_id, archetype, state_vector, map_id, position_x, "
    "position_y, hp_ratio, sp_ratio, status, priority) VALUES (1, 1002, 'aggressive', "
    "ARRAY[0.1, 0.2]::REAL[], 1, 10, 20, 0.5, 0.5, 'pending', 5) RETURNING request_id"
)


@pytest.fixture
def game(game_url: str) -> Any:
    with psycopg.connect(game_url, autocommit=True) as conn:
        yield conn


def test_search_path_shows_api_first_and_ag_catalog_last(game: psycopg.Connection[Any]) -> None:
    row = game.execute("SELECT current_schemas(false)").fetchone()
    assert row is not None
    assert row[0][0] == "ml"
    assert row[0][-1] == "ag_catalog"


def test_gateway_protocol_is_allowed(game: psycopg.Connection[Any]) -> None:
    row = game.execute(GATEWAY_INSERT).fetchone()
    assert row is not None
    request_id = row[0]
    poll = "SELECT action_id, confidence FROM ai_responses WHERE request_id = %s LIMIT 1"
    assert game.execute(poll, (request_id,)).fetchall() == []
    game.execute("UPDATE ai_requests SET status = 'timeout' WHERE request_id = %s", (request_id,))
    status = game.execute("SELECT status FROM ai_requests WHERE request_id = %s", (request_id,))
    assert status.fetchone() == ("timeout",)


FORBIDDEN = [
    pytest.param(
        "UPDATE ai_requests SET archetype = 'tank'",
        errors.InsufficientPrivilege,
        id="rewrite-request",
    ),
    pytest.param("DELETE FROM ai_requests", errors.InsufficientPrivilege, id="delete-requests"),
    pytest.param(
        "INSERT INTO ai_responses (request_id, action_id, confidence) VALUES (1, 1, 0.5)",
        errors.InsufficientPrivilege,
        id="forge-response",
    ),
    pytest.param(
        "INSERT INTO ml_models (archetype, model_type, model_name, version) "
        "VALUES ('tank', 'x', 'x', '1')",
        errors.InsufficientPrivilege,
        id="write-registry",
    ),
    pytest.param("SELECT * FROM ml_models", errors.InsufficientPrivilege, id="read-registry"),
    pytest.param(
        "SELECT * FROM ml_pack_episodes", errors.InsufficientPrivilege, id="read-episodes"
    ),
    pytest.param(
        "DELETE FROM ml_coordination_logs", errors.InsufficientPrivilege, id="erase-signal-log"
    ),
    pytest.param(
        'SELECT * FROM monster_ai."Monster"', errors.InsufficientPrivilege, id="graph-table"
    ),
    pytest.param(
        "SELECT * FROM cypher('monster_ai', $$ MATCH (m:Monster) RETURN m $$) AS (m agtype)",
        errors.InsufficientPrivilege,
        id="graph-cypher",
    ),
    pytest.param("CREATE TABLE ml.mine (x int)", errors.InsufficientPrivilege, id="create-in-ml"),
    pytest.param(
        "CREATE TABLE public.mine (x int)", errors.InsufficientPrivilege, id="create-public"
    ),
    pytest.param(
        "SELECT ml.plpython_bootstrap()", errors.InsufficientPrivilege, id="internal-func"
    ),
    pytest.param("SELECT * FROM ml.plpython_modules", errors.InsufficientPrivilege, id="modules"),
]


@pytest.mark.parametrize(("statement", "error"), FORBIDDEN)
def test_game_role_cannot(
    game: psycopg.Connection[Any], statement: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        game.execute(statement.encode())


def test_worker_cannot_deploy_through_the_graph_or_rewrite_requests(worker_url: str) -> None:
    with psycopg.connect(worker_url, autocommit=True) as worker:
        with pytest.raises(errors.InsufficientPrivilege):
            worker.execute("UPDATE ai_requests SET archetype = 'tank'")
        with pytest.raises(errors.InsufficientPrivilege):
            worker.execute('DELETE FROM monster_ai."Monster"')
