"""Apply and drop the database objects that revisions name.

Each object lives in one file under sql/, whose first line says how to drop it:

    -- drop: DROP FUNCTION IF EXISTS ml.expire_signals();

A revision lists the files it creates (`OBJECTS`, in dependency order), the files of objects that
earlier revisions created and that it re-applies with a new definition (`REPLACES`: functions,
procedures, triggers, views, pg_cron jobs, privileges), and the plpython/ modules it installs.
Upgrade runs the files; downgrade restores each replaced object's previous definition and runs
the created files' drop lines in reverse. The files are executed as they are, through the driver
connection, so no SQL is ever assembled in Python.

A released revision's objects never change underneath it. `migrations/objects.lock` records the
sha256 of every file each released revision applied; when a file under sql/ or plpython/ moves on
(a later revision replaces it), what the older revision applied stays in
`migrations/frozen/<revision>/<path>`, so a database built or upgraded from any revision gets
exactly what that revision shipped, and a later revision brings it to head. `python -m
scripts.migrate freeze` copies the released contents there (from git) and `python -m
scripts.migrate lock REVISION` records a new revision's files before it is released.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
from alembic import op

REPO_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = REPO_ROOT / "sql"
PLPYTHON_DIR = REPO_ROOT / "plpython"
MANIFEST = SQL_DIR / "MANIFEST"
LOCK_FILE = REPO_ROOT / "migrations" / "objects.lock"
FROZEN_DIR = REPO_ROOT / "migrations" / "frozen"
DROP_PREFIX = "-- drop:"
#: What a revision may re-apply: files whose CREATE statements are all of these (CREATE OR
#: REPLACE keeps grants, dependants and triggers in place), or that create nothing (pg_cron jobs,
#: privileges). A table changes through a new object file of its own, never by re-applying.
_CREATE = re.compile(r"^CREATE (FUNCTION|PROCEDURE|TRIGGER|VIEW) ", re.MULTILINE)
_ANY_CREATE = re.compile(r"^CREATE ", re.MULTILINE)


class ObjectFileError(ValueError):
    """An object file is missing, lacks its drop line, or differs from what a revision shipped."""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def sql_path(relpath: str) -> str:
    """The repository path of an object file named relative to sql/."""
    return f"sql/{relpath}"


def module_path(name: str) -> str:
    return f"plpython/{name}.py"


def read_object(relpath: str) -> str:
    path = SQL_DIR / relpath
    if not path.is_file():
        raise ObjectFileError(f"sql/{relpath}: no such object file")
    return path.read_text(encoding="utf-8")


def drop_line(text: str, name: str) -> str:
    first_line = text.splitlines()[0]
    if not first_line.startswith(DROP_PREFIX):
        raise ObjectFileError(f"{name}: first line must be '{DROP_PREFIX} <statement>'")
    return first_line.removeprefix(DROP_PREFIX).strip()


def drop_statement(relpath: str) -> str:
    return drop_line(read_object(relpath), f"sql/{relpath}")


def is_replaceable(text: str) -> bool:
    return len(_ANY_CREATE.findall(text)) == len(_CREATE.findall(text))


def as_replacement(text: str) -> str:
    """The object file with its CREATE statements as CREATE OR REPLACE (a re-application)."""
    return _CREATE.sub(lambda m: f"CREATE OR REPLACE {m.group(1)} ", text)


def manifest() -> list[str]:
    """Every object file, in the order that builds the whole schema from nothing."""
    lines = MANIFEST.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def all_modules() -> list[str]:
    """Every PL/Python module of the repository."""
    return sorted(p.stem for p in PLPYTHON_DIR.glob("*.py") if p.stem != "__init__")


# --- what each revision applied ----------------------------------------------------------------


@dataclass(frozen=True)
class Revision:
    """One revision's files, as its module lists them."""

    revision: str
    objects: tuple[str, ...]
    replaces: tuple[str, ...]
    modules: tuple[str, ...]

    def paths(self) -> list[str]:
        """Repository paths of everything it applies, in the order it applies them."""
        return [sql_path(p) for p in self.objects + self.replaces] + [
            module_path(m) for m in self.modules
        ]


