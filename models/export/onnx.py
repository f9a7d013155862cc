"""Export the decentralized actor to ONNX: FP32, FP16 (GPU serving), INT8 (CPU serving).

Nothing leaves this module unverified:
- every FP32 graph is run in ONNX Runtime against the torch actor on random inputs at several batch
  sizes; the largest absolute difference of action_probs and hidden_out must be <= 1e-5
  (`check_parity`). This is what catches the known GRU pitfall: an exporter path that writes
  `linear_before_reset=0` computes r * (W_hn h) as W_hn (r * h), a different network;
- the FP16 and INT8 files are compared with the FP32 file on the same random inputs: the share of
  rows whose argmax action is the same is their action agreement, which the registry requires to be
  >= 99%.

The I/O contract the worker relies on is in docs/onnx_contract.md: inputs `state` (B, 64),
`signals` (B, 32), `hidden` (B, H) and outputs `action_probs` (B, 7), `hidden_out` (B, H), all
float32, B dynamic; an actor without GRU has neither `hidden` nor `hidden_out`.

ONNX Runtime quantizes no GRU op, so the INT8 file is quantized from a second FP32 graph of the same
actor in which the GRU step is written out as two Gemms and its gates (`GemmGRUActor`); that graph
passes the same parity check before it is quantized. Weights are int8 per output channel; the
layers that read raw inputs and the decision MLP stay FP32 (`float_sensitive_weights`).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from models.networks.ctde import DecentralizedActor, ServedActor, count_parameters

OPSET = 18
PARITY_ATOL = 1e-5
MIN_ACTION_AGREEMENT = 0.99
PARITY_BATCH_SIZES = (1, 7, 64)
AGREEMENT_SAMPLES = 4096

STATE, SIGNALS, HIDDEN = "state", "signals", "hidden"
ACTION_PROBS, HIDDEN_OUT = "action_probs", "hidden_out"
PRECISIONS = ("fp32", "fp16", "int8")


class OnnxParityError(RuntimeError):
    """An exported graph does not compute what the torch actor computes."""


class ExportRejectedError(RuntimeError):
    """An export whose parity or action agreement is below the registry's thresholds."""


class OnnxActor(nn.Module):
    """The graph that is exported: the eval-mode actor with signals always fed (zeros = none)."""

    def __init__(self, actor: ServedActor) -> None:
        super().__init__()
        self.actor = actor

    def forward(
        self, state: torch.Tensor, signals: torch.Tensor, hidden: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor] | torch.Tensor:
        probs, next_hidden = self.actor(state, signals, hidden)
        return probs if next_hidden is None else (probs, next_hidden)


class GemmGRUActor(OnnxActor):
    """The same function with the GRU step spelled out (PyTorch's GRU, linear_before_reset):

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

    so that the input and recurrent projections are plain Gemms that dynamic quantization reaches.
    """

    def forward(
        self, state: torch.Tensor, signals: torch.Tensor, hidden: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor] | torch.Tensor:
        actor = self.actor
        assert isinstance(actor, DecentralizedActor), "GemmGRUActor spells out DecentralizedActor"
        gru = actor.gru
        assert gru is not None, "GemmGRUActor needs an actor with a GRU"
        assert hidden is not None, "GemmGRUActor needs the hidden input"
        x = actor.state_encoder(state)
        w_ih, b_ih = gru.get_parameter("weight_ih_l0"), gru.get_parameter("bias_ih_l0")
        w_hh, b_hh = gru.get_parameter("weight_hh_l0"), gru.get_parameter("bias_hh_l0")
        gates_x = nn.functional.linear(x, w_ih, b_ih)  # (B, 3H): [r | z | n] input parts
        gates_h = nn.functional.linear(hidden, w_hh, b_hh)  # (B, 3H): [r | z | n] recurrent parts
        x_r, x_z, x_n = gates_x.chunk(3, dim=-1)
        h_r, h_z, h_n = gates_h.chunk(3, dim=-1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        next_hidden = (1 - z) * n + z * hidden
        features = torch.cat([next_hidden, actor.signal_encoder(signals)], dim=-1)
        probs = torch.softmax(actor.decision(features), dim=-1)
        return probs, next_hidden


@contextmanager
def quiet_tools() -> Iterator[None]:
    """The exporters and converters warn about their own internals; none of it concerns us.

    ONNX Runtime's quantizer also logs through the root logger's module functions, which install a
    handler on the root logger when it has none (logging.basicConfig): that handler is removed.
    """
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "onnxscript", "onnx_ir")]
    levels = [lg.level for lg in loggers]
    root = logging.getLogger()
    root_handlers, root_level = list(root.handlers), root.level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)
            for handler in root.handlers[:]:
                if handler not in root_handlers:
                    root.removeHandler(handler)
            root.setLevel(root_level)


