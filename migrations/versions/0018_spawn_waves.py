"""Spawn waves within a tick (bench/spawn_wave.py, bench/RESULTS.md "Spawn waves"). A sync's
monsters reach their rows, and changed rows their vertices, by `id = ANY (ARRAY[...])`, which can
only be an index condition (`ml.upsert_monsters`, `ml.mirror_updated_monsters`; the insert leaves
known monsters to its conflict check), and the update trigger's transition tables are joined by a
statement planned at every firing: when the planner believed the tables empty (a session whose
first sync spawned everyone, or statistics taken while a start's spawns were uncommitted) these
joins compared every monster with every other, 0.5-2 s a tick for 1,000-2,000 monsters until
autovacuum analyzed the tables again. `ml.form_packs` reads every map's monsters and edges, writes
every difference and records every map in one statement each instead of one per map (the 2,000
monsters a sync spawned on 200 maps formed in 59 ms instead of 93).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from migrations.objects import downgrade_objects, upgrade_objects

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = []
#: Object files of earlier revisions re-applied with their new definitions (restored on downgrade).
REPLACES: list[str] = [
    # Each monster's row by an index probe, whatever the statistics.
    "functions/upsert_monsters.sql",
    # The transition tables joined with their sizes; each vertex by an index probe.
    "functions/mirror_updated_monsters.sql",
    # Every map's reads and writes in one statement each.
    "functions/form_packs.sql",
]
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = []


def upgrade() -> None:
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES, REPLACES)


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES, REPLACES)
