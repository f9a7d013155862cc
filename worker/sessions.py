"""ONNX Runtime sessions for the deployed actors: one per (archetype, model type), hot-reloaded.

A model comes from its ml_models row (the ONNX bytes are in the database). Before a new model
replaces the one serving, it is loaded and checked (its inputs must fit the dims the queue carries);
a model that does not fit is refused with the reason written on its row, and the old one stays.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from worker.hidden_states import HiddenStates
from worker.store import DeployedModel, DeployedVersion, JobStore

log = logging.getLogger("worker.sessions")

STATE_DIM = 64
SIGNAL_DIM = 32
ACTION_DIM = 7
PACK_MODEL = "pack_coordination"


class ModelRefusedError(ValueError):
    """A deployed model that this worker cannot serve; the message goes onto its registry row."""


def choose_providers(prefer_gpu: bool) -> list[str]:
    available = ort.get_available_providers()
    if prefer_gpu and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


@dataclass
class ActorSession:
    """One loaded actor and the recurrent state of the monsters it serves."""

    model_id: int
    archetype: str
    version: str
    session: ort.InferenceSession
    hidden_dim: int
    float16_inputs: bool
    hidden_cache_size: int
    hidden: HiddenStates | None = None

    def __post_init__(self) -> None:
        if self.hidden_dim:
            self.hidden = HiddenStates(self.hidden_dim, self.hidden_cache_size)

    def run(self, monster_ids: list[int], states: np.ndarray, signals: np.ndarray) -> np.ndarray:
        """Action probabilities (n, 7) for n monsters; their GRU state is kept for the next tick."""
        n = len(monster_ids)
        feeds: dict[str, np.ndarray] = {"state": states, "signals": signals}
        if self.hidden is not None:
            slots = self.hidden.slots(monster_ids)
            feeds["hidden"] = self.hidden.gather(slots)
        if self.float16_inputs:
            feeds = {k: v.astype(np.float16) for k, v in feeds.items()}
        outputs = self.session.run(None, feeds)
        probs = np.asarray(outputs[0], dtype=np.float32).reshape(n, -1)
        if self.hidden is not None:
            new_hidden = np.asarray(outputs[1], dtype=np.float32).reshape(n, self.hidden_dim)
            self.hidden.store(monster_ids, slots, new_hidden)
        return probs


def serving_file(model: DeployedModel, gpu: bool) -> tuple[bytes | None, str]:
    """FP16 on a GPU; INT8 on a CPU (measured 2.3x faster than FP32 at batch 1-5, bench/RESULTS.md,
    and registered only with >= 99% action agreement); FP32 when the others are missing."""
    if gpu and model.onnx_fp16 is not None:
        return model.onnx_fp16, "fp16"
    if not gpu and model.onnx_int8 is not None:
        return model.onnx_int8, "int8"
    return model.onnx_fp32, "fp32"


def _dim(shape: list[object], axis: int) -> object:
    return shape[axis] if len(shape) > axis else None


def open_session(
    model: DeployedModel, providers: list[str], intra_op_threads: int, hidden_cache_size: int
) -> ActorSession:
    """Load and check one deployed model; raises ModelRefusedError with the reason."""
    payload, precision = serving_file(model, gpu=providers[0] == "CUDAExecutionProvider")
    if payload is None:
        raise ModelRefusedError(f"model {model.id} has no ONNX bytes to serve (onnx_fp32 is empty)")
    log.info("model %s (%s): serving the %s file", model.id, model.archetype, precision)
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        session = ort.InferenceSession(payload, sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own untyped errors for corrupt files
        raise ModelRefusedError(f"model {model.id}: ONNX Runtime cannot load it: {exc}") from exc
    inputs = {i.name: i for i in session.get_inputs()}
    expected = {"state": STATE_DIM, "signals": SIGNAL_DIM}
    for name, width in expected.items():
        if name not in inputs:
            raise ModelRefusedError(
                f"model {model.id}: input {name!r} missing (inputs: {sorted(inputs)})"
            )
        got = _dim(inputs[name].shape, 1)
        if got != width:
            raise ModelRefusedError(
                f"model {model.id}: input {name!r} has width {got}, the queue carries {width}"
            )
    outputs = session.get_outputs()
    if _dim(outputs[0].shape, 1) != ACTION_DIM:
        raise ModelRefusedError(
            f"model {model.id}: output {outputs[0].name!r} has width "
            f"{_dim(outputs[0].shape, 1)}, expected {ACTION_DIM} pack actions"
        )
    hidden_dim = 0
    if "hidden" in inputs:
        hidden_width = _dim(inputs["hidden"].shape, 1)
        if not isinstance(hidden_width, int) or len(outputs) < 2:
            raise ModelRefusedError(
                f"model {model.id}: recurrent input 'hidden' needs a fixed width and an output"
            )
        hidden_dim = hidden_width
    float16 = inputs["state"].type == "tensor(float16)"
    return ActorSession(
        model_id=model.id,
        archetype=model.archetype,
        version=model.version,
        session=session,
        hidden_dim=hidden_dim,
        float16_inputs=float16,
        hidden_cache_size=hidden_cache_size,
    )


class ActorPool:
    """The actors this worker serves, keyed by archetype, swapped in between batches."""

    def __init__(self, providers: list[str], intra_op_threads: int, hidden_cache_size: int) -> None:
        self.providers = providers
        self.intra_op_threads = intra_op_threads
        self.hidden_cache_size = hidden_cache_size
        self.actors: dict[str, ActorSession] = {}
        #: Per archetype, the deployed model's version row as last handled (loaded or refused):
        #: its bytes are fetched again only when that row changes.
        self.handled: dict[str, DeployedVersion] = {}
        self.checks = 0  # version queries run
        self.fetches = 0  # models whose ONNX bytes were fetched

    async def reload(self, store: JobStore) -> list[str]:
        """Bring the pool in line with the registry; returns what changed, for the log. A cheap
        query of the deployed models' versions first: ONNX bytes are fetched only for a model
        whose version row differs from what this pool last handled."""
        self.checks += 1
        deployed = {v.archetype: v for v in await store.deployed_versions()}
        if deployed == self.handled:
            return []
        changes: list[str] = []
        for archetype in list(self.actors):
            if archetype not in deployed:
                del self.actors[archetype]
                changes.append(f"{archetype}: undeployed")
        wanted = [v.id for a, v in deployed.items() if self.handled.get(a) != v]
        models = await store.deployed_models(wanted) if wanted else []
        self.fetches += len(models)
        log.info("fetched the ONNX files of %d changed models", len(models))
        handled = {a: v for a, v in deployed.items() if self.handled.get(a) == v}
        for model in models:
            archetype = model.archetype
            handled[archetype] = deployed[archetype]
            try:
                fresh = open_session(
                    model, self.providers, self.intra_op_threads, self.hidden_cache_size
                )
            except ModelRefusedError as exc:
                await store.record_model_error(model.id, str(exc))
                log.error(
                    "refused model %s (%s), keeping the previous one: %s", model.id, archetype, exc
                )
                changes.append(f"{archetype}: refused model {model.id}")
                continue
            self.actors[archetype] = fresh
            changes.append(f"{archetype}: model {model.id} v{model.version}")
        # A model undeployed between the two queries is not handled: the next check sees it.
        self.handled = handled
        return changes
