"""Zoo models answered in the database (ml.ask_model): any of the nine zoo model types
(plpython/zoo_types.py), per archetype, in the caller's own statement.

Each backend keeps one `ZooServer` (PL/Python's GD). A model is loaded the first time its
(archetype, model type) is asked for, never before: a backend that only ever asks for threat
scores holds one small session, not fifty-four. A deploy is noticed by ml.model_changes (the
count the deploy trigger moves), read in the statement each ask runs anyway; only the models
whose deployed row changed are dropped, to be loaded again at their next ask.

A model with a recurrent state (team_coordination) continues each monster's state from
ml.monster_memory when the caller names the monsters, as the pack actor does; without monster
ids it starts from zeros and keeps nothing.

Needs numpy; ONNX Runtime is passed in (plpython/inline_serving.load_runtime says what is missing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from plpython.decisions import (
    ModelRefusedError,
    gather_memory,
    memory_states,
    serving_payload,
    session_options,
)
from plpython.zoo_types import ZooType, zoo_type

Query = Callable[[str, Sequence[Any]], list[Mapping[str, Any]]]


class ZooAskError(Exception):
    """A request ml.ask_model refuses; `sqlstate` is its code (docs/model_zoo.md)."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@dataclass
class ZooModel:
    model_id: int
    version: str
    session: Any
    spec: ZooType
    width: int
    """Columns of `inputs`, the recurrent state included."""
    hidden_dim: int
    float16_inputs: bool


@dataclass(frozen=True)
class Answers:
    """ml.ask_model's rows (row, archetype, answer, outputs, model_version), and the recurrent
    states to keep."""

    rows: list[tuple[int, str, int | None, list[float], str | None]]
    memory_models: list[int]
    memory_monsters: list[int]
    memory_hidden: list[bytes]


def check_zoo_model(session: Any, row: Mapping[str, Any], spec: ZooType) -> ZooModel:
    """The loaded file against its registry row and its type's layout; ModelRefusedError naming
    the first thing that does not fit."""
    hidden = int(row["hidden_dim"] or 0)
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if [i.name for i in inputs] != ["inputs"] or [o.name for o in outputs] != ["outputs"]:
        raise ModelRefusedError(
            f"model {row['id']}: a zoo model has one input 'inputs' and one output 'outputs'"
        )
    width, out = inputs[0].shape[1], outputs[0].shape[1]
    if width != spec.input_dim + hidden or out != spec.output_dim + hidden:
        raise ModelRefusedError(
            f"model {row['id']}: {spec.name} takes {spec.input_dim} + {hidden} columns and "
            f"answers {spec.output_dim} + {hidden}, this file {width} -> {out}"
        )
    if spec.recurrent != bool(hidden):
        raise ModelRefusedError(f"model {row['id']}: {spec.name} recurrent state {hidden}")
    return ZooModel(
        row["id"],
        row["version"],
        session,
        spec,
        width,
        hidden,
        inputs[0].type == "tensor(float16)",
    )


class ZooServer:
    """One backend's zoo models, by (archetype, model type), loaded at first ask."""

    def __init__(self, ort: Any) -> None:
        self.ort = ort
        self.models: dict[tuple[str, str], ZooModel] = {}
        self.changes = -1
        self.loads = 0

    def refresh(self, changes: int, query: Query) -> None:
        """Drop the models whose deployed row changed since they were loaded."""
        if changes == self.changes:
            return
        stamp = {(r["archetype"], r["model_type"]): r["id"] for r in query("zoo_deployed", [])}
        self.models = {k: m for k, m in self.models.items() if stamp.get(k) == m.model_id}
        self.changes = changes

    def model(self, archetype: str, spec: ZooType, query: Query) -> ZooModel:
        key = (archetype, spec.name)
        found = self.models.get(key)
        if found is not None:
            return found
        rows = query("zoo_file", [archetype, spec.name])
        if not rows:
            raise ZooAskError(f"no deployed {spec.name} model for archetype {archetype!r}", "ML012")
        row = rows[0]
        payload, _ = serving_payload(row["onnx_fp32"], row["onnx_fp16"], row["onnx_int8"], False)
        if payload is None:
            raise ZooAskError(f"model {row['id']} has no ONNX bytes to serve", "ML012")
        options = session_options(self.ort, threads=1, spinning=False)
        try:
            session = self.ort.InferenceSession(
                bytes(payload), sess_options=options, providers=["CPUExecutionProvider"]
            )
            model = check_zoo_model(session, row, spec)
        except Exception as exc:  # a corrupt file or one of another shape
            raise ZooAskError(
                f"the deployed {spec.name} model for {archetype!r}: {exc}", "ML012"
            ) from exc
        self.loads += 1
        self.models[key] = model
        return model


