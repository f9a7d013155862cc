"""Inline decisions: the deployed actors run inside the database backend, in the caller's own
statement (ml.decide_pack, and the legacy gateway inside its INSERT; docs/inline_serving.md).

Each backend keeps one `InlineServer` (in PL/Python's GD): one ONNX Runtime session per
(archetype, model type), loaded from ml_models. It notices a deploy by ml.model_changes, a count
read in the statement each decision already runs (never a read of ml_models per call), and
reloads only the models whose version moved; a model that cannot serve is refused with a
warning and the one before it keeps serving, so a deploy under load fails no request.

What a decision is (the checks of a model, float16 inputs, argmax or the combat model's draw,
DEFER, non-finite outputs, the coordination score) is the worker's own code:
plpython/decisions.py and plpython/coordination.py. The recurrent state comes from and goes back
to ml.monster_memory, which the worker reads and writes too. Every query is the caller's (the
function's body in sql/functions/, prepared once per backend): this module reaches the database
only through the `Query` callable it is given.

ONNX Runtime runs one thread per backend with spinning off: a backend shares the machine's cores
with every other session, and a spinning pool would burn them between calls.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from plpython.decisions import (
    ModelRefusedError,
    ModelShape,
    check_model,
    choose,
    dense_signals,
    gather_memory,
    memory_states,
    run_model,
    score_decisions,
    serving_payload,
    session_options,
)
from plpython.model_types import COMBAT, PACK_COORDINATION, TRADITIONAL_AI
from plpython.pgarrays import ArrayFormatError, float4_array
from plpython.signal_encoding import SIGNAL_DIM
from plpython.state_contract import ARCHETYPES, STATE_DIM

#: A prepared statement of the calling function, run with its parameters: its rows as dicts.
Query = Callable[[str, Sequence[Any]], list[Mapping[str, Any]]]

log = logging.getLogger("ml.inline_serving")

#: How the runtime is named when it is missing (the operator's fix is in the message).
RUNTIME_MISSING = (
    "ONNX Runtime is not installed in the database server's Python; inline decisions need it "
    "(docs/inline_serving.md: install onnxruntime, the worker's version, into the server's "
    "interpreter)"
)


class InlineError(Exception):
    """A request inline serving refuses; `sqlstate` is the error's code (docs/coordination.md)."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def load_runtime() -> Any:
    """onnxruntime, imported once per backend (about 90 MB and a few hundred milliseconds);
    InlineError ML011 when the server's Python lacks it."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise InlineError(f"{RUNTIME_MISSING}: {exc}", "ML011") from exc
    onnxruntime.set_default_logger_severity(3)  # errors only: a backend's log is the server's
    return onnxruntime


@dataclass
class LoadedModel:
    model_id: int
    archetype: str
    model_type: str
    version: str
    session: Any
    shape: ModelShape


@dataclass(frozen=True)
class PackDecision:
    """ml.decide_pack's rows, and the recurrent states to keep."""

    rows: list[tuple[int, int, float, bool, float, str | None, str | None]]
    memory_models: list[int]
    memory_monsters: list[int]
    memory_hidden: list[bytes]


@dataclass(frozen=True)
class GatewayAnswer:
    """One legacy gateway request's ai_responses row."""

    action: int  # the legacy action id 0-9, or 255
    confidence: float
    model_version: str | None
    inference_ms: float
    reason: str | None


