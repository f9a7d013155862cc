"""Actor benchmark: sizes beside the seed's figures, ONNX Runtime CPU latency against torch eager.

    .venv/bin/python -m bench.actor            # full run, about a minute
    .venv/bin/python -m bench.actor --quick    # fewer iterations, for a smoke test

Both runtimes get one thread (ONNX Runtime intra_op_num_threads=1, inter_op_num_threads=1,
ORT_ENABLE_ALL; torch.set_num_threads(1)), the serving configuration of one worker process on this
2-core machine. Each latency is one `session.run` (or one eager forward under inference_mode) on
prepared inputs, warmed up first. The machine is shared: the load average is printed before and
after, and figures taken under load are not comparable.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from models.export.onnx import (
    OPSET,
    convert_fp16,
    export_actor,
    quantize_int8,
    quiet_tools,
    random_inputs,
    session,
)
from models.networks.ctde import CentralizedCritic, DecentralizedActor, count_parameters

SEED_FP16_MB = {"actor": 5.0, "critic": 20.0}
BATCHES = (1, 5, 256, 1024)
MB = 1e6


def export_critic(critic: CentralizedCritic) -> bytes:
    """The critic is never served; it is exported here only to measure its file sizes."""
    batch = torch.export.Dim("batch", min=1)
    example = (
        torch.zeros(2, critic.n_agents, critic.state_dim),
        torch.ones(2, critic.n_agents, dtype=torch.bool),
    )
    with quiet_tools(), torch.no_grad():
        program = torch.onnx.export(
            critic.eval(),
            example,
            dynamo=True,
            input_names=["global_state", "agent_mask"],
            output_names=["value"],
            dynamic_shapes=({0: batch}, {0: batch}),
            opset_version=OPSET,
            optimize=True,
            verbose=False,
        )
    assert program is not None
    return bytes(program.model_proto.SerializeToString())


def ort_call(sess: ort.InferenceSession, feeds: dict[str, np.ndarray]) -> Callable[[], Any]:
    return lambda: sess.run(None, feeds)


def torch_call(actor: DecentralizedActor, feeds: dict[str, np.ndarray]) -> Callable[[], Any]:
    state, signals, hidden = (torch.from_numpy(feeds[k]) for k in ("state", "signals", "hidden"))

    return lambda: actor(state, signals, hidden)


def timings_us(call: Callable[[], Any], iterations: int) -> np.ndarray:
    """Per-call wall time in microseconds, after iterations // 10 (at least 10) warm-up calls."""
    for _ in range(max(10, iterations // 10)):
        call()
    out = np.empty(iterations)
    for i in range(iterations):
        start = time.perf_counter_ns()
        call()
        out[i] = time.perf_counter_ns() - start
    return out / 1e3


def iterations_for(batch: int, quick: bool) -> int:
    n = 5000 if batch <= 5 else 500 if batch <= 256 else 200
    return max(20, n // 10) if quick else n


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke test)")
    args = parser.parse_args()

    print(f"start: {load()}")
    providers = ort.get_available_providers()
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}, providers {providers}")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    actor = DecentralizedActor().eval()
    critic = CentralizedCritic().eval()
    exported = export_actor(actor)
    critic_fp32 = export_critic(critic)
    critic_files = {
        "fp32": critic_fp32,
        "fp16": convert_fp16(critic_fp32),
        "int8": quantize_int8(critic_fp32),
    }

    print("\n## Sizes (ONNX files; seed 000 figures in the last column)")
    print("| network | parameters | FP32 MB | FP16 MB | INT8 MB | seed FP16 MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, net, files in (
        ("actor", actor, {p: exported.file(p) for p in ("fp32", "fp16", "int8")}),
        ("critic", critic, critic_files),
    ):
        sizes = " | ".join(f"{len(files[p]) / MB:.2f}" for p in ("fp32", "fp16", "int8"))
        print(f"| {name} | {count_parameters(net):,} | {sizes} | ~{SEED_FP16_MB[name]:.0f} |")

    onnx_metrics = exported.metrics["onnx"]
    print("\n## Export checks (random inputs)")
    fp32 = onnx_metrics["fp32"]
    print(
        f"FP32 vs torch: max |probs err| {fp32['max_abs_error_probs']:.2e}, "
        f"max |hidden err| {fp32['max_abs_error_hidden']:.2e}"
    )
    for p in ("fp16", "int8"):
        m = onnx_metrics[p]
        print(
            f"{p.upper()} vs FP32: action agreement {m['action_agreement']:.2%} over "
            f"{m['agreement_samples']} rows, max |probs err| {m['max_abs_error_probs']:.2e}"
        )

    sessions = {p: session(exported.file(p)) for p in ("fp32", "int8")}
    rng = np.random.default_rng(0)
    print("\n## Actor latency, CPU, one thread (microseconds per call: median / p99)")
    print(
        "| batch | ORT FP32 | ORT INT8 | torch eager FP32 | torch / ORT FP32 | torch / ORT INT8 |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for batch in BATCHES:
        feeds = random_inputs(actor, batch, rng)
        n = iterations_for(batch, args.quick)
        stats = {p: timings_us(ort_call(sess, feeds), n) for p, sess in sessions.items()}
        with torch.inference_mode():
            stats["torch"] = timings_us(torch_call(actor, feeds), n)
        med = {k: float(np.median(v)) for k, v in stats.items()}
        cell = {k: f"{med[k]:.1f} / {np.percentile(v, 99):.1f}" for k, v in stats.items()}
        ratios = f"{med['torch'] / med['fp32']:.1f}x | {med['torch'] / med['int8']:.1f}x"
        print(f"| {batch} | {cell['fp32']} | {cell['int8']} | {cell['torch']} | {ratios} |")

    if "CUDAExecutionProvider" in ort.get_available_providers():
        print("\n## Actor latency, CUDA FP16 (microseconds per call: median / p99)")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        cuda = ort.InferenceSession(
            exported.onnx_fp16, options, providers=["CUDAExecutionProvider"]
        )
        for batch in BATCHES:
            feeds = random_inputs(actor, batch, rng)
            t = timings_us(ort_call(cuda, feeds), iterations_for(batch, args.quick))
            print(f"| {batch} | {np.median(t):.1f} / {np.percentile(t, 99):.1f} |")
    else:
        print("\n(no CUDA execution provider here: no GPU figures)")
    print(f"\nend: {load()}")


if __name__ == "__main__":
    main()
