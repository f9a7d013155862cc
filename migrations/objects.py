"""Apply and drop the database objects that revisions name.

Each object lives in one file under sql/, whose first line says how to drop it:

    -- drop: DROP FUNCTION IF EXISTS ml.expire_signals();

A revision lists the files it creates (in dependency order) and the plpython/ modules it installs;
upgrade runs the files, downgrade runs their drop lines in reverse. The files are executed as they
are, through the driver connection, so no SQL is ever assembled in Python.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import psycopg
from alembic import op

REPO_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = REPO_ROOT / "sql"
PLPYTHON_DIR = REPO_ROOT / "plpython"
MANIFEST = SQL_DIR / "MANIFEST"
DROP_PREFIX = "-- drop:"


class ObjectFileError(ValueError):
    """An object file is missing or lacks its drop line."""


def read_object(relpath: str) -> str:
    path = SQL_DIR / relpath
    if not path.is_file():
        raise ObjectFileError(f"sql/{relpath}: no such object file")
    return path.read_text(encoding="utf-8")


def drop_statement(relpath: str) -> str:
    first_line = read_object(relpath).splitlines()[0]
    if not first_line.startswith(DROP_PREFIX):
        raise ObjectFileError(f"sql/{relpath}: first line must be '{DROP_PREFIX} <statement>'")
    return first_line.removeprefix(DROP_PREFIX).strip()


def manifest() -> list[str]:
    """Every object file, in the order that builds the whole schema from nothing."""
    lines = MANIFEST.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def module_source(name: str) -> tuple[str, str]:
    source = (PLPYTHON_DIR / f"{name}.py").read_text(encoding="utf-8")
    return source, hashlib.sha256(source.encode()).hexdigest()


def install_modules(conn: psycopg.Connection[Any], names: list[str]) -> None:
    for name in names:
        source, digest = module_source(name)
        conn.execute(
            "INSERT INTO ml.plpython_modules (name, source, sha256) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET source = excluded.source, sha256 = excluded.sha256, "
            "installed_at = now()",
            (name, source, digest),
        )


def apply_objects(conn: psycopg.Connection[Any], objects: list[str], modules: list[str]) -> None:
    for relpath in objects:
        conn.execute(read_object(relpath).encode())
    # Creating a PL/Python function does not run its body, so the modules it imports can follow.
    install_modules(conn, modules)


def drop_objects(conn: psycopg.Connection[Any], objects: list[str], modules: list[str]) -> None:
    if modules and "schema/plpython_modules.sql" not in objects:
        conn.execute("DELETE FROM ml.plpython_modules WHERE name = ANY(%s)", (modules,))
    for relpath in reversed(objects):
        conn.execute(drop_statement(relpath).encode())


def _driver_connection() -> psycopg.Connection[Any]:
    dbapi = op.get_bind().connection.driver_connection
    assert isinstance(dbapi, psycopg.Connection)
    return dbapi


def upgrade_objects(objects: list[str], modules: list[str]) -> None:
    apply_objects(_driver_connection(), objects, modules)


def downgrade_objects(objects: list[str], modules: list[str]) -> None:
    drop_objects(_driver_connection(), objects, modules)


def all_modules() -> list[str]:
    """Every PL/Python module of the repository."""
    return sorted(p.stem for p in PLPYTHON_DIR.glob("*.py") if p.stem != "__init__")


def build_from_files(conn: psycopg.Connection[Any]) -> None:
    """Build the whole schema straight from the object files (MANIFEST order), without alembic.

    The drift test compares the result with `alembic upgrade head`: a revision history that no
    longer reproduces the files, or a file that no revision applies, shows up as a difference.
    """
    apply_objects(conn, manifest(), all_modules())
