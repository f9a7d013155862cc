"""Typed answers (the worker writes arrays, the JSON is built when read), sparse signal entries,
and one formation lock taken before a despawn touches any pack edge.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from migrations.objects import downgrade_objects, upgrade_objects

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = [
    "functions/decision_json.sql",
    "functions/decision_actions.sql",
    "functions/lock_pack_maps.sql",
]
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = []


def upgrade() -> None:
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)
