"""ONNX export of the actor: I/O contract, parity with torch, the reduced-precision files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from models.export.onnx import (
    MIN_ACTION_AGREEMENT,
    PARITY_ATOL,
    ExportRejectedError,
    OnnxParityError,
    check_parity,
    export_fp32,
    float_weights,
    session,
)
from models.networks.ctde import DecentralizedActor
from tests.ctde_helpers import SMALL_HIDDEN, small_actor, small_export


def dims(value_info: onnx.ValueInfoProto) -> list[str | int]:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_fp32_graph_keeps_the_io_contract() -> None:
    model = onnx.load_from_string(small_export().onnx_fp32)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 14
    inputs = {i.name: i for i in model.graph.input}
    outputs = {o.name: o for o in model.graph.output}
    assert list(inputs) == ["state", "signals", "hidden"]
    assert list(outputs) == ["action_probs", "hidden_out"]
    batch = dims(inputs["state"])[0]
    assert isinstance(batch, str)  # a named, dynamic axis shared by every input and output
    assert dims(inputs["state"]) == [batch, 64]
    assert dims(inputs["signals"]) == [batch, 32]
    assert dims(inputs["hidden"]) == [batch, SMALL_HIDDEN]
    assert dims(outputs["action_probs"]) == [batch, 7]
    assert dims(outputs["hidden_out"]) == [batch, SMALL_HIDDEN]
    for value in (*inputs.values(), *outputs.values()):
        assert value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    (gru,) = [n for n in model.graph.node if n.op_type == "GRU"]
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in gru.attribute}
    assert attributes["linear_before_reset"] == 1  # PyTorch's GRU


def test_every_file_runs_at_any_batch_size_and_carries_the_hidden_state() -> None:
    exported, actor = small_export(), small_actor()
    rng = np.random.default_rng(3)
    for precision in ("fp32", "fp16", "int8"):
        sess = session(exported.file(precision))
        hidden = np.zeros((5, SMALL_HIDDEN), np.float32)
        for _ in range(3):  # three decisions in a row, each feeding back hidden_out
            state = rng.standard_normal((5, 64), dtype=np.float32)
            signals = rng.random((5, 32), dtype=np.float32)
            probs, next_hidden = sess.run(
                None, {"state": state, "signals": signals, "hidden": hidden}
            )
            with torch.no_grad():
                ref_probs, ref_hidden = actor(
                    torch.from_numpy(state), torch.from_numpy(signals), torch.from_numpy(hidden)
                )
            assert ref_hidden is not None
            tolerance = 1e-5 if precision == "fp32" else 5e-2
            np.testing.assert_allclose(probs, ref_probs.numpy(), atol=tolerance)
            np.testing.assert_allclose(next_hidden, ref_hidden.numpy(), atol=tolerance)
            hidden = ref_hidden.numpy()
        one = sess.run(None, {"state": state[:1], "signals": signals[:1], "hidden": hidden[:1]})
        assert one[0].shape == (1, 7)


def test_parity_metrics_are_recorded_and_within_tolerance() -> None:
    metrics = small_export().metrics["onnx"]
    for graph in ("fp32", "fp32_gemm_gru"):
        assert metrics[graph]["max_abs_error_probs"] <= PARITY_ATOL
        assert metrics[graph]["max_abs_error_hidden"] <= PARITY_ATOL
    assert metrics["fp32"]["parity_batch_sizes"] == [1, 7, 64]


def test_wrong_linear_before_reset_is_caught() -> None:
    """The known GRU export pitfall: linear_before_reset=0 is a different network."""
    model = onnx.load_from_string(small_export().onnx_fp32)
    (gru,) = [n for n in model.graph.node if n.op_type == "GRU"]
    for attribute in gru.attribute:
        if attribute.name == "linear_before_reset":
            attribute.i = 0
    corrupted = model.SerializeToString()
    with pytest.raises(OnnxParityError, match="disagrees with the torch actor"):
        check_parity(small_actor(), corrupted)


def test_fp16_and_int8_files() -> None:
    exported = small_export()
    metrics = exported.metrics["onnx"]
    for precision in ("fp16", "int8"):
        assert metrics[precision]["action_agreement"] >= MIN_ACTION_AGREEMENT
        assert metrics[precision]["agreement_samples"] == 2048
        assert metrics[precision]["bytes"] == len(exported.file(precision))

    fp16 = onnx.load_from_string(exported.onnx_fp16)
    assert {i.type.tensor_type.elem_type for i in fp16.graph.input} == {onnx.TensorProto.FLOAT}
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in fp16.graph.initializer)

    int8 = onnx.load_from_string(exported.onnx_int8)
    ops = {n.op_type for n in int8.graph.node}
    assert "GRU" not in ops  # the Gemm form, so that the recurrent weights are quantized too
    assert "DynamicQuantizeLinear" in ops
    weights = {t.name: t.data_type for t in int8.graph.initializer}
    assert "actor.decision.5.weight" in float_weights(int8)
    assert any(t == onnx.TensorProto.INT8 for t in weights.values())
    assert len(exported.onnx_int8) < len(exported.onnx_fp32)


def test_write_puts_the_three_files_side_by_side(tmp_path: Path) -> None:
    exported = small_export()
    paths = exported.write(tmp_path / "aggressive" / "pack_coordination.onnx")
    assert {p: path.name for p, path in paths.items()} == {
        "fp32": "pack_coordination.onnx",
        "fp16": "pack_coordination.fp16.onnx",
        "int8": "pack_coordination.int8.onnx",
    }
    for precision, path in paths.items():
        assert path.read_bytes() == exported.file(precision)


def test_actor_without_gru_has_no_hidden_io() -> None:
    torch.manual_seed(1)
    actor = DecentralizedActor(hidden_dim=16, use_gru=False)
    data = export_fp32(actor)
    model = onnx.load_from_string(data)
    assert [i.name for i in model.graph.input] == ["state", "signals"]
    assert [o.name for o in model.graph.output] == ["action_probs"]
    assert check_parity(actor, data).max_abs_error_probs <= PARITY_ATOL
    assert actor.training  # export and checks leave the caller's mode alone


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("int8", "action_agreement"), 0.985, "INT8 action agreement"),
        (("fp16", "action_agreement"), float("nan"), "FP16 action agreement"),
        (("fp32", "max_abs_error_hidden"), 2e-5, "FP32 parity"),
    ],
)
def test_thresholds_refuse_a_poor_export(path: tuple[str, str], value: float, message: str) -> None:
    exported = small_export()
    exported.check_thresholds()
    metrics = {
        "onnx": {
            k: dict(v) if isinstance(v, dict) else v for k, v in exported.metrics["onnx"].items()
        }
    }
    metrics["onnx"][path[0]][path[1]] = value
    with pytest.raises(ExportRejectedError, match=message):
        dataclasses.replace(exported, metrics=metrics).check_thresholds()
