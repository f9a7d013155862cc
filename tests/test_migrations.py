"""Migrations: up, down and up again on one database; no drift between revisions and files; a
released revision's objects never change underneath it, and a database migrated to any released
revision upgrades to exactly what a fresh one is."""

from __future__ import annotations

import psycopg
from alembic.script import ScriptDirectory

from config.queries import query
from migrations.objects import (
    SQL_DIR,
    all_modules,
    applied_text,
    build_from_files,
    drop_statement,
    is_replaceable,
    manifest,
    read_lock,
    read_object,
    revision_chain,
    sha256,
)
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
    # A module may be installed again by a later revision (a new version of it).
    assert sorted(set(modules)) == all_modules()


def test_released_revisions_apply_exactly_what_they_shipped() -> None:
    # Every revision is locked (python -m scripts.migrate lock), each locked file is found with
    # its recorded contents (in sql/ or plpython/ while unchanged, in migrations/frozen/ after),
    # and a revision applies nothing it was not locked with.
    locked = read_lock()
    for rev in revision_chain():
        paths = {path for revision, path in locked if revision == rev.revision}
        assert paths == set(rev.paths()), f"revision {rev.revision}: run scripts.migrate lock"
        for path in paths:
            assert sha256(applied_text(rev.revision, path)) == locked[(rev.revision, path)]


def test_a_revision_replaces_only_replaceable_objects_created_before_it() -> None:
    created: set[str] = set()
    for rev in revision_chain():
        for relpath in rev.replaces:
            assert is_replaceable(read_object(relpath)), (rev.revision, relpath)
            assert relpath in created, (rev.revision, relpath)
        created.update(rev.objects)


def test_every_released_revision_upgrades_to_head_and_back(db_url: str, empty_db_url: str) -> None:
    # A database migrated when revision R was released, upgraded today, is exactly a fresh head;
    # and downgraded again, exactly what R built (each replaced object's definition restored).
    head = fingerprint(db_url)
    for rev in revision_chain()[:-1]:
        upgrade(empty_db_url, rev.revision)
        released = fingerprint(empty_db_url)
        upgrade(empty_db_url)
        assert fingerprint(empty_db_url) == head, f"upgraded from {rev.revision}"
        downgrade(empty_db_url, rev.revision)
        assert fingerprint(empty_db_url) == released, f"downgraded to {rev.revision}"
        downgrade(empty_db_url)
