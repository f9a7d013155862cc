"""Training on Ray: the algorithm registry gains RLlib's PPO, APPO, IMPALA, DQN and SAC
(`rllib_*`, one shared policy for every monster, trained where `training.ray_address` points or on
a local Ray) and offline discrete CQL from recorded play (`cql`).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from migrations.objects import downgrade_objects, upgrade_objects

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = ["tables/training_algorithms_ray.sql"]
#: Object files of earlier revisions re-applied with their new definitions (restored on downgrade).
REPLACES: list[str] = []
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = []


def upgrade() -> None:
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES, REPLACES)


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES, REPLACES)
