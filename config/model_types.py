"""The model types the product trains, registers and serves. Their facts live in
plpython/model_types.py, which the database runs too (inline decisions, docs/inline_serving.md);
this module is their name on the host's side, for the trainer, the simulator and the registry."""

from plpython.model_types import (
    ACTION_DIMS,
    COMBAT,
    DEFER,
    GATEWAY_TYPES,
    PACK_COORDINATION,
    TRADITIONAL_AI,
    drawn_actions,
    state_draws,
)

__all__ = [
    "ACTION_DIMS",
    "COMBAT",
    "DEFER",
    "GATEWAY_TYPES",
    "PACK_COORDINATION",
    "TRADITIONAL_AI",
    "drawn_actions",
    "state_draws",
]
