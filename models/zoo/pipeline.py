"""The zoo's five steps for one (archetype, model type): collect, train, evaluate, export, deploy.
The command line (models/zoo/__main__.py) runs them over the selected models; the tests and the
benchmark call them directly.
"""

from __future__ import annotations

import importlib
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from models.export.onnx import session
from models.zoo.base import Evaluation, Trained, ZooSettings, ZooTask
from models.zoo.export import ZooExport, export_fp32, export_model, run_onnx
from models.zoo.store import Checkpointer, ModelDir
from models.zoo.validation import report, with_latency
from plpython.zoo_types import ZOO_TYPES, zoo_type

PRECISIONS = ("fp32", "fp16", "int8")
LATENCY_RUNS = 200


def task(model_type: str) -> ZooTask:
    """The task module of a model type (models/zoo/tasks/<model_type>.py)."""
    zoo_type(model_type)  # KeyError naming the known types
    found: ZooTask = importlib.import_module(f"models.zoo.tasks.{model_type}").TASK
    return found


def collect(where: ModelDir, settings: ZooSettings) -> dict[str, np.ndarray]:
    data = task(where.model_type).collect(where.archetype, settings)
    if data:
        where.save_data(data)
    return data


def train(where: ModelDir, settings: ZooSettings, source: ModelDir | None = None) -> Trained:
    """Train (collecting first when a supervised task has no data yet); `source` is another
    archetype's trained model to start from (transfer learning)."""
    the_task = task(where.model_type)
    data = where.load_data()
    if data is None:
        data = collect(where, settings)
    init = source.load_module() if source is not None else None
    checkpoints = Checkpointer(where, settings.checkpoint_every, settings.keep_checkpoints)
    trained = the_task.train(where.archetype, settings, data, init, checkpoints)
    where.save_module(trained.module)
    where.write_json(
        "train.json",
        {
            "seconds": trained.seconds,
            "samples": trained.samples,
            "hidden_dim": trained.hidden_dim,
            "parameters": parameters(trained.module),
            "history": trained.history,
            "notes": trained.notes,
            "profile": settings.profile,
            "source_archetype": source.archetype if source is not None else None,
        },
    )
    return trained


def parameters(module: Any) -> int:
    return int(sum(p.numel() for p in module.parameters()))


def hidden_dim(where: ModelDir) -> int:
    info = where.read_json("train.json") or {}
    return int(info.get("hidden_dim", 0))


def serving_examples(where: ModelDir, n: int, seed: int) -> np.ndarray:
    """(n, width) inputs as serving sees them: the task's examples, and for a recurrent model a
    state in (-1, 1) appended (an LSTM's h and c stay there)."""
    examples = task(where.model_type).example_inputs(where.archetype, n, seed)
    hidden = hidden_dim(where)
    if hidden:
        rng = np.random.default_rng(seed)
        state = rng.uniform(-1, 1, (len(examples), hidden)).astype(np.float32)
        examples = np.concatenate([examples, state], axis=1)
    return examples.astype(np.float32)


def call_times_ms(model: bytes, inputs: np.ndarray, runs: int, warmup: int = 10) -> list[float]:
    """Milliseconds of each of `runs` ONNX Runtime calls (one thread) on `inputs`, after
    `warmup` calls outside the clock."""
    sess: ort.InferenceSession = session(model, threads=1)
    feed = {"inputs": inputs.astype(np.float32)}
    for _ in range(warmup):
        sess.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        sess.run(None, feed)
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def latency_ms(model: bytes, example: np.ndarray, runs: int = LATENCY_RUNS) -> dict[str, float]:
    """Median and p95 milliseconds of one ONNX Runtime call (one thread) on `example`."""
    times = call_times_ms(model, example, runs)
    return {"p50": float(np.median(times)), "p95": float(np.percentile(times, 95))}


def evaluate(where: ModelDir, settings: ZooSettings) -> dict[str, Any]:
    """Measure the trained model on its task and write its validation report; the latency is the
    FP32 graph's here, replaced by the served file's at export."""
    module = where.load_module()
    evaluation: Evaluation = task(where.model_type).evaluate(where.archetype, module, settings)
    example = serving_examples(where, 1, settings.seed + 7)
    fp32 = export_fp32(module, example.shape[1])
    latency = latency_ms(fp32, example)
    validation = report(
        where.archetype, where.model_type, settings.profile, evaluation, latency["p95"]
    )
    validation["latency_ms"] = {"fp32": latency}
    where.write_json("report.json", validation)
    return validation


def served_precision(files: dict[str, bytes]) -> str:
    """What a CPU serves (plpython/decisions.serving_payload): INT8, else FP32."""
    return "int8" if "int8" in files else "fp32"


def export(
    where: ModelDir, settings: ZooSettings, *, fp32_only: bool = False, optimize: bool = False
) -> ZooExport:
    """Export and verify the trained model; writes the files, export.json, and the served file's
    latency into the report."""
    module = where.load_module()
    spec = ZOO_TYPES[where.model_type]
    examples = serving_examples(where, 256, settings.seed + 11)
    exported = export_model(spec, module, examples, fp32_only=fp32_only)
    if optimize:
        exported.files["fp32"] = optimized(exported.files["fp32"], module, examples)
        exported.report["optimized"] = True
    for precision in PRECISIONS:
        path = where.file(f"model.{precision}.onnx")
        if precision in exported.files:
            path.write_bytes(exported.files[precision])
        elif path.exists():
            path.unlink()
    served = served_precision(exported.files)
    latency = latency_ms(exported.files[served], examples[:1])
    exported.report["served"] = served
    exported.report["latency_ms"] = {served: latency}
    where.write_json("export.json", exported.report)
    validation = where.read_json("report.json")
    if validation is not None:
        validation = with_latency(validation, latency["p95"])
        validation["latency_ms"] = {**validation.get("latency_ms", {}), served: latency}
        where.write_json("report.json", validation)
    return exported


def optimized(fp32: bytes, module: Any, examples: np.ndarray) -> bytes:
    """ONNX Runtime's portable (basic) graph optimizations applied offline, checked again."""
    import torch

    from models.zoo.export import PARITY_ATOL, ZooExportError

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "optimized.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(target)
        ort.InferenceSession(fp32, options, providers=["CPUExecutionProvider"])
        data = target.read_bytes()
    with torch.no_grad():
        reference = module(torch.as_tensor(examples)).numpy()
    worst = float(np.abs(run_onnx(data, examples) - reference).max())
    if not worst <= PARITY_ATOL:
        raise ZooExportError(f"the optimized graph differs from torch by {worst:.3g}")
    return data


def load_export(where: ModelDir) -> dict[str, bytes]:
    files = {
        p: where.file(f"model.{p}.onnx").read_bytes()
        for p in PRECISIONS
        if where.file(f"model.{p}.onnx").exists()
    }
    if "fp32" not in files:
        raise FileNotFoundError(
            f"{where.path} has no exported model: run `python -m models.zoo export` first"
        )
    return files
