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

from plpython.decisions import (
    ModelRefusedError,
    ModelShape,
    check_model,
    run_model,
    served_actions,
    serving_payload,
    session_options,
)
from plpython.model_types import COMBAT, PACK_COORDINATION
from worker.store import DeployedModel, DeployedVersion, JobStore

log = logging.getLogger("worker.sessions")

PACK_MODEL = PACK_COORDINATION
COMBAT_MODEL = COMBAT


def choose_providers(prefer_gpu: bool) -> list[str]:
    available = ort.get_available_providers()
    if prefer_gpu and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


@dataclass
class ActorSession:
    """One loaded actor. It keeps no state of the monsters it serves: their recurrent memory is
    in ml.monster_memory (keyed by `model_id`), read with the claim and written with the answer,
    so that any worker, or an inline decision, continues where the last tick left it."""

    model_id: int
    archetype: str
    model_type: str
    version: str
    session: ort.InferenceSession
    shape: ModelShape

    @property
    def hidden_dim(self) -> int:
        """The width of the recurrent state; 0 for a model without GRU."""
        return self.shape.hidden_dim

    def run(
        self, states: np.ndarray, signals: np.ndarray, hidden: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Action probabilities (n, actions) for n monsters and, for a recurrent model, their
        new recurrent states (n, hidden_dim); `hidden` None starts every monster from zeros."""
        return run_model(self.session, self.shape, states, signals, hidden)


def open_session(model: DeployedModel, providers: list[str], intra_op_threads: int) -> ActorSession:
    """Load and check one deployed model; raises ModelRefusedError with the reason."""
    served_actions(model.id, model.model_type)  # before its file is fetched into a session
    gpu = providers[0] == "CUDAExecutionProvider"
    payload, precision = serving_payload(model.onnx_fp32, model.onnx_fp16, model.onnx_int8, gpu)
    if payload is None:
        raise ModelRefusedError(f"model {model.id} has no ONNX bytes to serve (onnx_fp32 is empty)")
    log.info(
        "model %s (%s, %s): serving the %s file",
        model.id,
        model.archetype,
        model.model_type,
        precision,
    )
    options = session_options(ort, intra_op_threads)
    try:
        session = ort.InferenceSession(payload, sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own untyped errors for corrupt files
        raise ModelRefusedError(f"model {model.id}: ONNX Runtime cannot load it: {exc}") from exc
    return ActorSession(
        model_id=model.id,
        archetype=model.archetype,
        model_type=model.model_type,
        version=model.version,
        session=session,
        shape=check_model(session, model.id, model.model_type),
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

    def __init__(self, providers: list[str], intra_op_threads: int) -> None:
        self.providers = providers
        self.intra_op_threads = intra_op_threads
        self.sessions: dict[tuple[str, str], ActorSession] = {}
        self.actors = ModelTypeView(self.sessions, PACK_MODEL)
        self.combat = ModelTypeView(self.sessions, COMBAT_MODEL)
        #: Per (archetype, model type), the deployed model's version row as last handled (loaded
        #: or refused): its bytes are fetched again only when that row changes.
        self.handled: dict[tuple[str, str], DeployedVersion] = {}
        self.checks = 0  # version queries run
        self.fetches = 0  # models whose ONNX bytes were fetched

    def memory_models(self) -> dict[str, int]:
        """Per archetype, the id of the recurrent pack actor serving it: the model whose memory
        a claim reads for that archetype's monsters (one without GRU has none to read)."""
        return {a: actor.model_id for a, actor in self.actors.items() if actor.hidden_dim}

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
                fresh = open_session(model, self.providers, self.intra_op_threads)
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
