"""`make demo`: the product end to end, as a game server, an ML engineer and an operator use it.

1. The database is up and migrated (make db); the worker starts (`python -m worker`).
2. An untrained actor is registered and deployed for every archetype (the ML engineer's first day).
3. Phase one: a game server (scripts/game_server.py) plays pack fights on several maps through the
   SQL contract only, on a 100 ms tick; a quarter of the fights use the legacy gateway protocol.
4. A training job is queued with an INSERT; its progress bar is fed from the job's row while the
   fights go on; the trained actor is deployed with one UPDATE and the worker hot-reloads it.
5. Phase two: the same fights with the trained actor.
6. A summary of what ran, a PNG, the psql queries to look inside; the worker stops, the database
   stays up for inspection.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from config.queries import connect_raw, query
from config.settings import load_settings
from scripts.game_server import GameServer, PhaseStats
from scripts.health import print_health

ARCHETYPES = ("aggressive", "defensive", "support", "mage", "tank", "ranged")
OUT_DIR = Path("runs/demo")


#: The demo's training job: the simulator's standard scenario, sized for a few minutes on 2 cores.
def training_config(seconds: float) -> dict[str, Any]:
    return {
        "ctde": {
            "actor": {"hidden_dim": 64, "dropout": 0.0, "learning_rate": 0.0007},
            "critic": {"hidden_dims": [128, 128], "dropout": 0.0, "learning_rate": 0.001},
        },
        "advanced": {"curriculum_learning": True, "size_increase_interval": 15},
        "training": {
            "n_envs": 64,
            "rollout_length": 32,
            "total_updates": 2000,
            "time_budget_s": seconds,
            "eval_every": 25,
            "eval_episodes": 200,
            "checkpoint_every": 10,
            "register_archetypes": list(ARCHETYPES),
        },
    }


def start_worker(log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "worker"], stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ)
    )


def deploy_untrained(admin_url: str, run_tag: str) -> str:
    """Register a freshly initialized actor for every archetype and deploy it: phase one's
    'before'. The ML engineer's side: it uses the product's exporter and registry."""
    import torch

    from models.export.onnx import export_actor
    from models.export.registry import register_actor_sync
    from models.networks.ctde import DecentralizedActor

    torch.manual_seed(0)
    actor = DecentralizedActor(hidden_dim=64, dropout=0.0).eval()
    exported = export_actor(actor)
    version = f"untrained-{run_tag}"
    with connect_raw(admin_url) as conn:
        for archetype in ARCHETYPES:
            register_actor_sync(
                conn, exported, archetype=archetype, version=version, training_status="validated"
            )
        conn.execute(query("demo_deploy_version").encode(), (version,))
    return version


async def train_while_fighting(
    game: GameServer, admin_url: str, seconds: float, stats: PhaseStats
) -> tuple[int, dict[str, Any]]:
    """Queue the training job (an INSERT), show its progress from its row, keep the fights going."""
    from tqdm import tqdm

    with connect_raw(admin_url, autocommit=True) as conn:
        job = conn.execute(
            b"INSERT INTO ml_training_jobs (archetype, algorithm, config) "
            b"VALUES ('aggressive', 'mappo', $1) RETURNING id",
            (json.dumps(training_config(seconds)),),
        ).fetchone()
        assert job is not None
        job_id = int(job[0])
        print(f"\nINSERT INTO ml_training_jobs ... RETURNING id  -> training job {job_id}")
        bar = tqdm(total=100, desc="training (from the job's row)", unit="%", ncols=100)
        row: dict[str, Any] = {}
        while True:
            await game.run_for(2.0, stats)
            cur = conn.execute(
                b"SELECT status, progress, progress_detail, error, model_id, result "
                b"FROM ml_training_jobs WHERE id = $1",
                (job_id,),
            )
            names = [d.name for d in cur.description or []]
            values = cur.fetchone()
            assert values is not None
            row = dict(zip(names, values, strict=True))
            bar.n = round(100 * float(row["progress"]))
            detail = row["progress_detail"] or {}
            bar.set_postfix(
                update=detail.get("update", "-"),
                win=f"{detail['win_rate']:.2f}" if "win_rate" in detail else "-",
                status=row["status"],
            )
            bar.refresh()
            if row["status"] in ("done", "failed", "dead", "cancelled"):
                break
        bar.close()
    return job_id, row


async def wait_for_version(
    game: GameServer, version: str, stats: PhaseStats, limit_s: float
) -> float:
    """Fights go on until a decision comes back from the newly deployed model."""
    started = time.monotonic()
    stats.model_versions.clear()
    while version not in stats.model_versions and time.monotonic() - started < limit_s:
        await game.run_for(0.5, stats)
    return time.monotonic() - started


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def fmt(value: float, spec: str = ".1f") -> str:
    return "-" if isinstance(value, float) and math.isnan(value) else format(value, spec)


def summary_table(before: PhaseStats, after: PhaseStats, db: dict[str, Any]) -> str:
    rows = [
        ("fights finished", str(before.episodes), str(after.episodes)),
        ("win rate", fmt(100 * before.win_rate) + " %", fmt(100 * after.win_rate) + " %"),
        (
            "coordinated kills per fight",
            fmt(before.coordinated_kills / max(before.episodes, 1), ".2f"),
            fmt(after.coordinated_kills / max(after.episodes, 1), ".2f"),
        ),
        (
            "pack survival",
            fmt(before.pack_survival / max(before.episodes, 1), ".2f"),
            fmt(after.pack_survival / max(after.episodes, 1), ".2f"),
        ),
        (
            "decision latency p50 (ms)",
            fmt(percentile(before.latencies_ms, 50), ".2f"),
            fmt(percentile(after.latencies_ms, 50), ".2f"),
        ),
        (
            "decision latency p99 (ms)",
            fmt(percentile(before.latencies_ms, 99), ".2f"),
            fmt(percentile(after.latencies_ms, 99), ".2f"),
        ),
        ("pack decisions used", str(before.decisions), str(after.decisions)),
        ("missed deadlines (monsters)", str(before.missed), str(after.missed)),
        ("legacy gateway requests", str(before.gateway_requests), str(after.gateway_requests)),
        ("legacy answered within 15 ms", _share(before), _share(after)),
        ("signals sent", str(before.signals_sent), str(after.signals_sent)),
        ("episodes recorded", str(before.episodes_recorded), str(after.episodes_recorded)),
        (
            "model",
            ",".join(sorted(before.model_versions)) or "-",
            ",".join(sorted(after.model_versions)) or "-",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'':<{width}}  {'untrained':>14}  {'trained':>14}"]
    lines += [f"{name:<{width}}  {a:>14}  {b:>14}" for name, a, b in rows]
    lines.append("")
    for key, value in db.items():
        lines.append(f"{key:<{width}}  {value}")
    return "\n".join(lines)


def _share(stats: PhaseStats) -> str:
    if not stats.gateway_requests:
        return "-"
    answered = stats.gateway_requests - stats.gateway_missed
    return f"{100 * answered / stats.gateway_requests:.1f} %"


def database_figures(admin_url: str) -> dict[str, Any]:
    """What the database saw, from its own diagnostics views."""
    with connect_raw(admin_url) as conn:
        figures: dict[str, Any] = {}
        for name, sql in (
            ("signal activity", "demo_signal_activity"),
            ("packs", "demo_pack_counts"),
            ("jobs by status", "demo_jobs_by_status"),
        ):
            rows = conn.execute(query(sql).encode()).fetchall()
            figures[name] = ", ".join(f"{k}={v}" for k, v in rows) or "-"
        return figures


def write_png(game: GameServer, path: Path, marks: dict[str, float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not game.timeline:
        return
    t0 = marks.get("phase one", game.timeline[0]["t"])
    t = [p["t"] - t0 for p in game.timeline]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.plot(t, [100 * p["win_rate"] for p in game.timeline], marker="o", ms=3)
    top.set_ylabel("pack win rate (%), 5 s windows")
    top.set_ylim(0, 100)
    bottom.plot(t, [p["p50_ms"] for p in game.timeline], color="tab:orange", marker="o", ms=3)
    bottom.set_ylabel("decision latency p50 (ms)")
    bottom.set_xlabel("seconds since phase one began")
    for k, (label, at) in enumerate(marks.items()):
        for axis in (top, bottom):
            axis.axvline(at - t0, color="grey", ls="--", lw=1)
        # Labels on alternating heights: "deployed" and "phase two" are seconds apart.
        top.annotate(label, (at - t0, 98 - 8 * (k % 2)), fontsize=8, va="top")
    fig.suptitle("ragnarok-ml demo: untrained -> trained pack actor")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


PSQL_COOKBOOK = [
    ("Packs and their leaders", "SELECT * FROM ml.packs ORDER BY map_id LIMIT 10;"),
    ("Live signals by type, with time left", "SELECT * FROM ml.live_signals_by_type;"),
    (
        "Signals sent and expired per minute",
        "SELECT * FROM ml.signal_activity ORDER BY minute DESC LIMIT 5;",
    ),
    (
        "Monsters without a pack",
        "SELECT id, map_id, monsters_in_reach FROM ml.monsters_without_pack LIMIT 10;",
    ),
    ("Decision queue", "SELECT * FROM ml.queue_depth;"),
    ("Decisions per second and latency", "SELECT * FROM ml.job_throughput;"),
    (
        "Workers",
        "SELECT worker_id, status, jobs_done, seconds_since_heartbeat FROM ml.worker_status;",
    ),
    (
        "Deployed models",
        "SELECT archetype, version, deployed_at, "
        "metrics->'training'->'eval_win_rate' AS win FROM ml.deployed_models;",
    ),
    (
        "Training jobs",
        "SELECT id, status, round(progress::numeric, 2) AS progress, error "
        "FROM ml_training_jobs ORDER BY id DESC LIMIT 5;",
    ),
    (
        "Recorded fights",
        "SELECT outcome, count(*), round(avg(team_reward)::numeric, 2) "
        "FROM ml_pack_episodes GROUP BY outcome;",
    ),
]


def check_cookbook(admin_url: str) -> list[str]:
    """Run every query the demo recommends, so a recommended query never fails."""
    failures = []
    with connect_raw(admin_url, autocommit=True) as conn:
        for title, sql in PSQL_COOKBOOK:
            try:
                conn.execute(sql.encode()).fetchall()
            except psycopg.Error as exc:
                failures.append(f"{title}: {exc}")
    return failures


async def run_demo(args: argparse.Namespace) -> int:
    settings = load_settings()
    print("== the database ==")
    print_health(settings.admin_url)
    run_tag = time.strftime("%Y%m%d-%H%M%S")
    print("\n== the worker: python -m worker (log: runs/demo/worker.log) ==")
    worker = start_worker(OUT_DIR / "worker.log")
    try:
        version0 = deploy_untrained(settings.admin_url, run_tag)
        print(f"deployed an untrained actor for every archetype: version {version0}")
        game = GameServer(settings.game_url, n_fights=args.fights, legacy_share=args.legacy_share)
        await game.connect()
        try:
            warm = PhaseStats("warm-up")
            await wait_for_version(game, version0, warm, limit_s=60)
            print(
                f"\n== phase one: {args.phase_seconds:.0f} s of fights with the untrained actor =="
            )
            marks = {"phase one": time.monotonic()}
            before = await game.run_for(args.phase_seconds, PhaseStats("untrained"))
            print(f"   {before.episodes} fights, win rate {fmt(100 * before.win_rate)} %")
            print(f"\n== training: MAPPO on the simulator, at most {args.train_seconds:.0f} s ==")
            marks["training"] = time.monotonic()
            during = PhaseStats("training")
            job_id, job = await train_while_fighting(
                game, settings.admin_url, args.train_seconds, during
            )
            if job["status"] != "done":
                print(f"training job {job_id} ended {job['status']}: {job['error']}")
                return 1
            result = job["result"] or {}
            version1 = f"job{job_id}"
            print(
                f"training job {job_id} done: {result.get('updates')} updates, "
                f"{result.get('env_steps')} simulator steps, held-out win rate "
                f"{fmt(100 * float(result.get('eval_win_rate', math.nan)))} %"
            )
            with connect_raw(settings.admin_url, autocommit=True) as conn:
                conn.execute(query("demo_deploy_version").encode(), (version1,))
            print(f"UPDATE ml_models SET is_deployed = true WHERE version = '{version1}' ...")
            marks["deployed"] = time.monotonic()
            took = await wait_for_version(game, version1, during, limit_s=60)
            print(f"the worker hot-reloaded it; first decision from {version1} after {took:.1f} s")
            print(f"\n== phase two: {args.phase_seconds:.0f} s of fights with the trained actor ==")
            marks["phase two"] = time.monotonic()
            after = await game.run_for(args.phase_seconds, PhaseStats("trained"))
            figures = database_figures(settings.admin_url)  # before the packs leave the maps
            await game.despawn_all()
        finally:
            await game.close()
        print("\n== summary (every figure from this run) ==")
        print(summary_table(before, after, figures))
        png = OUT_DIR / "demo.png"
        write_png(game, png, marks)
        print(f"\nchart: {png} (win rate and decision latency over time)")
        failures = check_cookbook(settings.admin_url)
        print("\n== look inside with psql ==")
        print('   bash scripts/db_server.sh psql        (or psql "$DATABASE_URL")')
        for title, sql in PSQL_COOKBOOK:
            print(f"   -- {title}\n   {sql}")
        for failure in failures:
            print(f"   !! {failure}")
        return 1 if failures else 0
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
        print("\nthe worker stopped; the database stays up (make db-stop to stop it)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument(
        "--phase-seconds", type=float, default=float(os.environ.get("DEMO_PHASE_SECONDS", 60))
    )
    parser.add_argument(
        "--train-seconds", type=float, default=float(os.environ.get("DEMO_TRAIN_SECONDS", 240))
    )
    parser.add_argument("--fights", type=int, default=int(os.environ.get("DEMO_FIGHTS", 24)))
    parser.add_argument("--legacy-share", type=float, default=0.25)
    return asyncio.run(run_demo(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
