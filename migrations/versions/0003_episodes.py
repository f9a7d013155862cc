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
OBJECTS: list[str] = [
    "tables/ml_pack_episodes_team_rewards.sql",
    "functions/record_pack_episode.sql",
]
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = ["pack_episode"]


def upgrade() -> None:
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)
