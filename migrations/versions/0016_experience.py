"""Recorded experience for offline training: the game server records single-monster transitions
with `ml.record_experience(...)` (typed arrays, validated before anything is written) into
ml_experience_replay, which discrete CQL (`cql`, docs/offline.md) learns from. The new limits
`limits.experience_rows` and `limits.experience_reward` are loaded into ml.config.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from migrations.config_rows import load_config_sections, unload_config_keys
from migrations.objects import downgrade_objects, upgrade_objects

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = ["functions/record_experience.sql"]
#: Object files of earlier revisions re-applied with their new definitions (restored on downgrade).
REPLACES: list[str] = []
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = []
#: The settings this revision adds to ml.config (config/ctde_config.yaml, section limits).
CONFIG_KEYS = ["limits.experience_rows", "limits.experience_reward"]


def upgrade() -> None:
    load_config_sections(["limits"])
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES, REPLACES)


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES, REPLACES)
    unload_config_keys(CONFIG_KEYS)
