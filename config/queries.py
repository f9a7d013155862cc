"""Named SQL queries: one file per query under sql/queries/, loaded by name.

Python never assembles SQL; it asks for a query by name and passes bind parameters.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import psycopg

QUERY_DIR = Path(__file__).resolve().parent.parent / "sql" / "queries"


class UnknownQueryError(KeyError):
    """No file sql/queries/<name>.sql."""


@cache
def query(name: str) -> str:
    path = QUERY_DIR / f"{name}.sql"
    if not path.is_file():
        raise UnknownQueryError(f"no named query {name!r} (looked for {path})")
    return path.read_text(encoding="utf-8")


def connect_raw(url: str, autocommit: bool = False) -> psycopg.Connection[Any]:
    """psycopg with PostgreSQL's own $n placeholders, the form the named queries are written in
    (asyncpg uses the same form, so one query file serves both drivers)."""
    return psycopg.connect(url, autocommit=autocommit, cursor_factory=psycopg.RawCursor)