def _names(actor: ServedActor) -> tuple[list[str], list[str]]:
    if actor.use_gru:
        return [STATE, SIGNALS, HIDDEN], [ACTION_PROBS, HIDDEN_OUT]
    return [STATE, SIGNALS], [ACTION_PROBS]


def export_fp32(actor: ServedActor, gemm_gru: bool = False, opset: int = OPSET) -> bytes:
    """FP32 ONNX bytes of the eval-mode actor (torch.export-based exporter), dynamic batch.

    gemm_gru: write the GRU step as Gemms (GemmGRUActor) instead of the ONNX GRU op.
    """
    if gemm_gru and not actor.use_gru:
        raise ValueError("gemm_gru needs an actor with a GRU")
    inputs, outputs = _names(actor)
    widths = {STATE: actor.state_dim, SIGNALS: actor.signal_dim, HIDDEN: actor.hidden_dim}
    # Batch 2 as the example: torch.export specializes a dimension of size 1.
    example = tuple(torch.zeros(2, widths[name]) for name in inputs)
    batch = torch.export.Dim("batch", min=1)
    module = (GemmGRUActor if gemm_gru else OnnxActor)(actor)
    was_training = actor.training
    actor.eval()
    try:
        with quiet_tools(), torch.no_grad():
            program = torch.onnx.export(
                module,
                example,
                dynamo=True,
                input_names=inputs,
                output_names=outputs,
                dynamic_shapes=tuple({0: batch} for _ in inputs),
                opset_version=opset,
                optimize=True,
                verbose=False,
            )
    finally:
        actor.train(was_training)
    assert program is not None
    model = program.model_proto
    model.doc_string = f"ragnarok-ml {type(actor).__name__}; contract: docs/onnx_contract.md"
    return bytes(model.SerializeToString())


def session(model: bytes, threads: int = 1) -> ort.InferenceSession:
    """CPU session with the options the product serves with (docs/onnx_contract.md)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def random_inputs(
    actor: ServedActor, batch: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Inputs in the ranges serving sees: states ~ N(0, 1), sparse signals in [0, 1], GRU state in
    (-1, 1) (a tanh/sigmoid blend)."""
    signals = rng.random((batch, actor.signal_dim), dtype=np.float32)
    signals *= rng.random((batch, actor.signal_dim)) < 0.25
    feeds = {
        STATE: rng.standard_normal((batch, actor.state_dim), dtype=np.float32),
        SIGNALS: signals.astype(np.float32),
    }
    if actor.use_gru:
        feeds[HIDDEN] = rng.uniform(-1, 1, (batch, actor.hidden_dim)).astype(np.float32)
    return feeds


def torch_reference(
    actor: ServedActor, feeds: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray | None]:
    """(probs, hidden) of the eval-mode torch actor, the ground truth of every check."""
    was_training = actor.training
    actor.eval()
    try:
        with torch.no_grad():
            hidden = torch.from_numpy(feeds[HIDDEN]) if HIDDEN in feeds else None
            probs, next_hidden = actor(
                torch.from_numpy(feeds[STATE]), torch.from_numpy(feeds[SIGNALS]), hidden
            )
    finally:
        actor.train(was_training)
    return probs.numpy(), None if next_hidden is None else next_hidden.numpy()


@dataclass(frozen=True)
class ParityReport:
    """Largest absolute ONNX-vs-torch differences over every checked batch."""

    max_abs_error_probs: float
    max_abs_error_hidden: float
    batch_sizes: tuple[int, ...]


def check_parity(
    actor: ServedActor,
    model: bytes,
    atol: float = PARITY_ATOL,
    batch_sizes: tuple[int, ...] = PARITY_BATCH_SIZES,
    seed: int = 0,
) -> ParityReport:
    """Run `model` in ONNX Runtime and the actor in torch on the same random inputs; raise
    OnnxParityError when action_probs or hidden_out differ by more than atol anywhere."""
    rng = np.random.default_rng(seed)
    sess = session(model)
    err_probs = err_hidden = 0.0
    for batch in batch_sizes:
        feeds = random_inputs(actor, batch, rng)
        outputs = sess.run(None, feeds)
        probs, hidden = torch_reference(actor, feeds)
        if outputs[0].shape != probs.shape:
            raise OnnxParityError(f"action_probs shape {outputs[0].shape}, torch {probs.shape}")
        err_probs = max(err_probs, float(np.abs(outputs[0] - probs).max()))
        if hidden is not None:
            err_hidden = max(err_hidden, float(np.abs(outputs[1] - hidden).max()))
    report = ParityReport(err_probs, err_hidden, batch_sizes)
    # `not <=` so that a NaN difference fails too.
    if not (err_probs <= atol and err_hidden <= atol):
        raise OnnxParityError(
            f"ONNX graph disagrees with the torch actor: max |action_probs error| = "
            f"{err_probs:.3g}, max |hidden_out error| = {err_hidden:.3g} (allowed {atol:g})"
        )
    return report


