"""The model zoo's figures (bench/RESULTS.md, "Model zoo").

    python -m bench.zoo sizes              # the seed's full sizes: parameters, files, CPU latency
    python -m bench.zoo small [--workers 2] # train, evaluate and export all 54 at the small profile
    python -m bench.zoo serving            # ml.ask_model from the game server's role, vs a floor

`sizes` builds every model type at the seed's full size (untrained: sizes and speed do not
depend on the weights) and measures its parameters, its FP32 and FP16 ONNX files, ONNX Runtime's
CPU latency at batch 1 and 64 (one thread; median, p99 and rows per second, with the ratio to a
floor model run in the same process: one 64 -> 10 Gemm), and training seconds per 1,000 samples
(forward, backward and an Adam step on batches of 64). The files of all 54 are six times the nine
(one per archetype, same sizes), set beside the seed's 5.4 GB FP16.

`serving` deploys small-profile models (untrained: serving cost does not depend on the weights) in
a fresh database and times ml.ask_model as the game server calls it (psycopg, prepared, one
connection, the first call of each case outside the clock), at 1 and 64 rows, against its floor:
the same call shape answered by a statement that decides nothing (bench/sql/ask_model_floor.sql).

`small` runs `python -m models.zoo train|evaluate|export` for all 54 at the small profile in
`workers` processes (archetypes split between them), and prints each model's time, size and
validation line, and which reach the seed's bar at that size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import torch
from torch import nn

from bench.common import bench_sql, fresh_database, summarize, table, url_as
from models.export.onnx import convert_fp16
from models.zoo.export import export_fp32, export_model
from models.zoo.pipeline import call_times_ms, task
from models.zoo.registry import register_export
from models.zoo.store import ModelDir
from plpython.state_contract import ARCHETYPES
from plpython.zoo_types import ZOO_TYPES

SEED_FP16_GB = 5.4
RUNS = {1: 300, 64: 100}
TRAIN_BATCH = 64


def floor_model() -> bytes:
    return export_fp32(nn.Linear(64, 10), 64)


def train_seconds_per_1000(module: nn.Module, width: int, steps: int = 3) -> float:
    """Seconds of forward + backward + Adam per 1,000 samples (batches of 64, MSE to zeros)."""
    module.train()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-4)
    x = torch.rand(TRAIN_BATCH, width)
    out = module(x)  # a first step outside the clock (allocations)
    out.square().mean().backward()
    optimizer.step()
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()
        module(x).square().mean().backward()
        optimizer.step()
    module.eval()
    return (time.perf_counter() - start) / (steps * TRAIN_BATCH) * 1000.0


def hidden_of(module: nn.Module) -> int:
    return int(getattr(module, "hidden_dim", 0))


def sizes() -> list[dict[str, Any]]:
    torch.set_num_threads(1)
    floor = floor_model()
    floor_ms = {
        b: summarize(call_times_ms(floor, np.zeros((b, 64), np.float32), n))
        for b, n in RUNS.items()
    }
    rows: list[dict[str, Any]] = []
    total_fp16 = 0
    for name, spec in ZOO_TYPES.items():
        module = task(name).build("aggressive", "full").eval()
        width = spec.input_dim + hidden_of(module)
        fp32 = export_fp32(module, width)
        fp16 = convert_fp16(fp32)
        total_fp16 += len(fp16)
        row: dict[str, Any] = {
            "model_type": name,
            "params": f"{sum(p.numel() for p in module.parameters()):,}",
            "fp32_MB": f"{len(fp32) / 1e6:.1f}",
            "fp16_MB": f"{len(fp16) / 1e6:.1f}",
        }
        for batch, runs in RUNS.items():
            inputs = np.random.default_rng(0).random((batch, width), dtype=np.float32)
            stats = summarize(call_times_ms(fp32, inputs, runs))
            row[f"b{batch}_p50_ms"] = f"{stats['p50']:.2f}"
            row[f"b{batch}_p99_ms"] = f"{stats['p99']:.2f}"
            row[f"b{batch}_rows_s"] = f"{batch / stats['p50'] * 1000:,.0f}"
            row[f"b{batch}_x_floor"] = f"{stats['p50'] / floor_ms[batch]['p50']:.0f}"
        row["train_s_per_1k"] = f"{train_seconds_per_1000(module, width):.2f}"
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    rows.append(
        {
            "model_type": "54 models",
            "fp16_MB": f"{6 * total_fp16 / 1e6:.0f} (seed: {SEED_FP16_GB * 1000:.0f})",
        }
    )
    print(
        f"floor (64 -> 10 Gemm): b1 p50 {floor_ms[1]['p50']:.3f} ms, "
        f"b64 p50 {floor_ms[64]['p50']:.3f} ms"
    )
    return rows


def small(workers: int, root: Path) -> None:
    """All 54 at the small profile, archetypes split over `workers` processes."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    groups = [list(ARCHETYPES[i::workers]) for i in range(workers)]
    start = time.monotonic()
    procs = []
    for k, group in enumerate(groups):
        script = " && ".join(
            f"{sys.executable} -m models.zoo {step} --archetypes {' '.join(group)} "
            f"--model-types {' '.join(ZOO_TYPES)} --profile small --root {root}"
            + (" --verify" if step == "export" else "")
            for step in ("train", "evaluate", "export")
        )
        log = open(root.parent / f"zoo_small_{k}.log", "w")  # noqa: SIM115 (kept for the process)
        procs.append(subprocess.Popen(["bash", "-c", script], env=env, stdout=log, stderr=log))
    codes = [p.wait() for p in procs]
    wall = time.monotonic() - start
    rows = []
    for archetype in ARCHETYPES:
        for name in ZOO_TYPES:
            where = ModelDir(root, "small", archetype, name)
            trained = where.read_json("train.json") or {}
            report = where.read_json("report.json") or {"criteria": [], "passed": False}
            exported = where.read_json("export.json") or {}
            served = exported.get("served", "fp32")
            size = exported.get(served, {}).get("bytes", 0)
            rows.append(
                {
                    "archetype": archetype,
                    "model_type": name,
                    "train_s": f"{trained.get('seconds', float('nan')):.0f}",
                    "params": f"{trained.get('parameters', 0):,}",
                    "served_KiB": f"{size / 1024:.0f} {served}",
                    "bar": "yes" if report["passed"] else "no",
                    "validation": "; ".join(
                        f"{c['name']} {c['value']:.3g}{'' if c['passed'] else '!'}"
                        for c in report["criteria"]
                    ),
                }
            )
    print(table(rows, list(rows[0])))
    passed = sum(r["bar"] == "yes" for r in rows)
    print(
        f"wall {wall / 60:.1f} min with {workers} processes; exit codes {codes}; "
        f"{passed} of {len(rows)} reach the seed's bar at the small profile"
    )