def server(gd: dict[str, Any], module_sha: str, ort: Any) -> ZooServer:
    kept = gd.get("ml_zoo_server")
    if kept is None or kept[0] != module_sha:
        kept = (module_sha, ZooServer(ort))
        gd["ml_zoo_server"] = kept
    found: ZooServer = kept[1]
    return found


def answers_of(spec: ZooType, outputs: np.ndarray) -> list[int | None]:
    """Each row's integer answer by the type's rule (None for a model whose outputs answer)."""
    scores = outputs[:, : spec.answer_width]
    finite = np.isfinite(outputs).all(axis=1)
    if spec.answer == "argmax":
        picked = scores.argmax(axis=1)
    elif spec.answer == "argmin":
        picked = scores.argmin(axis=1)
    else:
        return [None] * len(outputs)
    return [int(a) if ok else None for a, ok in zip(picked.tolist(), finite.tolist(), strict=True)]


def ask(
    srv: ZooServer,
    query: Query,
    model_type: str,
    archetypes: Sequence[str],
    inputs: np.ndarray,
    monster_ids: Sequence[int] | None,
) -> Answers:
    """Each row's outputs from its archetype's deployed model of `model_type`; inputs (n, dim)."""
    spec = zoo_type(model_type)
    found = query("zoo_changes", [])[0]
    srv.refresh(found["changes"], query)
    n = len(archetypes)
    kinds = np.asarray(archetypes)
    outputs: list[list[float]] = [[] for _ in range(n)]
    answers: list[int | None] = [None] * n
    versions: list[str | None] = [None] * n
    kept_models: list[int] = []
    kept_monsters: list[int] = []
    kept_hidden: list[bytes] = []
    for archetype in sorted(set(archetypes)):
        rows = np.flatnonzero(kinds == archetype)
        model = srv.model(archetype, spec, query)
        x = inputs[rows]
        if model.hidden_dim:
            hidden = None
            if monster_ids is not None:
                ids = [int(monster_ids[r]) for r in rows.tolist()]
                kept = query("zoo_memory", [ids, [model.model_id] * len(ids)])[0]
                memory = dict(
                    zip(
                        (r - 1 for r in kept["memory_rows"] or []),
                        kept["memory"] or [],
                        strict=True,
                    )
                )
                hidden = gather_memory(memory, np.arange(len(rows)), model.hidden_dim)
            if hidden is None:
                hidden = np.zeros((len(rows), model.hidden_dim), dtype=np.float32)
            x = np.concatenate([x, hidden], axis=1)
        feed = x.astype(np.float16 if model.float16_inputs else np.float32)
        try:
            out = np.asarray(model.session.run(None, {"inputs": feed})[0], dtype=np.float32)
        except Exception as exc:  # ONNX Runtime's own errors: the statement fails with the reason
            raise ZooAskError(
                f"{spec.name} inference failed for {archetype!r}: {exc}", "ML012"
            ) from exc
        visible = out[:, : spec.output_dim]
        for i, r in enumerate(rows.tolist()):
            outputs[r] = visible[i].tolist()
            versions[r] = model.version
        for i, a in enumerate(answers_of(spec, visible)):
            answers[int(rows[i])] = a
        if model.hidden_dim and monster_ids is not None:
            finite, states = memory_states(out[:, spec.output_dim :])
            kept_models += [model.model_id] * len(states)
            kept_monsters += [int(monster_ids[r]) for r in rows[finite].tolist()]
            kept_hidden += states
    rows_out = [(i + 1, archetypes[i], answers[i], outputs[i], versions[i]) for i in range(n)]
    return Answers(rows_out, kept_models, kept_monsters, kept_hidden)
