"""Settings the database acts on: sections of config/ctde_config.yaml loaded into ml.config,
flattened with dots ("signals.ttl_seconds.retreat" = 3). A key already there keeps its value (an
operator's change survives a later migration)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg
import yaml
from alembic import op
from psycopg.types.json import Jsonb

from config.queries import query
from migrations.objects import REPO_ROOT

CONFIG_FILE = REPO_ROOT / "config" / "ctde_config.yaml"


def flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from flatten(f"{prefix}.{key}", inner)
    else:
        yield prefix, value


def database_settings(
    document: Mapping[str, Any], sections: Sequence[str]
) -> list[tuple[str, Any]]:
    """The settings of `sections` (dotted paths into the YAML), e.g.
    ("signals.ttl_seconds.retreat", 3)."""
    settings: list[tuple[str, Any]] = []
    for section in sections:
        node: Any = document
        for part in section.split("."):
            node = node[part]
        settings += flatten(section, node)
    return settings


def load_config_sections(sections: Sequence[str]) -> None:
    """Insert the settings of `sections` into ml.config, within the running migration."""
    document = yaml.safe_load(CONFIG_FILE.read_text(encoding="utf-8"))
    conn = op.get_bind().connection.driver_connection
    assert isinstance(conn, psycopg.Connection)
    insert = query("insert_config").encode()
    for key, value in database_settings(document, sections):
        conn.execute(insert, {"key": key, "value": Jsonb(value)})


def unload_config_keys(keys: Sequence[str]) -> None:
    """Delete settings from ml.config, within the running migration (the downgrade of the
    revision that added them)."""
    conn = op.get_bind().connection.driver_connection
    assert isinstance(conn, psycopg.Connection)
    delete = query("delete_config").encode()
    for key in keys:
        conn.execute(delete, {"key": key})
