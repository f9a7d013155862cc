"""Alembic environment: one connection (psycopg 3), each revision in its own transaction."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from config.settings import load_settings, sqlalchemy_url

config = context.config


def run_migrations_online() -> None:
    url = config.attributes.get("database_url") or load_settings().admin_url
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported: revisions execute object files")
run_migrations_online()
