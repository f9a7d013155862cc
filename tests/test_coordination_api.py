"""The coordination API as a whole: settings from the YAML, the coordination score, diagnostics
views, what ml_user may call, and the pg_cron jobs (scheduled only where pg_cron lives)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import yaml
from psycopg import errors

from config.settings import load_settings
from migrations.objects import REPO_ROOT, SQL_DIR, drop_statement
from tests.coordination_helpers import PACK, T0, advance, monster, set_clock, sync

#: Every function the game server calls, with arguments that succeed once PACK is synced.
API_CALLS = [
    "SELECT ml.sync_monsters('[]'::jsonb)",
    "SELECT ml.sync_monsters('{}'::int[], '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}')",
    "SELECT * FROM ml.get_monster_team(1001)",
    "SELECT * FROM ml.detect_pack_formation(ARRAY[1001, 1002])",
    "SELECT ml.form_packs(ARRAY[1])",
    "SELECT ml.broadcast_signal(1001, 'directive', '{\"directive\": \"hold\"}')",
    "SELECT ml.send_attack_target_signal(1001, 5001, 0.9, ARRAY[1002, 1003])",
    "SELECT ml.send_retreat_signal(1001, 150, 200, 'outnumbered', ARRAY[1002])",
    "SELECT ml.send_formation_command(1001, 'flanking', '{\"1002\": [145, 195]}', ARRAY[1002])",
    "SELECT ml.send_help_request(1002, 0.9, 0.2, 150, 200, ARRAY[1001])",
    "SELECT * FROM ml.receive_signals(1002)",
    "SELECT ml.signal_vector(1002)",
    "SELECT ml.expire_signals()",
    "SELECT * FROM ml.coordination_score(ARRAY[1001, 1002], ARRAY[1, 2])",
    "SELECT ml.despawn_monster(2001)",
]

FORBIDDEN = [
    "SELECT * FROM ml.monsters",
    "SELECT * FROM ml.config",
    "SELECT * FROM ml.packs",
    "SELECT * FROM ml.live_signals",
    'SELECT * FROM monster_ai."SIGNALS"',
    "SELECT ml.deliver_signal(1001, 'retreat', '{}', NULL, 1)",
    "SELECT ml.upsert_monsters('{}')",
    "SELECT * FROM ml.check_signal('retreat', '{}', 1)",
    "SELECT ml.write_pack_edges('{}', '{}', '{}', '{}', '{}', '{}')",
    "CALL ml.form_dirty_packs()",
    "UPDATE ml.config SET value = '1'",
]


@pytest.fixture
def game(game_url: str, admin: psycopg.Connection[Any]) -> Any:
    sync(admin, *PACK)
    with psycopg.connect(game_url, autocommit=True) as conn:
        yield conn


def test_config_holds_the_yaml_values(admin: psycopg.Connection[Any]) -> None:
    document = yaml.safe_load((REPO_ROOT / "config" / "ctde_config.yaml").read_text())
    rows = dict(admin.execute("SELECT key, value FROM ml.config").fetchall())
    assert rows["pack_formation.radius"] == document["pack_formation"]["radius"] == 10
    assert rows["pack_formation.min_size"] == 2
    assert rows["pack_formation.max_size"] == 5
    assert rows["signals.signal_range"] == 15
    assert rows["signals.default_ttl_seconds"] == 5
    assert rows["signals.ttl_seconds.retreat"] == document["signals"]["ttl_seconds"]["retreat"]
    assert rows["ctde.inference.coordination_threshold"] == 0.7


def test_missing_setting_is_an_installation_error(admin: psycopg.Connection[Any]) -> None:
    admin.execute("DELETE FROM ml.config WHERE key = 'signals.signal_range'")
    sync(admin, *PACK)
    with pytest.raises(errors.ConfigFileError, match=r"no numeric setting 'signals\.signal_range'"):
        admin.execute("SELECT ml.broadcast_signal(1001, 'retreat', '{}')")


@pytest.mark.parametrize("statement", API_CALLS)
def test_game_role_calls_the_api(game: psycopg.Connection[Any], statement: str) -> None:
    game.execute(statement.encode()).fetchall()


@pytest.mark.parametrize("statement", FORBIDDEN)
def test_game_role_reaches_state_and_graph_only_through_the_api(
    game: psycopg.Connection[Any], statement: str
) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        game.execute(statement.encode())


def test_api_functions_are_security_definer_with_a_fixed_search_path(
    admin: psycopg.Connection[Any],
) -> None:
    names = sorted({s.split("ml.")[1].split("(")[0] for s in API_CALLS})
    rows = admin.execute(
        "SELECT p.proname, p.prosecdef, array_to_string(p.proconfig, ',') FROM pg_proc p"
        " WHERE p.pronamespace = 'ml'::regnamespace AND p.proname = ANY(%s)",
        (names,),
    ).fetchall()
    assert sorted({r[0] for r in rows}) == names
    for name, definer, config in rows:
        assert definer, name
        assert "search_path=ml, pg_catalog, ag_catalog, pg_temp" in config, name


def test_coordination_score_in_sql_is_the_modules(admin: psycopg.Connection[Any]) -> None:
    set_clock(admin, T0)
    sync(admin, *PACK)
    admin.execute("SELECT ml.send_attack_target_signal(1001, 5001, 0.9, ARRAY[1002, 1003])")
    row = admin.execute(
        "SELECT * FROM ml.coordination_score(ARRAY[1001, 1002, 1003], ARRAY[1, 5, 6])"
    ).fetchone()
    # signals 2/3, one pack covering all, its leader present, three distinct actions.
    assert row == pytest.approx((0.4 * 2 / 3 + 0.3 + 0.2 + 0.1, True, 2 / 3, 1.0, 1.0, 1.0))
    solo = admin.execute("SELECT score, bonus FROM ml.coordination_score(ARRAY[2001], ARRAY[0])")
    assert solo.fetchone() == (pytest.approx(0.1), False)


@pytest.mark.parametrize(
    ("call", "sqlstate"),
    [
        ("SELECT * FROM ml.coordination_score(ARRAY[1001], ARRAY[1, 2])", "ML005"),
        ("SELECT * FROM ml.coordination_score('{}', '{}')", "ML005"),
        ("SELECT * FROM ml.coordination_score(ARRAY[1001], ARRAY[NULL]::int[])", "ML005"),
        ("SELECT * FROM ml.coordination_score(ARRAY[4242], ARRAY[1])", "P0002"),
    ],
)
def test_coordination_score_refuses_bad_batches(
    admin: psycopg.Connection[Any], call: str, sqlstate: str
) -> None:
    sync(admin, *PACK)
    with pytest.raises(psycopg.Error) as raised:
        admin.execute(call.encode())
    assert raised.value.sqlstate == sqlstate


def test_diagnostics_views(admin: psycopg.Connection[Any]) -> None:
    set_clock(admin, T0)
    sync(admin, *PACK, monster(2002, 155, 150, 0.1, hp=0.0), monster(3001, 5, 5, map_id=2))
    admin.execute("SELECT ml.send_retreat_signal(1001, 1, 1, NULL, ARRAY[1002, 1003])")
    admin.execute("SELECT ml.send_attack_target_signal(1001, 5, 0.5, ARRAY[1002])")
    advance(admin, 1.0)

    packs = admin.execute("SELECT map_id, leader_id, member_ids, size, spread FROM ml.packs")
    assert packs.fetchall() == [(1, 1001, [1001, 1002, 1003], 3, 6)]
    by_type = admin.execute(
        "SELECT signal_type, live, senders, receivers, min_seconds_left, max_seconds_left"
        " FROM ml.live_signals_by_type ORDER BY 1"
    ).fetchall()
    assert by_type == [("attack_target", 1, 1, 1, 4, 4), ("retreat", 2, 1, 2, 2, 2)]
    alone = admin.execute(
        "SELECT id, alive, monsters_in_reach FROM ml.monsters_without_pack ORDER BY id"
    ).fetchall()
    assert alone == [(2001, True, 0), (2002, False, 1), (3001, True, 0)]


def test_module_sources_in_the_database_are_the_repositorys(admin: psycopg.Connection[Any]) -> None:
    for name in ("signal_encoding", "pack_formation", "coordination"):
        source = (REPO_ROOT / "plpython" / f"{name}.py").read_text()
        stored = admin.execute("SELECT source FROM ml.plpython_modules WHERE name = %s", (name,))
        assert stored.fetchone() == (source,)


JOBS = {
    "jobs/expire_signals_every_second.sql": (
        "ml_expire_signals",
        "SELECT ml.expire_signals()",
        "1 second",
    ),
    "jobs/form_dirty_packs_every_second.sql": (
        "ml_form_dirty_packs",
        "CALL ml.form_dirty_packs()",
        "1 second",
    ),
    "jobs/purge_finished_decisions_every_ten_seconds.sql": (
        "ml_purge_finished_decisions",
        "SELECT ml.purge_finished_decisions()",
        "10 seconds",
    ),
    "jobs/purge_coordination_logs_every_ten_seconds.sql": (
        "ml_purge_coordination_logs",
        "SELECT ml.purge_coordination_logs()",
        "10 seconds",
    ),
    "jobs/purge_job_history_every_minute.sql": (
        "ml_purge_job_history",
        "SELECT ml.purge_job_history()",
        "* * * * *",
    ),
    "jobs/queue_retraining_every_minute.sql": (
        "ml_queue_retraining",
        "SELECT ml.queue_retraining()",
        "* * * * *",
    ),
}


@pytest.mark.parametrize("relpath", sorted(JOBS))
def test_job_files_schedule_nothing_where_pg_cron_is_absent(
    admin: psycopg.Connection[Any], relpath: str
) -> None:
    admin.execute((SQL_DIR / relpath).read_bytes())
    admin.execute(drop_statement(relpath).encode())
    assert admin.execute("SELECT to_regclass('cron.job')").fetchone() == (None,)


@pytest.mark.parametrize("relpath", sorted(JOBS))
def test_job_files_schedule_their_jobs_in_ragnarok_ml(relpath: str) -> None:
    """In the real database (the only one pg_cron runs in), inside a transaction rolled back."""
    name, command, schedule = JOBS[relpath]
    jobs = "SELECT schedule, command, active FROM cron.job WHERE jobname = %s"
    with psycopg.connect(load_settings().admin_url) as conn:
        try:
            conn.execute(drop_statement(relpath).encode())
            assert conn.execute(jobs, (name,)).fetchall() == []
            conn.execute((SQL_DIR / relpath).read_bytes())
            assert conn.execute(jobs, (name,)).fetchall() == [(schedule, command, True)]
        finally:
            conn.rollback()
