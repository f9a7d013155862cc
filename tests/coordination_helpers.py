"""Helpers of the coordination tests: monsters as the game server sends them, and a moved clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

#: A fixed instant the tests set the database clock to (ml.clock_now, via ml.clock_override).
T0 = datetime.fromisoformat("2020-01-01T12:00:00+00:00")  # in the past: real clocks pass it


def monster(
    id_: int,
    x: int,
    y: int,
    score: float = 0.5,
    *,
    map_id: int = 1,
    hp: float = 1.0,
    archetype: str = "aggressive",
    state: list[float] | None = None,
) -> dict[str, Any]:
    """One element of ml.sync_monsters' array."""
    return {
        "id": id_,
        "mob_id": 1002,
        "archetype": archetype,
        "map_id": map_id,
        "x": x,
        "y": y,
        "hp_ratio": hp,
        "leadership_score": score,
        "state": state if state is not None else [0.25] * 64,
    }


def sync(conn: psycopg.Connection[Any], *monsters: dict[str, Any]) -> int:
    row = conn.execute("SELECT ml.sync_monsters(%s)", (Jsonb(list(monsters)),)).fetchone()
    assert row is not None
    return int(row[0])


def set_clock(conn: psycopg.Connection[Any], at: datetime) -> None:
    """Move this session's database clock (honoured for superuser sessions only)."""
    conn.execute("SELECT set_config('ml.clock_override', %s, false)", (at.isoformat(),))


def advance(conn: psycopg.Connection[Any], seconds: float) -> None:
    set_clock(conn, T0 + timedelta(seconds=seconds))


def team(conn: psycopg.Connection[Any], monster_id: int) -> tuple[Any, ...]:
    row = conn.execute("SELECT * FROM ml.get_monster_team(%s)", (monster_id,)).fetchone()
    assert row is not None
    return tuple(row)


def count(conn: psycopg.Connection[Any], sql: str, *params: Any) -> int:
    row = conn.execute(sql.encode(), params).fetchone()
    assert row is not None
    return int(row[0])


PACK = (
    # Leader 1001 (0.9) with followers 1002 and 1003 around it; 2001 far away on the same map.
    monster(1001, 100, 100, 0.9),
    monster(1002, 103, 100, 0.5),
    monster(1003, 100, 106, 0.4),
    monster(2001, 150, 150, 0.8),
)
