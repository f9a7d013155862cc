"""Settings from the environment.

`DATABASE_URL` names the product database as its owner role (migrations, tests, diagnostics).
When it is unset, the development server that `scripts/db_server.sh` provisions is used. The
worker and the game server connect as their own roles; their URLs default to the same server
with the role swapped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

DEV_HOST = "127.0.0.1"
DEV_PORT = 5433
DATABASE_NAME = "ragnarok_ml"

#: Development passwords set by scripts/bootstrap_cluster.sql; a production server sets its own.
DEV_PASSWORDS = {"ml_admin": "ml_admin", "ml_worker": "ml_worker", "ml_user": "ml_user"}


def _dev_url(role: str) -> str:
    return f"postgresql://{role}:{DEV_PASSWORDS[role]}@{DEV_HOST}:{DEV_PORT}/{DATABASE_NAME}"


def url_with(url: str, *, role: str | None = None, dbname: str | None = None) -> str:
    """`url` as another role (with its development password) and/or to another database on the
    same server: how the worker, the game server, the tests and the benchmarks reach theirs."""
    parts = urlsplit(url)
    user = role or parts.username or "ml_admin"
    password = DEV_PASSWORDS.get(user, parts.password or "") if role else parts.password or ""
    host = parts.hostname or DEV_HOST
    port = f":{parts.port}" if parts.port else ""
    path = f"/{dbname}" if dbname else parts.path
    return urlunsplit((parts.scheme, f"{user}:{password}@{host}{port}", path, parts.query, ""))


@dataclass(frozen=True)
class Settings:
    """Where the product's database is and how each role reaches it."""

    admin_url: str
    """Owner role (ml_admin): migrations, tests, diagnostics."""
    worker_url: str
    """The worker's role (ml_worker)."""
    game_url: str
    """The game server's role (ml_user): the SQL API and the gateway tables only."""


def load_settings() -> Settings:
    admin = os.environ.get("DATABASE_URL") or _dev_url("ml_admin")
    worker = os.environ.get("WORKER_DATABASE_URL") or url_with(admin, role="ml_worker")
    game = os.environ.get("GAME_DATABASE_URL") or url_with(admin, role="ml_user")
    return Settings(admin_url=admin, worker_url=worker, game_url=game)


def sqlalchemy_url(url: str) -> str:
    """The same URL for SQLAlchemy, which needs the psycopg (v3) driver named."""
    scheme, rest = url.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        scheme = "postgresql+psycopg"
    return f"{scheme}://{rest}"
