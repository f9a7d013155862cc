"""`make demo`: the product end to end, as a game server, an ML engineer and an operator use it.

1. The database is up and migrated (make db); the worker starts (`python -m worker`).
2. Untrained models are registered and deployed for every archetype (the ML engineer's first day):
   a pack actor (7 pack actions, GRU) for pack requests and a combat policy (the game server's 10
   primitive actions and DEFER to its traditional AI, no GRU, no signals) for the legacy gateway.
3. Phase one: a game server (scripts/game_server.py) plays fights of the contract simulator on
   several maps through the SQL contract only, on a 100 ms tick: most as packs
   (ml.request_pack_actions, answered pack actions run through their recipes), a quarter through
   the legacy gateway protocol (ai_requests / ai_responses, action ids 0-9). A monster without an
   answer in time, or answered 255, acts by the traditional AI.
4. Two training jobs are queued with an INSERT each, one after the other (the pack actor, then the
   combat policy); each one's progress bar is fed from its row while the fights go on; both
   trained versions are deployed with an UPDATE each and the worker hot-reloads them.
5. Phase two: the same fights with the trained models.
6. The model zoo (docs/model_zoo.md): its combat DQN and movement policy are trained, validated,
   exported and deployed for the archetype with the most monsters, and asked through
   ml.ask_model beside the pack actor for the same live monsters.
7. A summary of both paths before and after, a PNG, the psql queries to look inside; the worker
   stops, the database stays up for inspection.
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

from config.model_types import ACTION_DIMS, COMBAT, PACK_COORDINATION
from config.queries import connect_raw, query
from config.settings import load_settings
from scripts.demo_zoo import show_zoo
from scripts.game_server import GameServer, PathStats, PhaseStats
from scripts.health import print_health

ARCHETYPES = ("aggressive", "defensive", "support", "mage", "tank", "ranged")
OUT_DIR = Path("runs/demo")
PACK_MODEL, COMBAT_MODEL = PACK_COORDINATION, COMBAT


def _networks() -> dict[str, Any]:
    """The demo's network sizes (both jobs start from them): small enough for minutes on 2 cores."""
    return {
        "actor": {"hidden_dim": 64, "dropout": 0.0, "learning_rate": 0.0007},
        "critic": {"hidden_dims": [128, 128], "dropout": 0.0, "learning_rate": 0.001},
    }


def _training(model_type: str, seconds: float) -> dict[str, Any]:
    """A job's run on the contract simulator within `seconds`, registered for every archetype."""
    return {
        "environment": "contract",
        "model_type": model_type,
        "n_envs": 64,
        "rollout_length": 32,
        "total_updates": 2000,
        "time_budget_s": seconds,
        "max_steps": 100,
        "eval_every": 25,
        "eval_episodes": 200,
        "checkpoint_every": 10,
        "register_archetypes": list(ARCHETYPES),
    }


def pack_training_config(seconds: float) -> dict[str, Any]:
    """The pack actor's job: MAPPO on the contract simulator, the seven pack actions run through
    their recipes, pack sizes 2 -> 5 by curriculum."""
    return {
        "ctde": _networks(),
        "advanced": {"curriculum_learning": True, "size_increase_interval": 15},
        "training": _training(PACK_MODEL, seconds),
    }


def combat_training_config(seconds: float) -> dict[str, Any]:
    """The combat policy's job: MAPPO on the contract simulator over the ten primitives and DEFER
    (the traditional AI, answered 255), for the legacy gateway (the model type leaves out the
    GRU and the signals; not set here)."""
    return {
        "ctde": _networks(),
        "advanced": {"curriculum_learning": False},
        "training": _training(COMBAT_MODEL, seconds),
    }


def start_worker(log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "worker"], stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ)
    )


def deploy_untrained(admin_url: str, run_tag: str) -> str:
    """Register a freshly initialized pack actor and combat policy for every archetype and deploy
    both: phase one's 'before'. The ML engineer's side: the product's exporter and registry."""
    import torch

    from models.export.onnx import export_actor
    from models.export.registry import register_actor_sync
    from models.networks.ctde import DecentralizedActor

    torch.manual_seed(0)
    pack_actor = DecentralizedActor(hidden_dim=64, dropout=0.0).eval()
    combat = DecentralizedActor(
        action_dim=ACTION_DIMS[COMBAT], use_gru=False, hidden_dim=64, dropout=0.0
    ).eval()
    version = f"untrained-{run_tag}"
    with connect_raw(admin_url) as conn:
        for model_type, actor in ((PACK_MODEL, pack_actor), (COMBAT_MODEL, combat)):
            exported = export_actor(actor)
            for archetype in ARCHETYPES:
                register_actor_sync(
                    conn,
                    exported,
                    archetype=archetype,
                    version=version,
                    model_type=model_type,
                    training_status="validated",
                )
        conn.execute(query("demo_deploy_version").encode(), (version,))
        conn.commit()
    return version


