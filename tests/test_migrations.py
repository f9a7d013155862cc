"""Migrations: up, down and up again on one database; and no drift between revisions and files."""

from __future__ import annotations

import psycopg
from alembic.script import ScriptDirectory

from config.queries import query
from migrations.objects import SQL_DIR, all_modules, build_from_files, drop_statement, manifest
from scripts.migrate import alembic_config, downgrade, upgrade


def fingerprint(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return [
            (kind, definition)
            for kind, definition in conn.execute(query("schema_fingerprint").encode())
        ]


def product_objects(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname IN ('ml', 'monster_ai')"
        ).fetchone()
        assert row is not None
        return int(row[0])


def test_upgrade_downgrade_upgrade(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    first = fingerprint(empty_db_url)
    assert product_objects(empty_db_url) > 0

    downgrade(empty_db_url)
    assert product_objects(empty_db_url) == 0
    with psycopg.connect(empty_db_url) as conn:
        graphs = conn.execute("SELECT count(*) FROM ag_catalog.ag_graph").fetchone()
        assert graphs == (0,)

    upgrade(empty_db_url)
    assert fingerprint(empty_db_url) == first


def test_migrated_schema_equals_schema_from_files(db_url: str, empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url) as conn:
        build_from_files(conn)
    migrated, from_files = fingerprint(db_url), fingerprint(empty_db_url)
    only_migrated = sorted(set(migrated) - set(from_files))
    only_files = sorted(set(from_files) - set(migrated))
    assert (only_migrated, only_files) == ([], [])


def test_every_object_file_is_in_the_manifest_and_droppable() -> None:
    files = {
        str(p.relative_to(SQL_DIR))
        for p in SQL_DIR.rglob("*.sql")
        if p.relative_to(SQL_DIR).parts[0] != "queries"
    }
    listed = manifest()
    assert sorted(listed) == sorted(files)
    assert len(listed) == len(set(listed))
    for relpath in listed:
        assert drop_statement(relpath)


def test_every_revision_object_is_in_the_manifest_in_order() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    applied: list[str] = []
    modules: list[str] = []
    for script in reversed(list(scripts.walk_revisions())):
        applied += script.module.OBJECTS
        modules += script.module.PLPYTHON_MODULES
    assert applied == manifest()
    assert sorted(modules) == all_modules()
