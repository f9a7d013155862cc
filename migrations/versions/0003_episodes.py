"""Episode recording API for the game server (arrays in, one ml_pack_episodes row).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from migrations.objects import downgrade_objects, upgrade_objects

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = []
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = []


def upgrade() -> None:
    upgrade_objects(OBJECTS, PLPYTHON_MODULES)


def downgrade() -> None:
    downgrade_objects(OBJECTS, PLPYTHON_MODULES)
