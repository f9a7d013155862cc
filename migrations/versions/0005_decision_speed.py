"""The decision path: set-based submit (pack keys, signal vectors) and NOTIFY only to idle workers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from migrations.objects import downgrade_objects, upgrade_objects

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = [
    "functions/signal_entries.sql",
    "functions/signal_vectors.sql",
    "functions/pack_keys.sql",
    "functions/submit_fence_key.sql",
    "functions/wake_idle_workers.sql",
]
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = []


def upgrade() -> None:
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)