async def train_while_fighting(
    game: GameServer,
    admin_url: str,
    config: dict[str, Any],
    label: str,
    stats: PhaseStats,
) -> tuple[int, dict[str, Any]]:
    """Queue one training job (an INSERT), show its progress from its row, keep the fights going
    until it ends. The worker's training runner runs one job at a time."""
    from tqdm import tqdm

    with connect_raw(admin_url, autocommit=True) as conn:
        job = conn.execute(
            query("demo_queue_training_job").encode(),
            ("aggressive", "mappo", json.dumps(config)),
        ).fetchone()
        assert job is not None
        job_id = int(job[0])
        model_type = config["training"]["model_type"]
        print(
            f"INSERT INTO ml_training_jobs ... ({model_type}) RETURNING id -> training job {job_id}"
        )
        bar = tqdm(total=100, desc=f"{label} (from the job's row)", unit="%", ncols=100)
        row: dict[str, Any] = {}
        while True:
            await game.run_for(2.0, stats)
            cur = conn.execute(query("demo_training_job").encode(), (job_id,))
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


def paths_serving(game: GameServer, stats: PhaseStats, pack: str, combat: str) -> bool:
    """Both paths have answered from these versions (a path the game server does not play is
    served by definition)."""
    return (game.pack is None or pack in stats.pack.model_versions) and (
        game.legacy is None or combat in stats.legacy.model_versions
    )


async def wait_for_versions(
    game: GameServer, pack: str, combat: str, stats: PhaseStats, limit_s: float
) -> tuple[float, bool]:
    """Fights go on until a pack answer comes from version `pack` and a gateway answer from
    version `combat` (at most limit_s); returns the time taken and whether both came."""
    started = time.monotonic()
    stats.pack.model_versions.clear()
    stats.legacy.model_versions.clear()
    while not paths_serving(game, stats, pack, combat):
        if time.monotonic() - started >= limit_s:
            return time.monotonic() - started, False
        await game.run_for(0.5, stats)
    return time.monotonic() - started, True


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def fmt(value: float, spec: str = ".1f") -> str:
    return "-" if isinstance(value, float) and math.isnan(value) else format(value, spec)


#: Per path: what a request is, then who decided: the model, a 255 answer, a missed deadline.
PATH_LABELS = {
    "pack": (
        "monsters asked about",
        "decided by the model (pack action)",
        "answered 255 -> traditional AI",
        "missed deadline -> traditional AI",
    ),
    "legacy": (
        "gateway requests",
        "answered by the model (0-9)",
        "answered 255 (DEFER) -> traditional AI",
        "no answer in 15 ms -> traditional AI",
    ),
}


def _share(part: int, whole: int) -> str:
    return f"{part} ({100 * part / whole:.1f} %)" if whole else "-"


def _path_rows(path: str, before: PathStats, after: PathStats) -> list[tuple[str, str, str]]:
    """The rows one path shares with the other: outcomes, who decided, how fast, which model."""
    rows = [
        ("fights finished", str(before.fights), str(after.fights)),
        ("win rate", fmt(100 * before.win_rate) + " %", fmt(100 * after.win_rate) + " %"),
        (
            "players killed per fight",
            fmt(before.kills / max(before.fights, 1), ".2f"),
            fmt(after.kills / max(after.fights, 1), ".2f"),
        ),
        (
            "pack survival",
            fmt(before.pack_survival / max(before.fights, 1), ".2f"),
            fmt(after.pack_survival / max(after.fights, 1), ".2f"),
        ),
    ]
    # Who decided each monster's action, in each path's own words.
    labels = PATH_LABELS[path]
    rows.append((labels[0], str(before.requests), str(after.requests)))
    deciders = ("decisions", "answered_traditional", "missed")
    for label, field in zip(labels[1:], deciders, strict=True):
        rows.append(
            (
                label,
                _share(getattr(before, field), before.requests),
                _share(getattr(after, field), after.requests),
            )
        )
    rows += [
        (
            "answer latency p50 (ms)",
            fmt(percentile(before.latencies_ms, 50), ".2f"),
            fmt(percentile(after.latencies_ms, 50), ".2f"),
        ),
        (
            "answer latency p99 (ms)",
            fmt(percentile(before.latencies_ms, 99), ".2f"),
            fmt(percentile(after.latencies_ms, 99), ".2f"),
        ),
        (
            "model",
            ",".join(sorted(before.model_versions)) or "-",
            ",".join(sorted(after.model_versions)) or "-",
        ),
    ]
    return [(f"  {name}", a, b) for name, a, b in rows]


