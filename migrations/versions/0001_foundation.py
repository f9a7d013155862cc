"""Foundation: schema ml, the monster_ai graph, the registry, episode, log and gateway tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from migrations.objects import downgrade_objects, upgrade_objects

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = [
    "schema/ml.sql",
    "schema/plpython_modules.sql",
    "schema/plpython_bootstrap.sql",
    "graph/monster_ai.sql",
    "tables/ml_models.sql",
    "tables/ml_pack_episodes.sql",
    "tables/ml_coordination_logs.sql",
    "tables/ml_experience_replay.sql",
    "tables/ai_requests.sql",
    "tables/ai_responses.sql",
]
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = []


def upgrade() -> None:
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)
