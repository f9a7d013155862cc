"""ONNX Runtime sessions for the deployed actors: one per (archetype, model type), hot-reloaded.

Two model types are served. `pack_coordination` answers the 7 pack actions (pack jobs, and legacy
gateway requests of an archetype without a combat model, through ml.legacy_action_map); `combat`
answers the game server's 10 executable actions (the legacy gateway's action ids themselves) and
DEFER, from the request alone (no recurrent input; config/model_types.py). A model comes from its
ml_models row (the ONNX bytes are in the database). Before a new model replaces the one serving, it
is loaded and checked (its inputs must fit the dims the queue carries, its output the actions of its
type); a model that does not fit is refused with the reason written on its row, and the old one
stays.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from config.model_types import ACTION_DIMS, COMBAT, GATEWAY_TYPES, PACK_COORDINATION
from worker.hidden_states import HiddenStates
from worker.store import DeployedModel, DeployedVersion, JobStore

log = logging.getLogger("worker.sessions")

STATE_DIM = 64
SIGNAL_DIM = 32
PACK_MODEL = PACK_COORDINATION
COMBAT_MODEL = COMBAT


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
    model_type: str
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
        """Action probabilities (n, actions) for n monsters; their GRU state is kept for the next
        tick."""
        n = len(monster_ids)
        feeds: dict[str, np.ndarray] = {"state": states, "signals": signals}
        if self.hidden is not None:
            slots = self.hidden.slots(monster_ids)
            feeds["hidden"] = self.hidden.gather(slots)
        outputs = self._infer(feeds)
        probs = np.asarray(outputs[0], dtype=np.float32).reshape(n, -1)
        if self.hidden is not None:
            new_hidden = np.asarray(outputs[1], dtype=np.float32).reshape(n, self.hidden_dim)
            self.hidden.store(monster_ids, slots, new_hidden)
        return probs

    def run_fresh(self, states: np.ndarray, signals: np.ndarray) -> np.ndarray:
        """Action probabilities (n, actions) from a zero GRU state, nothing read from or kept in
        the per-monster cache: for rows that name no monster instance (a legacy gateway request
        carries the mob's type id, shared by every monster of that type)."""
        n = len(states)
        feeds: dict[str, np.ndarray] = {"state": states, "signals": signals}
        if self.hidden_dim:
            feeds["hidden"] = np.zeros((n, self.hidden_dim), dtype=np.float32)
        return np.asarray(self._infer(feeds)[0], dtype=np.float32).reshape(n, -1)

    def _infer(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        if self.float16_inputs:
            feeds = {k: v.astype(np.float16) for k, v in feeds.items()}
        return list(self.session.run(None, feeds))


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
    actions = ACTION_DIMS.get(model.model_type)
    if actions is None:
        raise ModelRefusedError(
            f"model {model.id}: model type {model.model_type!r} is not served "
            f"(served: {', '.join(ACTION_DIMS)})"
        )
    payload, precision = serving_file(model, gpu=providers[0] == "CUDAExecutionProvider")
    if payload is None:
        raise ModelRefusedError(f"model {model.id} has no ONNX bytes to serve (onnx_fp32 is empty)")
    log.info(
        "model %s (%s, %s): serving the %s file",
        model.id,
        model.archetype,
        model.model_type,
        precision,
    )
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
    if _dim(outputs[0].shape, 1) != actions:
        raise ModelRefusedError(
            f"model {model.id}: output {outputs[0].name!r} has width "
            f"{_dim(outputs[0].shape, 1)}, expected {actions} {model.model_type} actions"
        )
    hidden_dim = 0
    if "hidden" in inputs and model.model_type in GATEWAY_TYPES:
        # Nothing of a gateway request names a monster instance to keep a state for.
        raise ModelRefusedError(
            f"model {model.id}: a combat model decides from the request alone, "
            "but this one has a recurrent input 'hidden'"
        )
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
        model_type=model.model_type,
        version=model.version,
        session=session,
        hidden_dim=hidden_dim,
        float16_inputs=float16,
        hidden_cache_size=hidden_cache_size,
    )


class ModelTypeView(MutableMapping[str, ActorSession]):
    """The pool's sessions of one model type, keyed by archetype."""

    def __init__(self, sessions: dict[tuple[str, str], ActorSession], model_type: str) -> None:
        self._sessions = sessions
        self._type = model_type

    def __getitem__(self, archetype: str) -> ActorSession:
        return self._sessions[archetype, self._type]

    def __setitem__(self, archetype: str, actor: ActorSession) -> None:
        self._sessions[archetype, self._type] = actor

    def __delitem__(self, archetype: str) -> None:
        del self._sessions[archetype, self._type]

    def __iter__(self) -> Iterator[str]:
        return (a for a, t in list(self._sessions) if t == self._type)

    def __len__(self) -> int:
        return sum(t == self._type for _, t in self._sessions)


class ActorPool:
    """The actors this worker serves, keyed by (archetype, model type), swapped in between
    batches. `actors` (pack_coordination) and `combat` are the views by archetype of each type."""

    def __init__(self, providers: list[str], intra_op_threads: int, hidden_cache_size: int) -> None:
        self.providers = providers
        self.intra_op_threads = intra_op_threads
        self.hidden_cache_size = hidden_cache_size
        self.sessions: dict[tuple[str, str], ActorSession] = {}
        self.actors = ModelTypeView(self.sessions, PACK_MODEL)
        self.combat = ModelTypeView(self.sessions, COMBAT_MODEL)
        #: Per (archetype, model type), the deployed model's version row as last handled (loaded
        #: or refused): its bytes are fetched again only when that row changes.
        self.handled: dict[tuple[str, str], DeployedVersion] = {}
        self.checks = 0  # version queries run
        self.fetches = 0  # models whose ONNX bytes were fetched

    async def reload(self, store: JobStore) -> list[str]:
        """Bring the pool in line with the registry; returns what changed, for the log. A cheap
        query of the deployed models' versions first: ONNX bytes are fetched only for a model
        whose version row differs from what this pool last handled."""
        self.checks += 1
        deployed = {(v.archetype, v.model_type): v for v in await store.deployed_versions()}
        if deployed == self.handled:
            return []
        changes: list[str] = []
        for key in list(self.sessions):
            if key not in deployed:
                del self.sessions[key]
                changes.append(f"{key[0]} {key[1]}: undeployed")
        wanted = [v.id for k, v in deployed.items() if self.handled.get(k) != v]
        models = await store.deployed_models(wanted) if wanted else []
        self.fetches += len(models)
        log.info("fetched the ONNX files of %d changed models", len(models))
        handled = {k: v for k, v in deployed.items() if self.handled.get(k) == v}
        for model in models:
            key = (model.archetype, model.model_type)
            label = f"{model.archetype} {model.model_type}"
            if key not in deployed:  # its type changed between the two queries: the next check
                continue
            handled[key] = deployed[key]
            try:
                fresh = open_session(
                    model, self.providers, self.intra_op_threads, self.hidden_cache_size
                )
            except ModelRefusedError as exc:
                await store.record_model_error(model.id, str(exc))
                log.error(
                    "refused model %s (%s), keeping the previous one: %s", model.id, label, exc
                )
                changes.append(f"{label}: refused model {model.id}")
                continue
            self.sessions[key] = fresh
            changes.append(f"{label}: model {model.id} v{model.version}")
        # A model undeployed between the two queries is not handled: the next check sees it.
        self.handled = handled
        return changes
