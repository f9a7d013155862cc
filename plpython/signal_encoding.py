"""The 32-float signal vector: how a monster's live signals reach its actor.

One module encodes in the database (`ml.signal_vector`) and in training (the simulator), so an
actor sees in production exactly what it saw in training. Standard library only: it runs inside
PostgreSQL.

Layout (see docs/signal_encoding.md for the full table):

    dims  0-7   target      attack_target: slot = min(7, floor(threat * 8))
    dims  8-15  formation   formation_command: slot = FORMATIONS.index(formation_type)
    dims 16-23  support     help_request: slot = min(7, floor(urgency * 8))
    dims 24-31  directives  retreat 24, regroup 25, hold 26, advance 27, scatter 28,
                            fallback 29, charge 30, any other directive 31

Each signal sets its dimension to its priority weight, (11 - priority) / 10, so priority 1 (highest)
weighs 1.0 and priority 10 weighs 0.1. Several signals on one dimension keep the strongest (max), so
the vector stays in [0, 1] however many signals arrive.

Errors are `SignalError` subclasses, each with the SQLSTATE the database raises it under
(docs/coordination.md lists them), so a bad signal fails the same way in SQL and in Python.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

SIGNAL_DIM = 32
SLOTS_PER_GROUP = 8
TARGET_BASE, FORMATION_BASE, SUPPORT_BASE, DIRECTIVE_BASE = 0, 8, 16, 24

SIGNAL_TYPES = ("attack_target", "retreat", "formation_command", "help_request", "directive")
#: Names the seed uses for the same signal.
SIGNAL_TYPE_ALIASES = {"focus_fire": "attack_target"}

FORMATIONS = (
    "flanking",
    "defensive_circle",
    "spread_out",
    "tight_cluster",
    "line_formation",
    "v_formation",
    "surround",
    "other",
)
DIRECTIVES = ("retreat", "regroup", "hold", "advance", "scatter", "fallback", "charge")
OTHER_DIRECTIVE_DIM = 31

MIN_PRIORITY, MAX_PRIORITY = 1, 10

#: Priority of each signal type when its sender does not give one (`ml.send_*_signal`, and the
#: simulator): what an actor sees in production is what it saw in training.
DEFAULT_PRIORITIES = {
    "retreat": 1,
    "attack_target": 2,
    "help_request": 3,
    "formation_command": 4,
    "directive": 5,
}

#: How a JSON document spells the floats JSON cannot carry (PostgreSQL writes NaN as "NaN").
NON_FINITE_SPELLINGS = frozenset({"NaN", "Infinity", "-Infinity", "inf", "-inf", "nan"})


class SignalError(ValueError):
    """A signal that cannot be encoded; the message says which field and why."""

    sqlstate = "ML005"


class UnknownSignalTypeError(SignalError):
    """The signal type is none of SIGNAL_TYPES (nor an alias)."""

    sqlstate = "ML001"


class SignalPriorityError(SignalError):
    """Priority is not an integer in 1-10."""

    sqlstate = "ML002"


class SignalValueError(SignalError):
    """A number (threat, urgency, hp_ratio) is NaN, infinite or outside [0, 1]."""

    sqlstate = "ML003"


class SignalContentError(SignalError):
    """The content is not a JSON object, or a field is missing or of the wrong JSON type."""

    sqlstate = "ML005"


class UnknownFormationError(SignalError):
    """formation_type is none of FORMATIONS."""

    sqlstate = "ML007"


def canonical_type(signal_type: str) -> str:
    name = SIGNAL_TYPE_ALIASES.get(signal_type, signal_type)
    if name not in SIGNAL_TYPES:
        known = ", ".join(SIGNAL_TYPES)
        raise UnknownSignalTypeError(f"unknown signal type {signal_type!r} (known: {known})")
    return name


def priority_weight(priority: int) -> float:
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise SignalPriorityError(f"priority must be an integer between 1 and 10, got {priority!r}")
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise SignalPriorityError(f"priority must be between 1 and 10, got {priority}")
    return (11 - priority) / 10.0


def unit_interval(content: Mapping[str, Any], key: str) -> float:
    """A content field that must be a finite number in [0, 1] (threat, urgency, hp_ratio)."""
    value = content.get(key)
    if isinstance(value, str) and value in NON_FINITE_SPELLINGS:
        raise SignalValueError(f"{key} must be a number in [0, 1], got {value}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SignalContentError(f"{key} must be a number in [0, 1], got {value!r}")
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise SignalValueError(f"{key} must be a number in [0, 1], got {value!r}")
    return number


def _json_kind(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list | tuple) else "object"


def _cell(value: Any, name: str) -> None:
    """An [x, y] pair of integer cells (rally_point, position, formation positions)."""
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
    ):
        raise SignalContentError(f"{name} must be an [x, y] pair of integers, got {value!r}")


def _slot(fraction: float) -> int:
    return min(SLOTS_PER_GROUP - 1, int(fraction * SLOTS_PER_GROUP))


def signal_dimension(signal_type: str, content: Mapping[str, Any]) -> int:
    """The one dimension of the vector that a signal sets."""
    kind = canonical_type(signal_type)
    if kind == "attack_target":
        return TARGET_BASE + _slot(unit_interval(content, "threat"))
    if kind == "help_request":
        return SUPPORT_BASE + _slot(unit_interval(content, "urgency"))
    if kind == "formation_command":
        formation = content.get("formation_type")
        if not isinstance(formation, str):
            raise SignalContentError(f"formation_type must be a string, got {formation!r}")
        if formation not in FORMATIONS:
            raise UnknownFormationError(
                f"formation_type must be one of {', '.join(FORMATIONS)}, got {formation!r}"
            )
        return FORMATION_BASE + FORMATIONS.index(formation)
    if kind == "retreat":
        return DIRECTIVE_BASE
    directive = content.get("directive")
    if directive in DIRECTIVES:
        return DIRECTIVE_BASE + DIRECTIVES.index(directive)
    if not isinstance(directive, str) or not directive:
        raise SignalContentError(f"directive must be a non-empty string, got {directive!r}")
    return OTHER_DIRECTIVE_DIM


def validate_signal(signal_type: str, content: Mapping[str, Any], priority: int) -> str:
    """Check a signal before it is stored; returns its canonical type or raises SignalError.

    Besides what the encoding reads, the optional fields the senders write are checked when present:
    hp_ratio in [0, 1]; rally_point, position and each formation position an [x, y] cell pair.
    """
    kind = canonical_type(signal_type)
    if not isinstance(content, Mapping):
        raise SignalContentError(f"signal content must be a JSON object, got {_json_kind(content)}")
    priority_weight(priority)
    signal_dimension(kind, content)
    if "hp_ratio" in content:
        unit_interval(content, "hp_ratio")
    for key in ("rally_point", "position"):
        if key in content:
            _cell(content[key], key)
    positions = content.get("positions")
    if positions is not None:
        if not isinstance(positions, Mapping):
            raise SignalContentError(
                f"positions must be an object of monster id -> [x, y], got {positions!r}"
            )
        for monster_id, cell in positions.items():
            if not str(monster_id).isdigit():
                raise SignalContentError(f"positions keys must be monster ids, got {monster_id!r}")
            _cell(cell, f"positions[{monster_id}]")
    return kind


def encode_signals(signals: Iterable[Mapping[str, Any]]) -> list[float]:
    """Aggregate signals ({signal_type, content, priority}) into the 32-float vector."""
    vector = [0.0] * SIGNAL_DIM
    for signal in signals:
        dim = signal_dimension(signal["signal_type"], signal["content"])
        weight = priority_weight(signal["priority"])
        if weight > vector[dim]:
            vector[dim] = weight
    return vector


def describe_vector(vector: Iterable[float]) -> list[str]:
    """Readable names of a vector's non-zero dimensions (diagnostics, the seed's visualizer)."""
    names = (
        [f"target_slot_{i}" for i in range(SLOTS_PER_GROUP)]
        + [f"formation_{name}" for name in FORMATIONS]
        + [f"support_slot_{i}" for i in range(SLOTS_PER_GROUP)]
        + [f"directive_{name}" for name in DIRECTIVES]
        + ["directive_other"]
    )
    return [f"{names[i]}={value:.2f}" for i, value in enumerate(vector) if value]