def convert_fp16(fp32: bytes) -> bytes:
    """FP16 weights and arithmetic, FP32 inputs and outputs (the worker feeds float32 anyway)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    with quiet_tools():
        model = convert_float_to_float16(onnx.load_from_string(fp32), keep_io_types=True)
    return bytes(model.SerializeToString())


def float_weights(model: onnx.ModelProto) -> set[str]:
    """Names of the model's FP32 initializers, as the exporter named them. Since ONNX Runtime 1.32
    the quantizer stores an excluded Gemm's weight transposed, as "<name>_Transposed"."""
    return {
        init.name.removesuffix("_Transposed")
        for init in model.graph.initializer
        if init.data_type == onnx.TensorProto.FLOAT
    }


def quantize_int8(fp32: bytes, keep_float_weights: Sequence[str] = ()) -> bytes:
    """INT8 dynamic quantization: int8 weights per output channel, activations quantized at run
    time. The Gemms whose weight initializers are named in keep_float_weights stay FP32."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    model = onnx.load_from_string(fp32)
    # The exporter's value_info also describes the weights; the quantizer transposes some of them,
    # and stale shapes would then fail its shape inference. Shapes are re-inferred anyway.
    del model.graph.value_info[:]
    with tempfile.TemporaryDirectory() as tmp, quiet_tools():
        source, prepared, target = (Path(tmp) / f"{n}.onnx" for n in ("fp32", "prep", "int8"))
        source.write_bytes(model.SerializeToString())
        # ONNX Runtime's recommended preparation: graph optimization and ONNX shape inference (its
        # symbolic shape inference is for transformer graphs and trips over attention masks).
        quant_pre_process(source, prepared, skip_symbolic_shape=True)
        keep = {
            node.name
            for node in onnx.load(prepared).graph.node
            if node.op_type in ("Gemm", "MatMul") and set(node.input) & set(keep_float_weights)
        }
        # The quantizer rewrites a Gemm as "<name>_MatMul" before it looks at the exclusions.
        excluded = sorted(keep | {f"{name}_MatMul" for name in keep})
        quantize_dynamic(
            prepared,
            target,
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=excluded,
        )
        quantized = onnx.load_from_string(target.read_bytes())
    missing = sorted(set(keep_float_weights) - float_weights(quantized))
    if missing:
        raise RuntimeError(f"INT8 quantization did not keep {missing} in FP32")
    return bytes(quantized.SerializeToString())


def float_sensitive_weights(actor: ServedActor) -> list[str]:
    """Weights the INT8 file keeps in FP32, as the actor names them
    (`ServedActor.float_sensitive_weights`: for the product's actor the layers that read raw
    inputs and the decision MLP; the bulk that is quantized is the state encoder's second layer and
    the GRU)."""
    return actor.float_sensitive_weights()


@dataclass(frozen=True)
class AgreementReport:
    """How often a reduced-precision file picks the FP32 file's action."""

    action_agreement: float
    max_abs_error_probs: float
    samples: int


