"""The game server's calls reach the graph's label tables only through index conditions, even when
the statistics say the tables are empty (as they are right after a migration, and as SIGNALS often
is when autovacuum analyzes it): a plan cached then must not scan the whole table later."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest

from tests.coordination_helpers import monster, sync

CALLS = [
    "SELECT ml.send_attack_target_signal(1, 5, 0.5, ARRAY[2, 3])",
    "SELECT ml.broadcast_signal(1, 'retreat', '{}')",
    "SELECT * FROM ml.receive_signals(2)",
    "SELECT ml.signal_vector(2)",
    "SELECT * FROM ml.get_monster_team(2)",
    "SELECT * FROM ml.detect_pack_formation(ARRAY[1, 2, 4])",
    "SELECT ml.form_packs(ARRAY[1])",
    "SELECT ml.request_pack_actions(ARRAY[1, 2, 4], ARRAY['tank', 'tank', 'tank'],"
    " array_fill(0.5::real, ARRAY[3, 64]))",
    "INSERT INTO ml.ai_requests (monster_id, mob_id, archetype, state_vector, map_id, position_x,"
    " position_y, hp_ratio, sp_ratio, status, priority)"
    " VALUES (2, 1002, 'tank', array_fill(0.5::real, ARRAY[64]), 1, 12, 10, 1, 1, 'pending', 5)",
    'SELECT ml.sync_monsters(\'[{"id": 2, "mob_id": 1, "archetype": "tank", "map_id": 1,'
    ' "x": 13, "y": 10, "hp_ratio": 1, "leadership_score": 0.5, "state": ['
    + ", ".join(["0.5"] * 64)
    + "]}]')",
    "SELECT * FROM ml.coordination_score(ARRAY[1, 2], ARRAY[1, 2])",
    "SELECT ml.despawn_monster(3)",
    "SELECT ml.expire_signals()",
]
GRAPH_TABLES = r'"(SIGNALS|LEADS|FOLLOWS|TEAMMATE_OF|Monster)"'


def unbounded_graph_scans(plan: str) -> list[str]:
    """Plan nodes that read a graph label without an index condition."""
    found = []
    lines = plan.splitlines()
    for k, line in enumerate(lines):
        if re.search(rf"Seq Scan on {GRAPH_TABLES}", line):
            found.append(line.strip())
        if re.search(rf"(Index|Index Only|Bitmap Index) Scan (using \S+ )?on {GRAPH_TABLES}", line):
            details = []
            for following in lines[k + 1 :]:
                if "->" in following:
                    break
                details.append(following)
            if not any("Index Cond" in d for d in details):
                found.append(line.strip())
    return found


@pytest.fixture
def explained(admin: psycopg.Connection[Any]) -> tuple[psycopg.Connection[Any], list[str]]:
    sync(
        admin,
        monster(1, 10, 10, 0.9),
        monster(2, 12, 10),
        monster(3, 14, 10, 0.4),
        monster(4, 90, 90),
    )
    admin.execute('ANALYZE monster_ai."SIGNALS", monster_ai."TEAMMATE_OF"')  # empty: 0 rows
    plans: list[str] = []
    admin.add_notice_handler(lambda d: plans.append(d.message_primary or ""))
    for setting in (
        "LOAD 'auto_explain'",
        "SET auto_explain.log_min_duration = 0",
        "SET auto_explain.log_nested_statements = on",
        "SET client_min_messages = log",
    ):
        admin.execute(setting.encode())
    return admin, plans


@pytest.mark.parametrize("call", CALLS)
def test_graph_labels_are_read_through_index_conditions(
    explained: tuple[psycopg.Connection[Any], list[str]], call: str
) -> None:
    conn, plans = explained
    conn.execute(call.encode())
    assert plans, "auto_explain logged nothing"
    assert [scan for plan in plans for scan in unbounded_graph_scans(plan)] == []


@pytest.mark.parametrize(
    "call", ["SELECT * FROM ml.receive_signals(2)", "SELECT ml.signal_vector(2)"]
)
def test_a_receiver_finds_its_signals_by_end_id_among_many_live_ones(
    admin: psycopg.Connection[Any], call: str
) -> None:
    """With thousands of live signals, walking them by expiry instead of taking the receiver's few
    edges by end_id costs milliseconds per call (it did, before the expiry test was respelled)."""
    sync(admin, *(monster(i, i % 50, i // 50) for i in range(1, 201)))
    for sender in range(3, 201):
        admin.execute(
            "SELECT ml.send_attack_target_signal(%s, 5, 0.5, ARRAY(SELECT generate_series(3, 60)))",
            (sender,),
        )
    admin.execute('ANALYZE monster_ai."SIGNALS"')
    plans: list[str] = []
    admin.add_notice_handler(lambda d: plans.append(d.message_primary or ""))
    for setting in (
        "LOAD 'auto_explain'",
        "SET auto_explain.log_min_duration = 0",
        "SET auto_explain.log_nested_statements = on",
        "SET client_min_messages = log",
    ):
        admin.execute(setting.encode())
    admin.execute(call.encode())
    text = "\n".join(plans)
    assert "signals_end_idx" in text
    assert "signals_expires_idx" not in text