def summary_table(
    before: PhaseStats, after: PhaseStats, trained: dict[str, str], db: dict[str, Any]
) -> str:
    rows: list[tuple[str, str, str]] = [
        ("pack path (ml.request_pack_actions)", "", ""),
        *_path_rows("pack", before.pack, after.pack),
        ("legacy path (ai_requests / ai_responses)", "", ""),
        *_path_rows("legacy", before.legacy, after.legacy),
        ("signals sent", str(before.signals_sent), str(after.signals_sent)),
        ("pack episodes recorded", str(before.episodes_recorded), str(after.episodes_recorded)),
    ]
    width = max(len(r[0]) for r in rows)
    cell = max(len(v) for r in rows for v in (*r[1:], "untrained"))
    lines = [f"{'':<{width}}  {'untrained':>{cell}}  {'trained':>{cell}}"]
    lines += [f"{name:<{width}}  {a:>{cell}}  {b:>{cell}}" for name, a, b in rows]
    lines.append("")
    for key, value in {**trained, **db}.items():
        lines.append(f"{key:<{width}}  {value}")
    return "\n".join(lines)


def database_figures(admin_url: str) -> dict[str, Any]:
    """What the database saw, from its own diagnostics views."""
    with connect_raw(admin_url) as conn:
        figures: dict[str, Any] = {}
        for name, sql in (
            ("signal activity", "demo_signal_activity"),
            ("packs", "demo_pack_counts"),
            ("jobs by status", "demo_jobs_by_status"),
            ("gateway states vs the contract", "demo_contract_violations"),
            ("gateway decided", "demo_gateway_serving"),
        ):
            rows = conn.execute(query(sql).encode()).fetchall()
            figures[name] = ", ".join(k if v is None else f"{k}={v}" for k, v in rows) or "-"
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
    for key, label in (("pack", "pack path"), ("legacy", "legacy path")):
        top.plot(
            t, [100 * p[f"{key}_win_rate"] for p in game.timeline], marker="o", ms=3, label=label
        )
        bottom.plot(t, [p[f"{key}_p50_ms"] for p in game.timeline], marker="o", ms=3, label=label)
    top.set_ylabel("win rate (%), 5 s windows")
    top.set_ylim(0, 100)
    top.legend(loc="lower right", fontsize=8)
    bottom.set_ylabel("answer latency p50 (ms)")
    bottom.set_xlabel("seconds since phase one began")
    for k, (label, at) in enumerate(marks.items()):
        for axis in (top, bottom):
            axis.axvline(at - t0, color="grey", ls="--", lw=1)
        # Labels on alternating heights: "deployed" and "phase two" are seconds apart.
        top.annotate(label, (at - t0, 98 - 8 * (k % 2)), fontsize=8, va="top")
    fig.suptitle("ragnarok-ml demo: untrained -> trained pack actor and combat policy")
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


async def train_one(
    game: GameServer,
    admin_url: str,
    config: dict[str, Any],
    label: str,
    stats: PhaseStats,
) -> tuple[str, dict[str, Any]] | None:
    """One training job to its end; its version and result, or None when it did not finish."""
    job_id, job = await train_while_fighting(game, admin_url, config, label, stats)
    if job["status"] != "done":
        print(f"training job {job_id} ended {job['status']}: {job['error']}")
        return None
    result: dict[str, Any] = job["result"] or {}
    print(
        f"training job {job_id} done: {result.get('updates')} updates, "
        f"{result.get('env_steps')} simulator steps, held-out win rate "
        f"{fmt(100 * float(result.get('eval_win_rate', math.nan)))} %"
    )
    return f"job{job_id}", result


def _held_out(result: dict[str, Any], seconds: float) -> str:
    win = fmt(100 * float(result.get("eval_win_rate", math.nan)))
    return (
        f"{win} % held-out win rate in the simulator, {result.get('updates')} updates, "
        f"{result.get('env_steps')} steps, budget {seconds:.0f} s"
    )