def action_agreement(
    reference: bytes, candidate: bytes, feeds: Mapping[str, np.ndarray]
) -> AgreementReport:
    """Share of rows where argmax(action_probs) of `candidate` equals that of `reference`."""
    ref = session(reference).run([ACTION_PROBS], dict(feeds))[0]
    got = session(candidate).run([ACTION_PROBS], dict(feeds))[0]
    agree = float((ref.argmax(axis=1) == got.argmax(axis=1)).mean())
    return AgreementReport(agree, float(np.abs(ref - got).max()), int(ref.shape[0]))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ExportedActor:
    """The three verified ONNX files of one actor and what was measured on them."""

    onnx_fp32: bytes
    onnx_fp16: bytes
    onnx_int8: bytes
    state_dim: int
    signal_dim: int
    action_dim: int
    hidden_dim: int
    """Width of `hidden`/`hidden_out`; 0 for an actor without GRU (no such input/output)."""
    metrics: dict[str, Any] = field(default_factory=dict)

    def file(self, precision: str) -> bytes:
        return {"fp32": self.onnx_fp32, "fp16": self.onnx_fp16, "int8": self.onnx_int8}[precision]

    def write(self, path: str | Path) -> dict[str, Path]:
        """Write the files: FP32 at `path` (x.onnx), FP16 and INT8 beside it (x.fp16.onnx,
        x.int8.onnx). Returns precision -> path."""
        fp32 = Path(path)
        fp32.parent.mkdir(parents=True, exist_ok=True)
        stem = fp32.name.removesuffix(".onnx")
        paths = {"fp32": fp32}
        paths.update({p: fp32.with_name(f"{stem}.{p}.onnx") for p in ("fp16", "int8")})
        for precision, target in paths.items():
            target.write_bytes(self.file(precision))
        return paths

    def check_thresholds(self) -> None:
        """ExportRejectedError unless FP32 parity <= 1e-5 and both agreements >= 99%."""
        onnx_metrics = self.metrics.get("onnx", {})
        parity = onnx_metrics.get("fp32", {})
        errors = (parity.get("max_abs_error_probs"), parity.get("max_abs_error_hidden"))
        if any(e is None or not e <= PARITY_ATOL for e in errors):
            raise ExportRejectedError(f"FP32 parity {errors} is not within {PARITY_ATOL:g}")
        for precision in ("fp16", "int8"):
            agreement = onnx_metrics.get(precision, {}).get("action_agreement")
            if agreement is None or not agreement >= MIN_ACTION_AGREEMENT:
                raise ExportRejectedError(
                    f"{precision.upper()} action agreement with FP32 is {agreement}, "
                    f"below the required {MIN_ACTION_AGREEMENT:.0%}"
                )


def export_actor(
    actor: ServedActor,
    *,
    agreement_inputs: Mapping[str, np.ndarray] | None = None,
    agreement_samples: int = AGREEMENT_SAMPLES,
    seed: int = 0,
) -> ExportedActor:
    """Export, verify and measure: FP32 (parity-checked), FP16 and INT8 (agreement measured).

    agreement_inputs: real inputs (e.g. states and signals from stored episodes) to measure the
    action agreement on; random ones otherwise. Raises OnnxParityError when an FP32 graph is wrong;
    low agreement is reported in the metrics (the registry refuses it).
    """
    fp32 = export_fp32(actor)
    fp32_parity = check_parity(actor, fp32, seed=seed)
    metrics: dict[str, Any] = {
        "opset": OPSET,
        "exporter": f"torch.onnx (dynamo) torch {torch.__version__}",
        "onnxruntime": ort.__version__,
        "fp32": {
            "bytes": len(fp32),
            "sha256": sha256(fp32),
            "max_abs_error_probs": fp32_parity.max_abs_error_probs,
            "max_abs_error_hidden": fp32_parity.max_abs_error_hidden,
            "parity_batch_sizes": list(fp32_parity.batch_sizes),
        },
    }

    int8_source = fp32
    if actor.use_gru:
        int8_source = export_fp32(actor, gemm_gru=True)
        gemm_parity = check_parity(actor, int8_source, seed=seed + 1)
        metrics["fp32_gemm_gru"] = {
            "max_abs_error_probs": gemm_parity.max_abs_error_probs,
            "max_abs_error_hidden": gemm_parity.max_abs_error_hidden,
        }
    fp16 = convert_fp16(fp32)
    int8 = quantize_int8(int8_source, float_sensitive_weights(actor))

    if agreement_inputs is None:
        agreement_inputs = random_inputs(actor, agreement_samples, np.random.default_rng(seed + 2))
    for name, data in (("fp16", fp16), ("int8", int8)):
        report = action_agreement(fp32, data, agreement_inputs)
        metrics[name] = {
            "bytes": len(data),
            "sha256": sha256(data),
            "action_agreement": report.action_agreement,
            "max_abs_error_probs": report.max_abs_error_probs,
            "agreement_samples": report.samples,
        }
    return ExportedActor(
        onnx_fp32=fp32,
        onnx_fp16=fp16,
        onnx_int8=int8,
        state_dim=actor.state_dim,
        signal_dim=actor.signal_dim,
        action_dim=actor.action_dim,
        hidden_dim=actor.recurrent_dim,
        metrics={"onnx": metrics, "actor_parameters": count_parameters(actor)},
    )
