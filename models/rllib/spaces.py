"""One monster's observation and action spaces as RLlib sees them (gymnasium only, no Ray import:
the registry and the exporter read these without starting Ray)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from config.model_types import ACTION_DIMS, GATEWAY_TYPES
from models.envs.contract_combat.env import SIGNAL_DIM, STATE_DIM

__all__ = ["action_count", "observation_width", "spaces", "uses_signals"]


def uses_signals(model_type: str) -> bool:
    """The pack actor reads its pack's signals; a gateway model type (combat) reads none."""
    return model_type not in GATEWAY_TYPES


def observation_width(model_type: str) -> int:
    """The served actor's input: the contract's 64 floats, then 32 signal floats (pack actor)."""
    return STATE_DIM + (SIGNAL_DIM if uses_signals(model_type) else 0)


def action_count(model_type: str) -> int:
    """The model type's actions (config/model_types.py): 7 pack actions, or 10 + DEFER."""
    return ACTION_DIMS[model_type]


def spaces(model_type: str) -> tuple[gym.spaces.Box, gym.spaces.Discrete[np.int64]]:
    """One monster's observation and action spaces (the same for every agent)."""
    box = gym.spaces.Box(-np.inf, np.inf, (observation_width(model_type),), np.float32)
    return box, gym.spaces.Discrete(action_count(model_type))
