"""How a deployed actor's output becomes a decision, for both places that decide: the worker
(worker/decide.py, worker/sessions.py) and the database itself (plpython/inline_serving.py, the
inline decisions of ml.decide_pack and the legacy gateway). One source, so that the same inputs
and the same recurrent memory get the same answers whichever of them decides:

- a model is checked before it serves (`check_model`): its inputs fit what a request carries
  (64 state floats, 32 signal floats, a recurrent `hidden` only where the model type keeps one),
  its output the actions of its type;
- it runs in float16 where its inputs are float16 (`run_model`), the INT8 file on a CPU and the
  FP16 one on a GPU (`serving_payload`);
- its output becomes actions (`choose`): the argmax for a pack actor; for a combat model an action
  drawn from its policy by the request's state, DEFER answered 255 (the game server's own AI); a
  row whose output is not finite gets 255 with the reason.

Needs numpy only; the ONNX Runtime module is passed in (the database's interpreter may lack it,
and says so where it is first needed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from plpython.coordination import CoordinationScore, coordination_score
from plpython.model_types import (
    ACTION_DIMS,
    DEFER,
    GATEWAY_TYPES,
    PACK_COORDINATION,
    TRADITIONAL_AI,
    drawn_actions,
)
from plpython.signal_encoding import SIGNAL_DIM
from plpython.state_contract import STATE_DIM

#: Why a gateway request a combat model answered got 255.
DEFERRED = "the combat model leaves it to the traditional AI"


class DecisionInputError(ValueError):
    """A request's content that cannot be decided; the message says what is wrong."""


class ModelRefusedError(ValueError):
    """A deployed model that cannot serve; the message says why (and goes onto its registry row)."""


