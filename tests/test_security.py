"""Privilege escalation: the game server's role (ml_user) never runs anything as another role.

The attack (reproduced against revision 0010, where it ran a caller's function as the owner, a
superuser): PostgreSQL searches pg_temp first for types and relations unless a function's
search_path names pg_temp, so a session that may create temporary objects makes pg_temp domains
named like the types a SECURITY DEFINER body casts to (text, jsonb, bytea, ...), each with a CHECK
that calls a function of its own; the definer's body then runs that function as the definer's owner.
Three defences, each tested: every ml function pins pg_temp last (or binds its names when created),
PUBLIC may not create temporary objects in the database, and every definer function is owned by
ml_definer, which is no superuser.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import psycopg
import pytest
from psycopg import errors, sql
from psycopg.types.json import Jsonb

from scripts.migrate import downgrade
from tests.coordination_helpers import monster
from tests.ctde_helpers import make_episode
from tests.test_experience import (
    RECORD_EXPERIENCE,
    experience_args,
    experience_params,
    random_dataset,
)
from tests.test_pack_episodes import RECORD, record_args
from tests.zoo_helpers import deploy_untrained_zoo

#: Types a definer body names that the grammar does not bind to pg_catalog by itself (unlike
#: integer, real, boolean, bigint, numeric...): a pg_temp domain of the same name would win.
SHADOWED_TYPES = [
    "pg_catalog.text",
    "pg_catalog.jsonb",
    "pg_catalog.json",
    "pg_catalog.bytea",
    "pg_catalog.bool",
    "pg_catalog.int2",
    "pg_catalog.int4",
    "pg_catalog.int8",
    "pg_catalog.float4",
    "pg_catalog.float8",
    "pg_catalog.timestamptz",
    "pg_catalog.regclass",
    "pg_catalog.name",
    "pg_catalog.oid",
    "ag_catalog.agtype",
    "ag_catalog.graphid",
]
STATE = [0.25] * 64
GATEWAY_INSERT = (
    "INSERT INTO ai_requests (monster_id, mob_id, archetype, state_vector, map_id, position_x, "
    "position_y, hp_ratio, sp_ratio, status, priority) VALUES (1001, 1002, 'aggressive', "
    "%s::real[], 1, 100, 100, 0.5, 0.5, 'pending', 5)"
)


def api_calls() -> list[tuple[str, tuple[Any, ...]]]:
    """One valid call of every entry point ml_user has (test_every_entry_point_is_attacked
    checks the list against the grants), and the gateway's INSERT with its queuing trigger."""
    episode = make_episode(pack_id=7, n_agents=2, steps=2, seed=1)
    states = [list(STATE), list(STATE)]
    return [
        ("SELECT ml.sync_monsters(%s)", (Jsonb([monster(1001, 100, 100, 0.9)]),)),
        (
            "SELECT ml.sync_monsters(%s::integer[], %s::integer[], %s::text[], %s::integer[], "
            "%s::integer[], %s::integer[], %s::float8[], %s::float8[], %s::real[])",
            ([1002], [1002], ["tank"], [1], [101], [100], [1.0], [0.5], [STATE]),
        ),
        ("SELECT ml.form_packs(ARRAY[1])", ()),
        ("SELECT * FROM ml.get_monster_team(1001)", ()),
        ("SELECT * FROM ml.detect_pack_formation(ARRAY[1001, 1002])", ()),
        (
            "SELECT ml.broadcast_signal(1001, 'directive', %s, NULL, 2)",
            (Jsonb({"directive": "hold"}),),
        ),
        ("SELECT ml.send_attack_target_signal(1001, 5001, 0.9, ARRAY[1002])", ()),
        ("SELECT ml.send_retreat_signal(1001, 150, 200, 'outnumbered', ARRAY[1002])", ()),
        ("SELECT ml.send_formation_command(1001, 'flanking', %s, ARRAY[1002])", (Jsonb({}),)),
        ("SELECT ml.send_help_request(1002, 0.9, 0.2, 150, 200, ARRAY[1001])", ()),
        ("SELECT * FROM ml.receive_signals(1002)", ()),
        ("SELECT ml.signal_vector(1002)", ()),
        ("SELECT ml.signal_vectors(ARRAY[1001, 1002])", ()),
        ("SELECT * FROM ml.coordination_score(ARRAY[1001, 1002], ARRAY[1, 2])", ()),
        ("SELECT ml.expire_signals()", ()),
        (RECORD, tuple(record_args(episode))),
        (RECORD_EXPERIENCE, tuple(experience_params(experience_args(random_dataset(2))))),
        (
            "SELECT ml.request_pack_actions(%s::integer[], %s::text[], %s::real[], 5)",
            ([1001, 1002], ["aggressive", "tank"], states),
        ),
        (
            "SELECT ml.request_pack_actions(%s)",
            (Jsonb({"monsters": [{"id": 1001, "archetype": "aggressive", "state": STATE}]}),),
        ),
        (
            "SELECT ml.request_pack_actions_packed(%s, %s, %s, 5)",
            ([1001], ["aggressive"], np.asarray([STATE], dtype="<f4").tobytes()),
        ),
        (
            "SELECT * FROM ml.decide_pack(%s::integer[], %s::text[], %s::real[])",
            ([1001, 1002], ["aggressive", "tank"], states),
        ),
        (
            "SELECT * FROM ml.decide_pack(%s)",
            (Jsonb({"monsters": [{"id": 1001, "archetype": "aggressive", "state": STATE}]}),),
        ),
        (
            "SELECT * FROM ml.decide_pack_packed(%s, %s, %s)",
            ([1001], ["aggressive"], np.asarray([STATE], dtype="<f4").tobytes()),
        ),
        ("SELECT ml.decision_result(1)", ()),
        ("SELECT * FROM ml.decision_actions(1)", ()),
        ("SELECT ml.cancel_decision(2)", ()),
        ("SELECT ml.all_finite(ARRAY[1.0]::real[])", ()),
        ("SELECT * FROM ml.explain_state(%s::real[])", (STATE,)),
        (GATEWAY_INSERT, (STATE,)),
        (
            "SELECT * FROM ml.ask_model('sac', %s::text[], %s::real[], %s::integer[], true)",
            (["aggressive"], [STATE], [1001]),
        ),
        ("SELECT ml.despawn_monster(1002)", ()),
    ]


