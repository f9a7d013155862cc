"""The demo's zoo step (docs/model_zoo.md): the zoo's combat DQN and movement policy trained at the
small profile for the archetype with the most monsters on the maps, evaluated against the seed's
bar, exported, deployed (a refusal below the bar is shown, then the deploy is forced), and asked
through ml.ask_model beside the pack actor's ml.decide_pack, for the same live monsters, by the
game server's role.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg

from config.queries import connect_raw, query
from models.zoo.registry import deploy
from models.zoo.store import ModelDir
from plpython.zoo_types import DIRECTIONS

TYPES = ("combat_dqn", "movement_ppo")
MONSTERS = 6


def busiest_archetype(admin_url: str) -> tuple[list[int], list[str], list[list[float]]]:
    with connect_raw(admin_url) as conn:
        rows = conn.execute(query("demo_zoo_monsters").encode(), [MONSTERS]).fetchall()
    return [r[0] for r in rows], [r[1] for r in rows], [list(r[2]) for r in rows]


def run_zoo(archetype: str, root: Path, profile: str) -> bool:
    for step in ("train", "evaluate", "export"):
        args = [sys.executable, "-m", "models.zoo", step, "--archetypes", archetype]
        args += ["--model-types", *TYPES, "--profile", profile, "--root", str(root)]
        print(f"$ python -m models.zoo {' '.join(args[3:])}", flush=True)
        if subprocess.run(args, check=False).returncode != 0:
            return False
    return True


def show_zoo(admin_url: str, game_url: str, root: Path, profile: str = "small") -> list[str]:
    """Runs the step; returns what failed (empty when all went well)."""
    ids, archetypes, states = busiest_archetype(admin_url)
    if not ids:
        return ["no monsters on the maps to ask the zoo about"]
    archetype = archetypes[0]
    if not run_zoo(archetype, root, profile):
        return [f"the zoo's pipeline failed for {archetype}"]
    with psycopg.connect(admin_url) as conn:
        for model_type in TYPES:
            where = ModelDir(root, profile, archetype, model_type)
            done = deploy(conn, where)
            if done.refused:
                print(f"deploy {model_type}: {done.refused}")
                done = deploy(conn, where, force=True)
                print(f"   deployed with force => true (model {done.model_id})")
            else:
                print(f"deploy {model_type}: model {done.model_id} meets its bar, deployed")
    print(f"\nthe same {len(ids)} {archetype} monsters, asked in the database by the game server:")
    with connect_raw(game_url) as game:
        rows = game.execute(query("demo_zoo_answers").encode(), [ids, archetypes, states])
        found = rows.fetchall()
    print("   monster  pack action  combat_dqn action  movement (probability)")
    for monster, pack, combat, move, probability in found:
        print(f"   {monster:7d}  {pack:11d}  {combat:17d}  {DIRECTIONS[move]} ({probability})")
    return [] if len(found) == len(ids) else ["the zoo answered fewer monsters than asked"]