def dense_signals(n: int, rows: np.ndarray, dims: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The (n, 32) signal vectors from their non-zero entries (rows 1-based, dims 0-31), as
    ml.signal_entries gives them."""
    if not rows.shape == dims.shape == weights.shape or rows.ndim != 1:
        raise DecisionInputError(
            f"signal entries must be three arrays of one length, got {rows.shape}, "
            f"{dims.shape}, {weights.shape}"
        )
    if rows.size and (
        rows.min() < 1 or rows.max() > n or dims.min() < 0 or dims.max() >= SIGNAL_DIM
    ):
        raise DecisionInputError(f"signal entries outside {n} monsters x {SIGNAL_DIM} dimensions")
    if not np.isfinite(weights).all():
        raise DecisionInputError("signal vector contains NaN or infinity")
    signals = np.zeros((n, SIGNAL_DIM), dtype=np.float32)
    signals[rows - 1, dims] = weights
    return signals


@dataclass(frozen=True)
class Choice:
    """One actor call's decisions, per row of its input."""

    actions: np.ndarray  # int64: the model type's action, or TRADITIONAL_AI (255)
    confidence: np.ndarray  # float32: the chosen action's probability (0 for 255 without one)
    reasons: dict[int, str]  # row -> why it got 255


def choose(probs: np.ndarray, states: np.ndarray, model_type: str, archetype: str) -> Choice:
    """Decisions from an actor's action probabilities (n, actions) for `states` (n, 64)."""
    n = len(probs)
    combat = model_type != PACK_COORDINATION
    actions = np.full(n, TRADITIONAL_AI, dtype=np.int64)
    confidence = np.zeros(n, dtype=np.float32)
    reasons: dict[int, str] = {}
    # A model that outputs NaN or infinity (diverged, corrupted) for a monster leaves it to the
    # traditional AI with the reason; its answer could not be stored otherwise.
    finite = np.isfinite(probs).all(axis=1)
    if not finite.all():
        which = f" {model_type}" if combat else ""
        reason = f"the {archetype!r}{which} model's output is not finite (NaN or infinity)"
        reasons.update(dict.fromkeys(np.flatnonzero(~finite).tolist(), reason))
    rows = np.flatnonzero(finite)
    kept = probs[rows]
    # A combat model's answer is drawn from its policy by the request's state
    # (plpython/model_types.py); a pack actor's is its argmax.
    chosen = drawn_actions(kept, states[rows]) if combat else kept.argmax(axis=1)
    confidence[rows] = kept[np.arange(len(rows)), chosen]
    if combat:
        # DEFER: the combat model leaves the monster to the game server's own AI (255).
        deferred = chosen == DEFER
        reasons.update(dict.fromkeys(rows[deferred].tolist(), DEFERRED))
        chosen = np.where(deferred, TRADITIONAL_AI, chosen)
    actions[rows] = chosen
    return Choice(actions, confidence, reasons)


@dataclass(frozen=True)
class ModelShape:
    """What a checked model takes: the width of its recurrent state (0: none) and whether its
    inputs are float16 (an FP16 export)."""

    hidden_dim: int
    float16_inputs: bool


def session_options(ort: Any, threads: int, spinning: bool = True) -> Any:
    """ONNX Runtime options: `threads` for one operator, operators one at a time; without
    `spinning`, an idle thread sleeps instead of polling for work (a database backend shares its
    cores with every other one)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def serving_payload(
    fp32: bytes | None, fp16: bytes | None, int8: bytes | None, gpu: bool
) -> tuple[bytes | None, str]:
    """FP16 on a GPU; INT8 on a CPU (measured 2.3x faster than FP32 at batch 1-5, bench/RESULTS.md,
    and registered only with >= 99% action agreement); FP32 when the others are missing."""
    if gpu and fp16 is not None:
        return fp16, "fp16"
    if not gpu and int8 is not None:
        return int8, "int8"
    return fp32, "fp32"


def _dim(shape: list[object], axis: int) -> object:
    return shape[axis] if len(shape) > axis else None


def served_actions(model_id: int, model_type: str) -> int:
    """The output width of a model type that is served; ModelRefusedError for another type
    (checked before a model's file is even loaded)."""
    actions = ACTION_DIMS.get(model_type)
    if actions is None:
        raise ModelRefusedError(
            f"model {model_id}: model type {model_type!r} is not served "
            f"(served: {', '.join(ACTION_DIMS)})"
        )
    return actions


def check_model(session: Any, model_id: int, model_type: str) -> ModelShape:
    """Check a loaded model against what it will be asked; raises ModelRefusedError naming the
    first thing that does not fit."""
    actions = served_actions(model_id, model_type)
    inputs = {i.name: i for i in session.get_inputs()}
    for name, width in (("state", STATE_DIM), ("signals", SIGNAL_DIM)):
        if name not in inputs:
            raise ModelRefusedError(
                f"model {model_id}: input {name!r} missing (inputs: {sorted(inputs)})"
            )
        got = _dim(inputs[name].shape, 1)
        if got != width:
            raise ModelRefusedError(
                f"model {model_id}: input {name!r} has width {got}, a request carries {width}"
            )
    outputs = session.get_outputs()
    if _dim(outputs[0].shape, 1) != actions:
        raise ModelRefusedError(
            f"model {model_id}: output {outputs[0].name!r} has width "
            f"{_dim(outputs[0].shape, 1)}, expected {actions} {model_type} actions"
        )
    hidden_dim = 0
    if "hidden" in inputs and model_type in GATEWAY_TYPES:
        # Nothing of a gateway request names a monster instance to keep a state for.
        raise ModelRefusedError(
            f"model {model_id}: a combat model decides from the request alone, "
            "but this one has a recurrent input 'hidden'"
        )
    if "hidden" in inputs:
        hidden_width = _dim(inputs["hidden"].shape, 1)
        if not isinstance(hidden_width, int) or len(outputs) < 2:
            raise ModelRefusedError(
                f"model {model_id}: recurrent input 'hidden' needs a fixed width and an output"
            )
        hidden_dim = hidden_width
    return ModelShape(hidden_dim, inputs["state"].type == "tensor(float16)")


def run_model(
    session: Any,
    shape: ModelShape,
    states: np.ndarray,
    signals: np.ndarray,
    hidden: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Action probabilities (n, actions) float32 and, for a recurrent model, the new recurrent
    states (n, hidden_dim); `hidden` None starts every row from zeros."""
    n = len(states)
    feeds: dict[str, np.ndarray] = {"state": states, "signals": signals}
    if shape.hidden_dim:
        feeds["hidden"] = (
            np.zeros((n, shape.hidden_dim), dtype=np.float32) if hidden is None else hidden
        )
    if shape.float16_inputs:
        feeds = {k: v.astype(np.float16) for k, v in feeds.items()}
    outputs = session.run(None, feeds)
    probs = np.asarray(outputs[0], dtype=np.float32).reshape(n, -1)
    if not shape.hidden_dim:
        return probs, None
    return probs, np.asarray(outputs[1], dtype=np.float32).reshape(n, shape.hidden_dim)


def gather_memory(memory: Mapping[int, bytes], rows: np.ndarray, dim: int) -> np.ndarray | None:
    """(len(rows), dim) float32: the recurrent state kept for each row (ml.monster_memory's
    float32 little-endian bytes, by row), zeros for a row without one (a new monster, or memory
    of another width, which no model of this id leaves); None for a model without one (dim 0),
    which run_model takes as such."""
    if not dim:
        return None
    hidden = np.zeros((len(rows), dim), dtype=np.float32)
    width = 4 * dim
    at, found = [], []
    for i, r in enumerate(rows.tolist()):
        if len(state := memory.get(r, b"")) == width:
            at.append(i)
            found.append(state)
    if at:
        hidden[at] = np.frombuffer(b"".join(found), dtype="<f4").reshape(len(at), dim)
    return hidden


def memory_states(new_hidden: np.ndarray) -> tuple[np.ndarray, list[bytes]]:
    """Which of a model's new recurrent states (n, dim) are kept, and each kept one as
    ml.monster_memory stores it (float32 little-endian bytes). A state that is not finite (a
    diverged model) is not kept: it would make every later tick of that monster non-finite too,
    while its memory before still stands."""
    finite = np.isfinite(new_hidden).all(axis=1)
    blob = np.ascontiguousarray(new_hidden[finite], dtype="<f4").tobytes()
    width = 4 * new_hidden.shape[1]
    return finite, [blob[i : i + width] for i in range(0, len(blob), width)]


def score_decisions(
    monster_ids: Sequence[int],
    pack_leader_ids: Sequence[int | None],
    signals: np.ndarray,
    actions: Sequence[int],
    threshold: float,
) -> tuple[CoordinationScore, list[bool]]:
    """The seed's coordination score of one request's decisions (live signals, pack coverage,
    leader present, diversity of the actions chosen; 255 counts as one more "action": the
    traditional AI), and which monsters get its bonus: the pack's members that act on the
    model's choice, when the score reaches the threshold."""
    signalled = [bool(s) for s in np.any(signals, axis=1).tolist()]
    scored = coordination_score(
        monster_ids=monster_ids,
        pack_leader_ids=pack_leader_ids,
        signalled=signalled,
        actions=actions,
        threshold=threshold,
    )
    coordinated = [
        scored.bonus and leader is not None and action != TRADITIONAL_AI
        for action, leader in zip(actions, pack_leader_ids, strict=True)
    ]
    return scored, coordinated