@cache
def revision_chain() -> tuple[Revision, ...]:
    """Every revision, base first."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(REPO_ROOT / "migrations"))
    return tuple(
        Revision(
            revision=str(script.revision),
            objects=tuple(script.module.OBJECTS),
            replaces=tuple(getattr(script.module, "REPLACES", ())),
            modules=tuple(script.module.PLPYTHON_MODULES),
        )
        for script in reversed(list(scripts.walk_revisions()))
    )


def read_lock(lock_file: Path = LOCK_FILE) -> dict[tuple[str, str], str]:
    """(revision, repository path) -> sha256 of what that released revision applied."""
    locked: dict[tuple[str, str], str] = {}
    if not lock_file.is_file():
        return locked
    for line in lock_file.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            revision, path, digest = line.split()
            locked[(revision, path)] = digest
    return locked


def frozen_path(revision: str, path: str) -> Path:
    return FROZEN_DIR / revision / path


def shipped_text(revision: str, path: str, digest: str) -> str | None:
    """The contents with sha256 `digest` that `revision` applied for `path`: the file as it is
    while unchanged, then its copy in migrations/frozen/; None where neither holds them."""
    for candidate in (REPO_ROOT / path, frozen_path(revision, path)):
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8")
            if sha256(text) == digest:
                return text
    return None


def applied_text(revision: str, path: str) -> str:
    """What `revision` applies for the repository path `path`: the file as it is, unless the
    revision was released with other contents, which then come from migrations/frozen/."""
    locked = read_lock().get((revision, path))
    if locked is None:
        if not (REPO_ROOT / path).is_file():
            raise ObjectFileError(f"{path}: no such file")
        return (REPO_ROOT / path).read_text(encoding="utf-8")
    shipped = shipped_text(revision, path, locked)
    if shipped is None:
        raise ObjectFileError(
            f"{path} is no longer what released revision {revision} applied, and "
            f"{frozen_path(revision, path).relative_to(REPO_ROOT)} does not hold it: a change to "
            "a released object goes into a new revision's REPLACES; run `python -m "
            "scripts.migrate freeze` to keep the released contents"
        )
    return shipped


def previous_text(revision: str, path: str) -> str | None:
    """What the latest revision before `revision` applied for `path` (None: nothing did)."""
    chain = revision_chain()
    index = next(i for i, r in enumerate(chain) if r.revision == revision)
    for earlier in reversed(chain[:index]):
        if path in earlier.paths():
            return applied_text(earlier.revision, path)
    return None


# --- applying --------------------------------------------------------------------------------


def install_module(conn: psycopg.Connection[Any], name: str, source: str) -> None:
    conn.execute(
        "INSERT INTO ml.plpython_modules (name, source, sha256) VALUES (%s, %s, %s) "
        "ON CONFLICT (name) DO UPDATE SET source = excluded.source, sha256 = excluded.sha256, "
        "installed_at = now()",
        (name, source, sha256(source)),
    )


def build_from_files(conn: psycopg.Connection[Any]) -> None:
    """Build the whole schema straight from the object files (MANIFEST order), without alembic.

    The drift test compares the result with `alembic upgrade head`: a revision history that no
    longer reproduces the files, or a file that no revision applies, shows up as a difference.
    """
    for relpath in manifest():
        conn.execute(read_object(relpath).encode())
    # Creating a PL/Python function does not run its body, so the modules it imports can follow.
    for name in all_modules():
        install_module(conn, name, (PLPYTHON_DIR / f"{name}.py").read_text(encoding="utf-8"))


def _driver_connection() -> psycopg.Connection[Any]:
    dbapi = op.get_bind().connection.driver_connection
    assert isinstance(dbapi, psycopg.Connection)
    return dbapi


def upgrade_objects(
    revision: str, objects: list[str], modules: list[str], replaces: list[str] | None = None
) -> None:
    conn = _driver_connection()
    for relpath in objects:
        conn.execute(applied_text(revision, sql_path(relpath)).encode())
    for relpath in replaces or []:
        text = applied_text(revision, sql_path(relpath))
        if not is_replaceable(text):
            raise ObjectFileError(f"sql/{relpath}: creates what CREATE OR REPLACE cannot replace")
        conn.execute(as_replacement(text).encode())
    for name in modules:
        install_module(conn, name, applied_text(revision, module_path(name)))


def downgrade_objects(
    revision: str, objects: list[str], modules: list[str], replaces: list[str] | None = None
) -> None:
    conn = _driver_connection()
    for name in modules:
        previous = previous_text(revision, module_path(name))
        if previous is not None:
            install_module(conn, name, previous)
        elif "schema/plpython_modules.sql" not in objects:
            conn.execute("DELETE FROM ml.plpython_modules WHERE name = %s", (name,))
    for relpath in reversed(replaces or []):
        previous = previous_text(revision, sql_path(relpath))
        if previous is None:
            raise ObjectFileError(f"sql/{relpath}: replaced by {revision}, created by none before")
        conn.execute(as_replacement(previous).encode())
    for relpath in reversed(objects):
        path = sql_path(relpath)
        conn.execute(drop_line(applied_text(revision, path), path).encode())