async def run_demo(args: argparse.Namespace) -> int:
    settings = load_settings()
    print("== the database ==")
    print_health(settings.admin_url)
    run_tag = time.strftime("%Y%m%d-%H%M%S")
    print("\n== the worker: python -m worker (log: runs/demo/worker.log) ==")
    worker = start_worker(OUT_DIR / "worker.log")
    try:
        version0 = deploy_untrained(settings.admin_url, run_tag)
        print(
            "deployed an untrained pack actor and combat policy for every archetype: "
            f"version {version0}"
        )
        game = GameServer(settings.game_url, n_fights=args.fights, legacy_share=args.legacy_share)
        await game.connect()
        try:
            warm = PhaseStats("warm-up")
            await wait_for_versions(game, version0, version0, warm, limit_s=60)
            print(f"\n== phase one: {args.phase_seconds:.0f} s of fights, untrained models ==")
            marks = {"phase one": time.monotonic()}
            before = await game.run_for(args.phase_seconds, PhaseStats("untrained"))
            print(
                f"   pack path {before.pack.fights} fights, win rate "
                f"{fmt(100 * before.pack.win_rate)} %; legacy path {before.legacy.fights} fights, "
                f"win rate {fmt(100 * before.legacy.win_rate)} %"
            )
            marks["training"] = time.monotonic()
            during = PhaseStats("training")
            trained: dict[str, str] = {}
            versions: dict[str, str] = {}
            for model_type, config, seconds, label in (
                (
                    PACK_MODEL,
                    pack_training_config(args.pack_train_seconds),
                    args.pack_train_seconds,
                    "pack actor",
                ),
                (
                    COMBAT_MODEL,
                    combat_training_config(args.combat_train_seconds),
                    args.combat_train_seconds,
                    "combat policy",
                ),
            ):
                print(
                    f"\n== training the {label}: MAPPO on the contract simulator, "
                    f"at most {seconds:.0f} s =="
                )
                done = await train_one(game, settings.admin_url, config, label, during)
                if done is None:
                    return 1
                versions[model_type], result = done
                trained[f"{label} ({versions[model_type]})"] = _held_out(result, seconds)
            with connect_raw(settings.admin_url, autocommit=True) as conn:
                for version in versions.values():
                    conn.execute(query("demo_deploy_version").encode(), (version,))
                    print(
                        f"UPDATE ml_models SET is_deployed = true WHERE version = '{version}' ..."
                    )
            marks["deployed"] = time.monotonic()
            took, served = await wait_for_versions(
                game, versions[PACK_MODEL], versions[COMBAT_MODEL], during, limit_s=60
            )
            if served:
                print(
                    f"the worker hot-reloaded both; both paths answer from them after {took:.1f} s"
                )
            else:
                print(
                    f"after {took:.0f} s, pack answers from {sorted(during.pack.model_versions)}, "
                    f"gateway answers from {sorted(during.legacy.model_versions)}"
                )
            print(f"\n== phase two: {args.phase_seconds:.0f} s of fights, trained models ==")
            marks["phase two"] = time.monotonic()
            after = await game.run_for(args.phase_seconds, PhaseStats("trained"))
            figures = database_figures(settings.admin_url)  # before the packs leave the maps
            print("\n== the model zoo: combat and movement models beside the pack actor ==")
            zoo_failures = show_zoo(settings.admin_url, settings.game_url, OUT_DIR / "zoo")
            await game.despawn_all()
        finally:
            await game.close()
        print("\n== summary (every figure from this run) ==")
        print(summary_table(before, after, trained, figures))
        png = OUT_DIR / "demo.png"
        write_png(game, png, marks)
        print(f"\nchart: {png} (win rates and answer latency of both paths over time)")
        failures = zoo_failures + check_cookbook(settings.admin_url)
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
        "--pack-train-seconds",
        type=float,
        default=float(os.environ.get("DEMO_PACK_TRAIN_SECONDS", 240)),
        help="the pack actor's training budget",
    )
    parser.add_argument(
        "--combat-train-seconds",
        type=float,
        default=float(os.environ.get("DEMO_COMBAT_TRAIN_SECONDS", 150)),
        help="the combat policy's training budget",
    )
    parser.add_argument("--fights", type=int, default=int(os.environ.get("DEMO_FIGHTS", 24)))
    parser.add_argument("--legacy-share", type=float, default=0.25)
    return asyncio.run(run_demo(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
