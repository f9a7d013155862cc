"""Apply the migrations: `python -m scripts.migrate upgrade|downgrade [REVISION]`.

The same as `alembic upgrade head`, callable with an explicit database URL (tests, the demo).
Two more actions keep released revisions immutable (migrations/objects.py):
`lock [REVISION ...]` records the sha256 of every file a revision applies (by default every
revision not locked yet; name a revision to re-lock it, only before it is released), and `freeze`
copies what released revisions applied, from git, into migrations/frozen/ for every file that has
moved on since.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from alembic import command
from alembic.config import Config

from config.settings import load_settings
from migrations.objects import (
    LOCK_FILE,
    REPO_ROOT,
    ObjectFileError,
    frozen_path,
    read_lock,
    revision_chain,
    sha256,
    shipped_text,
)


def alembic_config(database_url: str | None = None) -> Config:
    cfg = Config(str(REPO_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url or load_settings().admin_url
    return cfg


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def lock(revisions: list[str]) -> list[str]:
    """Record the sha256 of every file the named revisions apply (default: the unlocked ones)."""
    locked = read_lock()
    done = {revision for revision, _ in locked}
    chain = revision_chain()
    chosen = set(revisions) or {r.revision for r in chain} - done
    lines = ["# revision  file  sha256 of what it applied (python -m scripts.migrate lock)"]
    for rev in chain:
        for path in dict.fromkeys(rev.paths()):
            if rev.revision in chosen:
                digest = sha256((REPO_ROOT / path).read_text(encoding="utf-8"))
            elif (rev.revision, path) in locked:
                digest = locked[(rev.revision, path)]
            else:
                continue
            lines.append(f"{rev.revision} {path} {digest}")
    LOCK_FILE.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sorted(chosen)


def git_version(path: str, digest: str) -> str:
    """The contents `path` had in some commit, found by their sha256."""
    commits = subprocess.run(
        ["git", "log", "--format=%H", "--", path],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for commit in commits:
        shown = subprocess.run(
            ["git", "show", f"{commit}:{path}"], cwd=REPO_ROOT, capture_output=True, text=True
        )
        if shown.returncode == 0 and sha256(shown.stdout) == digest:
            return shown.stdout
    raise ObjectFileError(f"{path}: no commit holds the contents with sha256 {digest}")


def freeze() -> list[str]:
    """Keep what released revisions applied for every file that has moved on since."""
    written = []
    for (revision, path), digest in sorted(read_lock().items()):
        if shipped_text(revision, path, digest) is not None:
            continue
        frozen = frozen_path(revision, path)
        frozen.parent.mkdir(parents=True, exist_ok=True)
        frozen.write_text(git_version(path, digest), encoding="utf-8")
        written.append(str(frozen.relative_to(REPO_ROOT)))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["upgrade", "downgrade", "lock", "freeze"])
    parser.add_argument("revision", nargs="*")
    args = parser.parse_args(argv)
    if args.action == "upgrade":
        upgrade(revision=(args.revision or ["head"])[0])
    elif args.action == "downgrade":
        downgrade(revision=(args.revision or ["base"])[0])
    elif args.action == "lock":
        print("locked:", " ".join(lock(args.revision)) or "nothing new")
    else:
        print("\n".join(freeze()) or "nothing to freeze")
    return 0


if __name__ == "__main__":
    sys.exit(main())
