"""Apply the migrations: `python -m scripts.migrate upgrade|downgrade [REVISION]`.

The same as `alembic upgrade head`, callable with an explicit database URL (tests, the demo).
"""

from __future__ import annotations

import argparse
import sys

from alembic import command
from alembic.config import Config

from config.settings import load_settings
from migrations.objects import REPO_ROOT


def alembic_config(database_url: str | None = None) -> Config:
    cfg = Config(str(REPO_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url or load_settings().admin_url
    return cfg


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["upgrade", "downgrade"])
    parser.add_argument("revision", nargs="?")
    args = parser.parse_args(argv)
    if args.action == "upgrade":
        upgrade(revision=args.revision or "head")
    else:
        downgrade(revision=args.revision or "base")
    return 0


if __name__ == "__main__":
    sys.exit(main())
