"""The model types the product trains, registers and serves: one source for the trainer, the
simulator, the registry, the worker and the database (ml.decide_pack runs this module as
ml_model_types; the database stores the name in ml_models.model_type).

- `pack_coordination`, the pack actor: the 7 pack actions (docs/pack_recipes.md), with its GRU
  state and the pack's signals; answers ml.request_pack_actions.
- `combat`, the legacy gateway's policy: the game server's 10 executable actions (0-9, IDLE ...
  FLEE, docs/state_contract.md) plus DEFER (10), "leave this monster to the traditional AI",
  answered as the gateway's 255. It decides from the request alone: no GRU state (a gateway
  request names the mob's type, not the monster) and no signals (a request carries none).

Why DEFER: the traditional AI (skills by their conditions, assist and looter rules) is a strong
baseline that reads the world, which the 64 floats only summarize. A policy over the 10 actions
alone learned below it in the same training time (bench/RESULTS.md, "Combat policy"); with DEFER
it learns where to override it.
"""

from __future__ import annotations

import hashlib

import numpy as np

from plpython.state_contract import ACTIONS, TRADITIONAL_AI

PACK_COORDINATION = "pack_coordination"
COMBAT = "combat"
#: The combat model's output that answers the gateway with TRADITIONAL_AI (255).
DEFER = len(ACTIONS)
#: Each model type's output width.
ACTION_DIMS = {PACK_COORDINATION: 7, COMBAT: DEFER + 1}
#: Model types whose actor must be stateless and signal-free (they answer the legacy gateway);
#: their answers are drawn from the policy by the state (`drawn_actions`), not its argmax.
GATEWAY_TYPES = frozenset({COMBAT})

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


def state_draws(inputs: np.ndarray) -> np.ndarray:
    """(B,) uniform numbers in [0, 1), one per row of `inputs` (B, D), a hash of the row's float32
    bytes: the same input always gets the same number, different inputs independent ones."""
    rows = np.ascontiguousarray(inputs, dtype=np.float32)
    digests = [hashlib.blake2b(row.tobytes(), digest_size=8).digest() for row in rows]
    return np.frombuffer(b"".join(digests), dtype="<u8") / 2.0**64


def drawn_actions(probs: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """A combat model's answers: each row's action drawn from its probabilities (B, A) with the
    row's `state_draws` number, not the argmax. PPO trains a stochastic policy, and deciding
    symmetric monsters alike by its argmax loses what the sampled policy wins (measured in
    bench/RESULTS.md, "Learning on the contract"); drawing by the state keeps an answer a
    function of the request, as the gateway's cache assumes."""
    cumulative = np.cumsum(probs, axis=1)
    chosen = (cumulative < state_draws(inputs)[:, None] * cumulative[:, -1:]).sum(axis=1)
    out: np.ndarray = np.minimum(chosen, probs.shape[1] - 1)
    return out
