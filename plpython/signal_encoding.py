"""The 32-float signal vector: how a monster's live signals reach its actor.

One module encodes in the database (`ml.signal_vector`) and in training (the simulator), so an actor
sees in production exactly what it saw in training. Standard library only: it runs inside PostgreSQL.

Layout (see docs/signal_encoding.md for the full table):

    dims  0-7   target      attack_target: slot = min(7, floor(threat * 8))
    dims  8-15  formation   formation_command: slot = FORMATIONS.index(formation_type)
    dims 16-23  support     help_request: slot = min(7, floor(urgency * 8))
    dims 24-31  directives  retreat 24, regroup 25, hold 26, advance 27, scatter 28,
                            fallback 29, charge 30, any other directive 31

Each signal sets its dimension to its priority weight, (11 - priority) / 10, so priority 1 (highest)
weighs 1.0 and priority 10 weighs 0.1. Several signals on one dimension keep the strongest (max), so
the vector stays in [0, 1] however many signals arrive.
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


class SignalError(ValueError):
    """A signal that cannot be encoded; the message says which field and why."""


def canonical_type(signal_type: str) -> str:
    name = SIGNAL_TYPE_ALIASES.get(signal_type, signal_type)
    if name not in SIGNAL_TYPES:
        known = ", ".join(SIGNAL_TYPES)
        raise SignalError(f"unknown signal type {signal_type!r} (known: {known})")
    return name


def priority_weight(priority: int) -> float:
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise SignalError(f"priority must be an integer, got {priority!r}")
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise SignalError(f"priority must be between 1 and 10, got {priority}")
    return (11 - priority) / 10.0


def unit_interval(content: Mapping[str, Any], key: str) -> float:
    """A content field that must be a finite number in [0, 1] (threat, urgency, hp_ratio)."""
    value = content.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SignalError(f"{key} must be a number in [0, 1], got {value!r}")
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise SignalError(f"{key} must be a number in [0, 1], got {value!r}")
    return number


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
        if formation not in FORMATIONS:
            raise SignalError(
                f"formation_type must be one of {', '.join(FORMATIONS)}, got {formation!r}"
            )
        return FORMATION_BASE + FORMATIONS.index(formation)
    if kind == "retreat":
        return DIRECTIVE_BASE
    directive = content.get("directive")
    if directive in DIRECTIVES:
        return DIRECTIVE_BASE + DIRECTIVES.index(directive)
    if not isinstance(directive, str) or not directive:
        raise SignalError(f"directive must be a non-empty string, got {directive!r}")
    return OTHER_DIRECTIVE_DIM


def validate_signal(signal_type: str, content: Mapping[str, Any], priority: int) -> str:
    """Check a signal before it is stored; returns its canonical type or raises SignalError."""
    if not isinstance(content, Mapping):
        raise SignalError(f"signal content must be a JSON object, got {type(content).__name__}")
    priority_weight(priority)
    signal_dimension(signal_type, content)
    return canonical_type(signal_type)


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
    """Human-readable names of a vector's non-zero dimensions (diagnostics, the seed's visualizer)."""
    names = (
        [f"target_slot_{i}" for i in range(SLOTS_PER_GROUP)]
        + [f"formation_{name}" for name in FORMATIONS]
        + [f"support_slot_{i}" for i in range(SLOTS_PER_GROUP)]
        + [f"directive_{name}" for name in DIRECTIVES]
        + ["directive_other"]
    )
    return [f"{names[i]}={value:.2f}" for i, value in enumerate(vector) if value]
