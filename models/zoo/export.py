"""Export a zoo model to ONNX and verify it: FP32 (the torch.export-based exporter), FP16 and
INT8, with one signature for every model type: `inputs` (B, width) -> `outputs` (B, out).

Verification, as for the pack actor (models/export/onnx.py): the FP32 graph must match the torch
module within `PARITY_ATOL` on the task's own example inputs at several batch sizes; the FP16 and
INT8 files must agree with FP32 on the answer (the argmax/argmin of a model that picks) in at
least 99% of rows, or stay within `REGRESSION_TOL` of FP32 for a model whose outputs are its
answer. A file that fails is not written: its precision is dropped, and the report says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from models.export.onnx import convert_fp16, quantize_int8, quiet_tools, session, sha256
from plpython.zoo_types import ZooType

INPUT, OUTPUT = "inputs", "outputs"
OPSET = 18
PARITY_ATOL = 1e-4
AGREEMENT = 0.99
#: Largest |error| a reduced-precision file may have on a model whose outputs are the answer.
REGRESSION_TOL = 0.05


class ZooExportError(RuntimeError):
    """The FP32 graph does not compute what the torch module computes."""


def export_fp32(module: nn.Module, width: int) -> bytes:
    """FP32 ONNX bytes of the eval-mode module, batch dimension dynamic."""
    module.eval()
    batch = torch.export.Dim("batch", min=1)
    with quiet_tools(), torch.no_grad():
        program = torch.onnx.export(
            module,
            (torch.zeros(2, width),),
            dynamo=True,
            input_names=[INPUT],
            output_names=[OUTPUT],
            dynamic_shapes=({0: batch},),
            opset_version=OPSET,
            optimize=True,
            verbose=False,
        )
    assert program is not None
    model = program.model_proto
    model.doc_string = f"ragnarok-ml zoo {type(module).__name__}; contract: docs/model_zoo.md"
    return bytes(model.SerializeToString())


def run_onnx(model: bytes, inputs: np.ndarray) -> np.ndarray:
    out: np.ndarray = session(model).run([OUTPUT], {INPUT: inputs.astype(np.float32)})[0]
    return out


def answers(spec: ZooType, outputs: np.ndarray) -> np.ndarray | None:
    """Each row's integer answer, or None for a model whose outputs are the answer."""
    scores = outputs[:, : spec.answer_width]
    if spec.answer == "argmax":
        picked: np.ndarray = scores.argmax(axis=1)
        return picked
    if spec.answer == "argmin":
        picked = scores.argmin(axis=1)
        return picked
    return None


@dataclass
class ZooExport:
    files: dict[str, bytes]
    report: dict[str, Any] = field(default_factory=dict)


def _quantize(fp32: bytes) -> bytes:
    # The first layer reads raw inputs; quantizing it costs most of the agreement for little size.
    model = onnx.load_from_string(fp32)
    weights = {i.name for i in model.graph.initializer if len(i.dims) == 2}
    first = next(
        (
            [name for name in node.input if name in weights]
            for node in model.graph.node
            if node.op_type in ("Gemm", "MatMul") and weights & set(node.input)
        ),
        [],
    )
    return quantize_int8(fp32, keep_float_weights=first[:1])


def export_model(
    spec: ZooType, module: nn.Module, examples: np.ndarray, *, fp32_only: bool = False
) -> ZooExport:
    """Export and verify; `examples` are (n, width) inputs as serving sees them (n >= 64)."""
    width = examples.shape[1]
    fp32 = export_fp32(module, width)
    with torch.no_grad():
        reference = module(torch.as_tensor(examples, dtype=torch.float32)).numpy()
    worst = 0.0
    for n in (1, 7, len(examples)):
        got = run_onnx(fp32, examples[:n])
        worst = max(worst, float(np.abs(got - reference[:n]).max()))
    if not worst <= PARITY_ATOL:
        raise ZooExportError(
            f"{spec.name}: ONNX FP32 differs from torch by {worst:.3g} (allowed {PARITY_ATOL:g})"
        )
    export = ZooExport(files={"fp32": fp32})
    export.report = {"parity_max_abs_error": worst, "fp32": {"bytes": len(fp32)}}
    export.report["fp32"]["sha256"] = sha256(fp32)
    if fp32_only:
        return export
    ref_answers = answers(spec, reference)
    for precision, convert in (("fp16", convert_fp16), ("int8", _quantize)):
        try:
            data = convert(fp32)
            got = run_onnx(data, examples)
        except Exception as error:  # a conversion the graph does not support: report, keep FP32
            export.report[precision] = {"dropped": f"{type(error).__name__}: {error}"[:300]}
            continue
        error_max = float(np.abs(got[:, : spec.output_dim] - reference[:, : spec.output_dim]).max())
        entry: dict[str, Any] = {
            "bytes": len(data),
            "sha256": sha256(data),
            "max_abs_error": error_max,
        }
        got_answers = answers(spec, got)
        if ref_answers is not None and got_answers is not None:
            entry["agreement"] = float((got_answers == ref_answers).mean())
            ok = entry["agreement"] >= AGREEMENT
        else:
            ok = error_max <= REGRESSION_TOL
        if ok:
            export.files[precision] = data
        else:
            entry["dropped"] = (
                "below the agreement bar"
                if ref_answers is not None
                else (f"error above {REGRESSION_TOL}")
            )
        export.report[precision] = entry
    return export