class InlineServer:
    """One backend's deployed actors, by (archetype, model type)."""

    def __init__(self, ort: Any) -> None:
        self.ort = ort
        self.models: dict[tuple[str, str], LoadedModel] = {}
        #: ml.model_changes's count when the models were last brought in line (-1: never).
        self.changes = -1
        #: Per (archetype, model type), the deployed row last handled (loaded or refused).
        self.handled: dict[tuple[str, str], tuple[int, str, str | None]] = {}
        #: Why a deployed model was refused, by (archetype, model type), while nothing serves.
        self.refused: dict[tuple[str, str], str] = {}
        #: The pack action -> legacy action map (ml.legacy_action_map).
        self.legacy_map: dict[int, int] = {}
        self.loads = 0  # sessions opened, for the tests and the benchmark

    def refresh(self, changes: int, query: Query) -> None:
        """Bring the sessions in line with the registry when ml.model_changes moved."""
        if changes == self.changes:
            return
        deployed = {(r["archetype"], r["model_type"]): r for r in query("deployed", [])}
        for key in list(self.models):
            if key not in deployed:
                del self.models[key]
        self.refused = {k: why for k, why in self.refused.items() if k in deployed}
        stamp = {k: (r["id"], r["version"], r["onnx_sha256"]) for k, r in deployed.items()}
        wanted = [r["id"] for k, r in deployed.items() if self.handled.get(k) != stamp[k]]
        for row in query("model_files", [wanted]) if wanted else []:
            key = (row["archetype"], row["model_type"])
            try:
                self.models[key] = self._open(row)
                self.refused.pop(key, None)
            except ModelRefusedError as exc:
                # The model before it (if any) keeps serving; the worker writes the reason
                # onto the registry row.
                self.refused[key] = str(exc)
                log.warning("inline serving refused model %s: %s", row["id"], exc)
        self.handled = {k: v for k, v in stamp.items() if k in self.models or k in self.refused}
        self.legacy_map = {
            int(r["pack_action"]): int(r["legacy_action"]) for r in query("legacy_map", [])
        }
        self.changes = changes

    def _open(self, row: Mapping[str, Any]) -> LoadedModel:
        payload, _ = serving_payload(row["onnx_fp32"], row["onnx_fp16"], row["onnx_int8"], False)
        if payload is None:
            raise ModelRefusedError(f"model {row['id']} has no ONNX bytes to serve")
        options = session_options(self.ort, threads=1, spinning=False)
        try:
            session = self.ort.InferenceSession(
                bytes(payload), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors for corrupt files
            raise ModelRefusedError(
                f"model {row['id']}: ONNX Runtime cannot load it: {exc}"
            ) from exc
        shape = check_model(session, row["id"], row["model_type"])
        self.loads += 1
        return LoadedModel(
            row["id"], row["archetype"], row["model_type"], row["version"], session, shape
        )

    def missing(self, archetype: str, model_type: str) -> str:
        """Why an archetype has no model of a type to answer with."""
        refused = self.refused.get((archetype, model_type))
        if refused is not None:
            return (
                f"the deployed {model_type} model for archetype {archetype!r} was refused: "
                f"{refused}"
            )
        return f"no deployed {model_type} model for archetype {archetype!r}"

    def pack_models(self, archetypes: Sequence[str]) -> list[int]:
        """Per monster, the id of the pack actor that answers it now (0: none), which keys its
        recurrent memory."""
        ids = {a: m.model_id for (a, t), m in self.models.items() if t == PACK_COORDINATION}
        return [ids.get(a, 0) for a in archetypes]


def server(gd: dict[str, Any], module_sha: str) -> InlineServer:
    """This backend's server, made at its first decision (the runtime imported then); a new one
    when the module itself was replaced."""
    kept = gd.get("ml_inline_server")
    if kept is None or kept[0] != module_sha:
        kept = (module_sha, InlineServer(load_runtime()))
        gd["ml_inline_server"] = kept
    found: InlineServer = kept[1]
    return found


def states_of(data: bytes, layout: str, monster_ids: Sequence[int]) -> np.ndarray:
    """The request's (n, 64) float32 states: `layout` 'packed' (float32 little-endian, as the game
    server packs them) or 'array' (array_send of the typed form's real[], checked finite in SQL).
    A packed state that is not finite is ML004 naming the monster."""
    n = len(monster_ids)
    try:
        if layout == "packed":
            states = np.frombuffer(data, dtype="<f4").astype(np.float32).reshape(n, STATE_DIM)
        else:
            states = float4_array(data).reshape(n, STATE_DIM)
    except (ArrayFormatError, ValueError) as exc:
        raise InlineError(f"states must be {n} x {STATE_DIM} floats: {exc}", "ML004") from exc
    finite = np.isfinite(states).all(axis=1)
    if not finite.all():
        monster = monster_ids[int(np.argmin(finite))]
        raise InlineError(f"state vector of monster {monster} contains NaN or infinity", "ML004")
    return states


def decide_pack(
    srv: InlineServer,
    query: Query,
    monster_ids: Sequence[int],
    archetypes: Sequence[str],
    states: np.ndarray,
) -> PackDecision:
    """A pack's decisions, as the worker makes them for a pack job: each archetype's monsters in
    one call of its pack actor, each from the recurrent state its last decision left."""
    models = srv.pack_models(archetypes)
    found = query("lookup", [list(monster_ids), models])[0]
    if found["changes"] != srv.changes:
        srv.refresh(found["changes"], query)
        if srv.pack_models(archetypes) != models:  # the memory read was for the old models
            models = srv.pack_models(archetypes)
            found = {**found, **query("memory", [list(monster_ids), models])[0]}
    n = len(monster_ids)
    signals = dense_signals(
        n,
        np.asarray(found["rows"], dtype=np.int64),
        np.asarray(found["dims"], dtype=np.int64),
        np.asarray(found["weights"], dtype=np.float32),
    )
    # ml.read_monster_memory's `ord` is 1-based.
    memory = dict(
        zip((r - 1 for r in found["memory_rows"] or []), found["memory"] or [], strict=True)
    )
    actions = np.full(n, TRADITIONAL_AI, dtype=np.int64)
    confidence = np.zeros(n, dtype=np.float32)
    reasons: list[str | None] = [None] * n
    version: list[str | None] = [None] * n
    kept_models: list[int] = []
    kept_monsters: list[int] = []
    kept_hidden: list[bytes] = []
    kinds = np.asarray(archetypes)
    for archetype in sorted(set(archetypes)):
        rows = np.flatnonzero(kinds == archetype)
        model = srv.models.get((archetype, PACK_COORDINATION))
        if model is None:
            why = srv.missing(archetype, PACK_COORDINATION)
            for r in rows.tolist():
                reasons[r] = why
            continue
        try:
            probs, new_hidden = run_model(
                model.session,
                model.shape,
                states[rows],
                signals[rows],
                gather_memory(memory, rows, model.shape.hidden_dim),
            )
        except Exception as exc:  # an ONNX Runtime failure: these monsters get 255, and why
            why = f"inference failed for archetype {archetype!r}: {exc}"
            for r in rows.tolist():
                reasons[r] = why
            continue
        choice = choose(probs, states[rows], PACK_COORDINATION, archetype)
        actions[rows] = choice.actions
        confidence[rows] = choice.confidence
        for i, why in choice.reasons.items():
            reasons[int(rows[i])] = why
        for r in rows.tolist():
            version[r] = model.version
        if new_hidden is not None:
            finite, states_kept = memory_states(new_hidden)
            kept_models += [model.model_id] * len(states_kept)
            kept_monsters += [int(monster_ids[r]) for r in rows[finite].tolist()]
            kept_hidden += states_kept
    chosen = actions.tolist()
    scored, coordinated = score_decisions(
        monster_ids, found["leaders"], signals, chosen, found["threshold"]
    )
    rows_out = [
        (
            int(monster_ids[i]),
            chosen[i],
            float(confidence[i]),
            coordinated[i],
            scored.score if coordinated[i] else 0.0,
            reasons[i],
            version[i],
        )
        for i in range(n)
    ]
    return PackDecision(rows_out, kept_models, kept_monsters, kept_hidden)


def decide_gateway(
    srv: InlineServer, query: Query, archetype: str, state: bytes | None
) -> GatewayAnswer:
    """A legacy gateway request's answer, as the worker gives it: the archetype's combat model
    (its drawn action is the legacy action id, DEFER 255), else its pack actor from a zero
    recurrent state with the pack action mapped through ml.legacy_action_map, else 255. A
    malformed state or a failing model answers 255 with the reason, never an error: the
    gateway's INSERT must not fail on its own data."""
    started = time.perf_counter()
    changes = query("changes", [])[0]["changes"]
    srv.refresh(changes, query)

    def answer(
        action: int, confidence: float, version: str | None, why: str | None
    ) -> GatewayAnswer:
        ms = (time.perf_counter() - started) * 1000.0
        return GatewayAnswer(action, confidence, version, ms, why)

    if archetype not in ARCHETYPES:
        return answer(TRADITIONAL_AI, 0.0, None, f"unknown archetype {archetype!r}")
    try:
        values = float4_array(state or b"")
    except (ArrayFormatError, ValueError) as exc:
        return answer(TRADITIONAL_AI, 0.0, None, f"unreadable state vector: {exc}")
    if values.ndim > 1 and values.shape[0] == 1:
        values = values[0]
    if values.shape != (STATE_DIM,):
        got = values.shape[-1] if values.ndim else 0
        return answer(
            TRADITIONAL_AI, 0.0, None, f"state vector must have {STATE_DIM} floats, got {got}"
        )
    if not np.isfinite(values).all():
        return answer(TRADITIONAL_AI, 0.0, None, "state vector contains NaN or infinity")
    states = values.reshape(1, STATE_DIM)
    signals = np.zeros((1, SIGNAL_DIM), dtype=np.float32)
    combat = srv.models.get((archetype, COMBAT))
    model = combat or srv.models.get((archetype, PACK_COORDINATION))
    if model is None:
        why = f"no deployed combat or pack_coordination model for archetype {archetype!r}"
        refused = srv.refused.get((archetype, COMBAT)) or srv.refused.get(
            (archetype, PACK_COORDINATION)
        )
        if refused:
            why += f" (refused: {refused})"
        return answer(TRADITIONAL_AI, 0.0, None, why)
    try:
        probs, _ = run_model(model.session, model.shape, states, signals, None)
    except Exception as exc:  # an ONNX Runtime failure answers 255 with the reason
        which = f" ({model.model_type} model)" if combat else ""
        return answer(
            TRADITIONAL_AI, 0.0, None, f"inference failed for archetype {archetype!r}{which}: {exc}"
        )
    choice = choose(probs, states, model.model_type, archetype)
    action, confidence = int(choice.actions[0]), float(choice.confidence[0])
    if action == TRADITIONAL_AI:  # DEFER, or an output that was not finite
        return answer(TRADITIONAL_AI, 0.0, model.version, choice.reasons.get(0))
    if combat is None:  # a pack action, in the game server's terms
        action = srv.legacy_map.get(action, TRADITIONAL_AI)
    return answer(action, confidence, model.version, None)
