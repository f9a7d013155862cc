"""Fixtures against the real PostgreSQL 17 + AGE server (never a mock).

The server is the one `make db` provisions, or the one DATABASE_URL names. One template database is
migrated per test session (`alembic upgrade head`); every test that asks for `db_url` gets its own
clone of it (CREATE DATABASE ... TEMPLATE), so tests never see each other's rows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from pytest_postgresql import factories
from pytest_postgresql.janitor import DatabaseJanitor

from config.settings import load_settings, url_with
from migrations.objects import read_object
from scripts.migrate import upgrade

ADMIN_URL = load_settings().admin_url
ADMIN = urlsplit(ADMIN_URL)
# One name per pytest process: concurrent runs on one server (two developers, a benchmark) never
# drop each other's databases.
TEST_DB = f"ragnarok_ml_test_{os.getpid()}"


def url_for(dbname: str, role: str | None = None) -> str:
    """A URL to `dbname` on the test server, as the admin role or as one of the product roles."""
    return url_with(ADMIN_URL, role=role, dbname=dbname)


def migrate_template(host: str, port: int, user: str, dbname: str, **_: Any) -> None:
    """pytest-postgresql loader: bring the session's template database to head, serving through
    the worker. The product's default, serving.mode 'auto', answers the legacy gateway inside its
    INSERT where it can (docs/inline_serving.md); the worker's path is what most tests exercise,
    and tests/test_inline_serving.py switches the mode where it tests the inline one."""
    url = url_for(dbname)
    upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(WORKER_MODE)


#: The test template's serving mode (migrate_template).
WORKER_MODE = "UPDATE ml.config SET value = '\"worker\"' WHERE key = 'serving.mode'"


postgresql_server = factories.postgresql_noproc(
    host=ADMIN.hostname,
    port=ADMIN.port or 5432,
    user=ADMIN.username,
    password=ADMIN.password,
    dbname=TEST_DB,
    load=[migrate_template],
)
postgresql = factories.postgresql("postgresql_server")


@pytest.fixture
def db_url(postgresql: psycopg.Connection[Any]) -> str:
    """A fresh, migrated database of this test's own, as the owner role (ml_admin)."""
    url = url_for(postgresql.info.dbname)
    # A database's own privileges are not copied from its template: the clone gets them as a
    # migrated database has them.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(read_object("security/database_privileges.sql").encode())
    return url


@pytest.fixture
def game_url(db_url: str) -> str:
    """The same database as the game server's role (ml_user)."""
    return url_for(urlsplit(db_url).path.lstrip("/"), "ml_user")


@pytest.fixture
def worker_url(db_url: str) -> str:
    """The same database as the worker's role (ml_worker)."""
    return url_for(urlsplit(db_url).path.lstrip("/"), "ml_worker")


@pytest.fixture
def listener(game_url: str) -> Iterator[psycopg.Connection[Any]]:
    """The game server's connection LISTENing on ml_decisions (autocommit, as ml_user)."""
    with psycopg.connect(game_url, autocommit=True) as conn:
        conn.execute("LISTEN ml_decisions")
        yield conn


@pytest.fixture
def game(game_url: str) -> Iterator[psycopg.Connection[Any]]:
    """The game server's connection (ml_user, autocommit)."""
    with psycopg.connect(game_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def admin(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the test's database as ml_admin."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def empty_db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An unmigrated database (template1: the extensions, nothing of the product)."""
    suffix = re.sub(r"\W", "_", request.node.name[:20].lower())
    dbname = f"{TEST_DB}_empty_{suffix}"
    janitor = DatabaseJanitor(
        user=ADMIN.username or "ml_admin",
        host=ADMIN.hostname or "127.0.0.1",
        port=ADMIN.port or 5432,
        dbname=dbname,
        password=ADMIN.password,
    )
    janitor.drop()
    with janitor:
        yield url_for(dbname)
