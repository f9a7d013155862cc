"""The model zoo (docs/model_zoo.md): any of the nine zoo model types answered in the database
(`ml.ask_model`, PL/Python, each backend loading a model the first time it is asked for), deploys
guarded by each model's validation report (`ml.deploy_model`, ML013 below the bar unless forced),
the inline decider no longer opening the zoo's models it does not serve, and continuous learning
(`ml.queue_retraining`, every minute: a training job once enough new experience was recorded).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from migrations.config_rows import load_config_sections, unload_config_keys
from migrations.objects import downgrade_objects, upgrade_objects

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = [
    "functions/zoo_infer.sql",
    "functions/ask_model.sql",
    "functions/guard_model_validation.sql",
    "functions/deploy_model.sql",
    # Continuous learning: retraining queued from recorded experience.
    "functions/queue_retraining.sql",
    "jobs/queue_retraining_every_minute.sql",
]
#: Object files of earlier revisions re-applied with their new definitions (restored on downgrade).
REPLACES: list[str] = []
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = ["zoo_types", "zoo_serving", "inline_serving"]
#: The settings this revision adds to ml.config (config/ctde_config.yaml).
CONFIG_KEYS = [
    "limits.ask_model_floats",
    "continuous_learning.min_new_experiences",
    "continuous_learning.algorithm",
]


def upgrade() -> None:
    load_config_sections(["limits.ask_model_floats", "continuous_learning"])
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES, REPLACES)


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES, REPLACES)
    unload_config_keys(CONFIG_KEYS)
