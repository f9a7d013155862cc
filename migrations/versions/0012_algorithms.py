"""The algorithm registry in the database: ml.training_algorithms lists the algorithms a training
job may name (models.algorithms.registry.ALGORITHMS: mappo, ippo, qmix, vdn, maddpg), the job
table refuses any other name (a foreign key), and ml.submit_training reads the list from it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from migrations.objects import downgrade_objects, upgrade_objects

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = [
    "tables/training_algorithms.sql",
    "tables/ml_training_jobs_algorithm_fkey.sql",
]
#: Object files of earlier revisions re-applied with their new definitions (restored on downgrade).
REPLACES: list[str] = ["functions/submit_training.sql"]
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = []


def upgrade() -> None:
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES, REPLACES)


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES, REPLACES)
