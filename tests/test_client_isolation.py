"""No game-server session can stall the others or the worker, and what the gateway's role may
write is what the gateway writes.

Each hostile session below is the game server's own role (ml_user) doing what its grants allowed
before revision 0011: holding the submit fence's advisory lock (every submit waited), holding a
map's formation lock, and holding gateway requests FOR UPDATE in an open transaction (the worker's
answer statement waited, and with it every pack and gateway answer).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import errors

from tests.worker_helpers import (
    deploy_actor,
    gateway_insert,
    request_pack,
    sync_pack,
    wait_until,
    worker_process,
)

STATE = [0.25] * 64
ADVISORY_LOCKS = [
    "SELECT pg_advisory_lock(hashtext('ml.inference_jobs fence'))",
    "SELECT pg_advisory_lock_shared(hashtext('ml.inference_jobs fence'))",
    "SELECT pg_try_advisory_lock(hashtext('ml.inference_jobs fence'))",
    "SELECT pg_advisory_xact_lock(1)",
    "SELECT pg_try_advisory_xact_lock_shared(1)",
    "SELECT pg_advisory_lock(1, 1)",
]

CHOSEN_BY_THE_CALLER = [
    "INSERT INTO ai_requests (request_id, monster_id, mob_id, archetype, state_vector, map_id, "
    "position_x, position_y, hp_ratio, sp_ratio, status, priority) VALUES (999999, 1, 1, 'tank', "
    "ARRAY[0.1]::real[], 1, 1, 1, 0.5, 0.5, 'pending', 5)",
    "INSERT INTO ai_requests (created_at, monster_id, mob_id, archetype, state_vector, map_id, "
    "position_x, position_y, hp_ratio, sp_ratio, status, priority) VALUES ('2000-01-01', 1, 1, "
    "'tank', ARRAY[0.1]::real[], 1, 1, 1, 0.5, 0.5, 'pending', 5)",
]


@pytest.fixture
def game(game_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(game_url, autocommit=True) as conn:
        yield conn


@pytest.mark.parametrize("statement", ADVISORY_LOCKS)
def test_game_role_cannot_take_an_advisory_lock(
    game: psycopg.Connection[Any], statement: str
) -> None:
    # The fence's key and each map's formation key are the product's; no client may hold one.
    with pytest.raises(errors.InsufficientPrivilege):
        game.execute(statement)


def test_game_role_sessions_have_limits(admin: psycopg.Connection[Any]) -> None:
    row = admin.execute(
        "SELECT rolconnlimit, rolconfig FROM pg_roles WHERE rolname = 'ml_user'"
    ).fetchone()
    assert row is not None
    limit, config = row
    assert limit > 0
    settings = dict(item.split("=", 1) for item in config)
    for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"):
        assert settings.get(name, "0") not in ("0", ""), name


#: What a game-server session may do to a queued request and then keep its transaction open with:
#: lock it (its UPDATE (status) grant allows FOR UPDATE), or run the gateway's own timeout UPDATE.
HOLDS = [
    pytest.param("SELECT * FROM ai_requests WHERE request_id = %s FOR UPDATE", id="for-update"),
    pytest.param(
        "UPDATE ai_requests SET status = 'timeout' WHERE request_id = %s", id="timeout-update"
    ),
]


@pytest.mark.parametrize("hold", HOLDS)
def test_a_client_holding_a_request_stalls_no_answer(
    db_url: str, worker_url: str, game_url: str, game: psycopg.Connection[Any], hold: str
) -> None:
    deploy_actor(db_url, "aggressive", "v1")
    sync_pack(game, [7001, 7002], "aggressive")
    held = gateway_insert(game, 7001, STATE)
    with psycopg.connect(game_url) as hostile:
        hostile.execute(hold.encode(), (held,))
        with worker_process(worker_url):
            other = gateway_insert(game, 7002, STATE)
            job = request_pack(game, [7001, 7002], "aggressive")

            def answered() -> bool:
                responses = game.execute(
                    "SELECT count(*) FROM ai_responses WHERE request_id = ANY(%s)",
                    ([held, other],),
                ).fetchone()
                result = game.execute("SELECT ml.decision_result(%s)->>'status'", (job,))
                return responses == (2,) and result.fetchone() == ("done",)

            # Every answer is written while the lock is held, the locked request's included.
            assert wait_until(answered, timeout_s=20)
            statuses = dict(
                game.execute(
                    "SELECT request_id, status FROM ai_requests WHERE request_id = ANY(%s)",
                    ([held, other],),
                ).fetchall()
            )
            assert statuses == {held: "pending", other: "completed"}
            hostile.rollback()

            # Released, the held request's status follows its answer on a later round.
            def settled() -> bool:
                gateway_insert(game, 7002, STATE)
                row = game.execute("SELECT status FROM ai_requests WHERE request_id = %s", (held,))
                return row.fetchone() == ("completed",)

            assert wait_until(settled, timeout_s=20, every_s=0.2)


def test_gateway_inserts_only_its_own_columns(game: psycopg.Connection[Any]) -> None:
    # Choosing request_id broke the next legitimate INSERT (23505); back-dating created_at made a
    # request look late, or old enough to purge.
    for statement in CHOSEN_BY_THE_CALLER:
        with pytest.raises(errors.InsufficientPrivilege):
            game.execute(statement)
    assert gateway_insert(game, 1, STATE) > 0


def test_gateway_moves_a_request_only_from_pending_to_timeout(
    game: psycopg.Connection[Any],
) -> None:
    request = gateway_insert(game, 1, STATE)
    update = "UPDATE ai_requests SET status = %s WHERE request_id = %s"
    for status in ("completed", "failed", "processing"):
        with pytest.raises(errors.InsufficientPrivilege):
            game.execute(update, (status, request))
    game.execute(update, ("timeout", request))
    with pytest.raises(errors.InsufficientPrivilege):
        game.execute(update, ("pending", request))
    row = game.execute("SELECT status FROM ai_requests WHERE request_id = %s", (request,))
    assert row.fetchone() == ("timeout",)


def test_gateway_timeout_of_an_answered_request_leaves_it_answered(
    admin: psycopg.Connection[Any], game: psycopg.Connection[Any]
) -> None:
    # The gateway times a request out after its last poll; the answer may have come in between
    # (seen under the legacy benchmark's load). Its UPDATE succeeds and changes nothing.
    request = gateway_insert(game, 1, STATE)
    admin.execute("UPDATE ai_requests SET status = 'completed' WHERE request_id = %s", (request,))
    updated = game.execute(
        "UPDATE ai_requests SET status = 'timeout' WHERE request_id = %s", (request,)
    )
    assert updated.rowcount == 0
    row = game.execute("SELECT status FROM ai_requests WHERE request_id = %s", (request,))
    assert row.fetchone() == ("completed",)
