"""Monster writes from several connections at once: how often PostgreSQL aborts one as a deadlock.

    python -m bench.sync_contention [--seconds S]

A game server may sync its tick on one connection while despawning a monster on another, and
pg_cron re-forms the packs of maps whose monsters moved. Here, in a fresh benchmark database, for
S seconds each scenario: connections as `ml_user` sync 12 of 20 monsters a call (on two maps,
positions at random: spawns, moves, map changes), despawn one at random, and one connection as
the owner runs `CALL ml.form_dirty_packs()` every 50 ms, as pg_cron would. It prints the calls
made and the deadlocks PostgreSQL detected (each one a call the game server saw fail with
SQLSTATE 40P01 after `deadlock_timeout`), with the first deadlock's detail. The count of a run
depends on timing; what matters is whether it is zero.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg

from bench.common import fresh_database, table, url_as

DB = "ragnarok_ml_contention"
MONSTERS = range(1, 21)


def monsters(rng: random.Random) -> str:
    return json.dumps(
        [
            {
                "id": m,
                "mob_id": 1002,
                "archetype": "tank",
                "map_id": rng.choice([1, 2]),
                "x": 100 + rng.randint(0, 8),
                "y": 100,
                "hp_ratio": 1.0,
                "leadership_score": rng.random(),
                "state": [0.1] * 64,
            }
            for m in rng.sample(MONSTERS, 12)
        ]
    )


class Scenario:
    """Threads that call until the deadline, counting calls, deadlocks and other errors."""

    def __init__(self, game_url: str, admin_url: str, seconds: float) -> None:
        self.game_url, self.admin_url = game_url, admin_url
        self.deadline = time.monotonic() + seconds
        self.counts: Counter[str] = Counter()
        self.first_deadlock = ""
        self.lock = threading.Lock()

    def _loop(self, url: str, name: str, call: Callable[[psycopg.Connection[Any]], object]) -> None:
        with self.lock:
            for outcome in ("calls", "deadlocks"):
                self.counts[outcome] += 0
                self.counts[f"{name} {outcome}"] += 0
        with psycopg.connect(url, autocommit=True) as conn:
            while time.monotonic() < self.deadline:
                outcome = "calls"
                try:
                    call(conn)
                except psycopg.errors.NoDataFound:
                    pass  # despawning a monster already gone: the API's answer, not a failure
                except psycopg.errors.DeadlockDetected as exc:
                    outcome = "deadlocks"
                    with self.lock:
                        self.first_deadlock = self.first_deadlock or f"{name}: {exc}"
                with self.lock:
                    self.counts[outcome] += 1
                    self.counts[f"{name} {outcome}"] += 1

    def _caller(
        self, url: str, name: str, call: Callable[[psycopg.Connection[Any]], object]
    ) -> threading.Thread:
        """A thread that makes `call` on its own connection to `url` until the deadline."""
        return threading.Thread(target=self._loop, args=(url, name, call))

    def syncer(self, seed: int) -> threading.Thread:
        rng = random.Random(seed)
        return self._caller(
            self.game_url,
            "sync",
            lambda c: c.execute("SELECT ml.sync_monsters(%s::jsonb)", (monsters(rng),)),
        )

    def despawner(self, seed: int) -> threading.Thread:
        rng = random.Random(seed)
        return self._caller(
            self.game_url,
            "despawn",
            lambda c: c.execute("SELECT ml.despawn_monster(%s)", (rng.choice(MONSTERS),)),
        )

    def former(self) -> threading.Thread:
        def form(conn: psycopg.Connection[Any]) -> None:
            conn.execute("CALL ml.form_dirty_packs()")
            time.sleep(0.05)

        return self._caller(self.admin_url, "form", form)

    def run(self, threads: list[threading.Thread]) -> dict[str, object]:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return dict(self.counts)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="per scenario (default 30)")
    args = parser.parse_args()
    admin = fresh_database(DB)
    game = url_as(DB, "ml_user")
    rows = []
    scenarios: list[tuple[str, Callable[[Scenario], list[threading.Thread]]]] = [
        ("1 sync + pg_cron's formation", lambda s: [s.syncer(1), s.former()]),
        ("1 sync + 1 despawn + formation", lambda s: [s.syncer(1), s.despawner(3), s.former()]),
        ("2 syncs (overlapping monsters)", lambda s: [s.syncer(1), s.syncer(2)]),
    ]
    details = []
    for name, threads in scenarios:
        scenario = Scenario(game, admin, args.seconds)
        counts = scenario.run(threads(scenario))
        rows.append({"scenario": name, **counts})
        if scenario.first_deadlock:
            details.append(
                f"{name}: first deadlock\n  " + scenario.first_deadlock.replace("\n", "\n  ")
            )
    columns = ["scenario", "calls", "deadlocks"]
    columns += sorted({k for r in rows for k in r} - set(columns))
    print(table(rows, columns))
    for detail in details:
        print("\n" + detail)


if __name__ == "__main__":
    main()