ASK = "SELECT row_index, archetype, answer, outputs FROM ml.ask_model($1, $2::text[], $3::real[])"
SERVED = ("combat_dqn", "threat_assessment", "spatial_vit", "pattern_recognition")
CALLS = 300


def timed_calls(conn: psycopg.Connection[Any], sql: str, params: list[Any]) -> list[float]:
    with psycopg.RawCursor(conn) as cur:
        cur.execute(sql, params, prepare=True).fetchall()
        times = []
        for _ in range(CALLS):
            start = time.perf_counter()
            cur.execute(sql, params, prepare=True).fetchall()
            times.append((time.perf_counter() - start) * 1000.0)
    return times


def serving() -> list[dict[str, Any]]:
    torch.set_num_threads(1)
    db = "ragnarok_bench_zoo"
    admin = fresh_database(db)
    with psycopg.connect(admin) as conn:
        for name in SERVED:
            the_task = task(name)
            exported = export_model(
                ZOO_TYPES[name],
                the_task.build("tank", "small"),
                the_task.example_inputs("tank", 256, 0),
            )
            model = register_export(conn, "tank", name, "bench", exported.files, {})
            conn.execute("UPDATE ml.ml_models SET is_deployed = true WHERE id = %s", (model,))
            conn.commit()
    rows: list[dict[str, Any]] = []
    floor_sql = bench_sql("ask_model_floor")
    with psycopg.connect(url_as(db, role="ml_user"), autocommit=True) as game:
        for name in SERVED:
            for batch in (1, 64):
                inputs = task(name).example_inputs("tank", batch, 1).tolist()
                params = [name, ["tank"] * batch, inputs]
                product = summarize(timed_calls(game, ASK, params))
                floor = summarize(timed_calls(game, floor_sql, params))
                rows.append(
                    {
                        "model_type": name,
                        "rows": batch,
                        "p50_ms": f"{product['p50']:.3f}",
                        "p99_ms": f"{product['p99']:.3f}",
                        "rows/s": f"{batch / product['p50'] * 1000:,.0f}",
                        "floor_p50_ms": f"{floor['p50']:.3f}",
                        "floor_p99_ms": f"{floor['p99']:.3f}",
                        "p50/floor": f"{product['p50'] / floor['p50']:.1f}",
                    }
                )
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=("sizes", "small", "serving"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--root", type=Path, default=Path("runs/bench_zoo/zoo"))
    args = parser.parse_args()
    if args.what in ("sizes", "serving"):
        rows = sizes() if args.what == "sizes" else serving()
        print(table(rows, list(rows[0])))
    else:
        args.root.mkdir(parents=True, exist_ok=True)
        small(args.workers, args.root)


if __name__ == "__main__":
    main()