def game_role_functions(admin: psycopg.Connection[Any]) -> set[str]:
    rows = admin.execute(
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'ml' AND has_function_privilege('ml_user', p.oid, 'EXECUTE')"
    ).fetchall()
    return {name for (name,) in rows}


@pytest.fixture
def attacker(db_url: str, game_url: str, admin: psycopg.Connection[Any]) -> Iterator[Any]:
    """ml_user's session with the attack armed: pg_temp domains over every shadowed type whose
    CHECK reports the role it runs as. TEMP is granted back to ml_user for this (the database
    refuses it by default), so the pinned search_path is tested on its own. Decisions are made
    inline (serving.mode 'inline'), so the database's own inference runs under the attack too, and
    a zoo model is deployed for ml.ask_model."""
    dbname = urlsplit(db_url).path.lstrip("/")
    admin.execute("UPDATE ml.config SET value = '\"inline\"' WHERE key = 'serving.mode'")
    deploy_untrained_zoo(db_url, "aggressive", "sac", "attack1")  # ml.ask_model answers
    admin.execute(
        sql.SQL("GRANT TEMPORARY ON DATABASE {} TO ml_user").format(sql.Identifier(dbname))
    )
    with psycopg.connect(game_url, autocommit=True) as conn:
        seen: list[str] = []
        conn.add_notice_handler(
            lambda notice: (
                seen.append(notice.message_primary or "")
                if (notice.message_primary or "").startswith("ran as ")
                else None
            )
        )
        conn.execute(
            "CREATE FUNCTION pg_temp.report_role() RETURNS boolean LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE NOTICE 'ran as %', current_user; RETURN true; END $$"
        )
        for qualified in SHADOWED_TYPES:
            name = qualified.split(".")[1]
            conn.execute(
                sql.SQL("CREATE DOMAIN pg_temp.{} AS {} CHECK (pg_temp.report_role())").format(
                    sql.Identifier(name), sql.SQL(qualified)
                )
            )
        # The armed session itself trips its domains: the attack is live.
        conn.execute("SELECT 'x'::text")
        assert seen == ["ran as ml_user"]
        seen.clear()
        yield conn, seen


def run_every_call(conn: psycopg.Connection[Any]) -> list[str]:
    failures = []
    for statement, params in api_calls():
        try:
            conn.execute(statement.encode(), params)
        except psycopg.Error as exc:
            failures.append(f"{statement[:60]}: {exc.sqlstate} {exc}")
    return failures


def test_every_entry_point_is_attacked(admin: psycopg.Connection[Any]) -> None:
    called = {
        statement.split("ml.")[1].split("(")[0]
        for statement, _ in api_calls()
        if "ml." in statement
    }
    # decision_json is SECURITY INVOKER (it runs as its caller, whatever it names).
    assert game_role_functions(admin) - {"decision_json"} <= called


def test_privilege_escalation_through_pg_temp_types_runs_nothing_as_another_role(
    attacker: Any,
) -> None:
    conn, seen = attacker
    failures = run_every_call(conn)
    assert failures == []
    assert set(seen) <= {"ran as ml_user"}


def test_privilege_escalation_reached_the_owner_before_revision_0011(
    db_url: str, attacker: Any
) -> None:
    # The same attack against the definitions of revision 0010: the owner runs the caller's code
    # (what this test file guards against; kept so the attack above is known to be real).
    conn, seen = attacker
    downgrade(db_url, "0010")
    run_every_call(conn)
    assert "ran as ml_admin" in seen


def test_game_role_cannot_create_temporary_objects(game_url: str) -> None:
    with psycopg.connect(game_url, autocommit=True) as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("CREATE TEMP TABLE mine (x int)")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("CREATE DOMAIN pg_temp.text AS pg_catalog.text")


def test_every_function_pins_search_path_with_pg_temp_last(admin: psycopg.Connection[Any]) -> None:
    # Allowed without a pinned search_path: SQL-standard bodies (BEGIN ATOMIC / RETURN), whose names
    # are bound when the function is created; and a procedure that commits (PostgreSQL refuses
    # COMMIT under a SET clause) that runs as its caller and that no product role may call.
    rows = admin.execute(
        "SELECT p.oid::regprocedure::text, "
        "       (SELECT c FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%%') "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'ml' AND p.prosqlbody IS NULL "
        "  AND NOT (p.prokind = 'p' AND NOT p.prosecdef "
        "           AND NOT has_function_privilege('ml_user', p.oid, 'EXECUTE') "
        "           AND NOT has_function_privilege('ml_worker', p.oid, 'EXECUTE'))"
    ).fetchall()
    assert len(rows) > 50
    unpinned = [name for name, path in rows if path is None or not path.endswith(", pg_temp")]
    assert unpinned == []


def test_definer_functions_are_owned_by_a_role_that_is_no_superuser(
    admin: psycopg.Connection[Any],
) -> None:
    owners = admin.execute(
        "SELECT DISTINCT pg_get_userbyid(p.proowner) FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'ml' AND p.prosecdef"
    ).fetchall()
    assert owners == [("ml_definer",)]
    role = admin.execute(
        "SELECT rolsuper, rolcanlogin, rolcreaterole, rolcreatedb, rolbypassrls "
        "FROM pg_roles WHERE rolname = 'ml_definer'"
    ).fetchone()
    assert role == (False, False, False, False, False)
    # The modules it runs are Python inside the server: only the migrations write them.
    assert admin.execute(
        "SELECT has_table_privilege('ml_definer', 'ml.plpython_modules', 'INSERT, UPDATE, DELETE')"
    ).fetchone() == (False,)
