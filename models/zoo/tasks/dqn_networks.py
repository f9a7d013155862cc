"""The DQN tasks' serving modules: `inputs` (B, input_dim) -> `outputs` (B, Q-values), as
plpython/zoo_types.py lays them out for combat_dqn and skill_dqn.
"""

from __future__ import annotations

import torch
from torch import nn

from plpython.zoo_types import SKILL_SLOTS, SKILL_VOCAB, STATE_DIM

#: The Q-value of a skill slot the monster does not have (id 0): never the argmax, and still
#: exact in FP16 (whose largest finite value is 65504).
RULED_OUT = -1.0e4


def mlp(width: int, hidden: list[int], out: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, out))
    return nn.Sequential(*layers)


class QNetwork(nn.Module):
    """Q-values of the choices from the state contract's 64 floats (combat_dqn)."""

    def __init__(self, hidden: list[int], n_choices: int, dropout: float) -> None:
        super().__init__()
        self.body = mlp(STATE_DIM, hidden, n_choices, dropout)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(inputs)
        return out


class SkillQNetwork(nn.Module):
    """Q-values of (no skill, skill 1, 2, 3) from the 64 floats and the ids of the monster's first
    three skills (skill_dqn). Each id is embedded modulo SKILL_VOCAB (0: no skill, its embedding
    fixed at zero); the ids are cast to int64 inside forward, so the served graph takes one float
    input. The Q-value of an empty slot is RULED_OUT."""

    def __init__(self, hidden: list[int], embed_dim: int, dropout: float) -> None:
        super().__init__()
        # The body first: the exporter keeps the first weight matrix in float when quantizing to
        # INT8, and that should be the layer reading the inputs (the embedding is a lookup).
        self.body = mlp(STATE_DIM + SKILL_SLOTS * embed_dim, hidden, 1 + SKILL_SLOTS, dropout)
        self.embed = nn.Embedding(SKILL_VOCAB, embed_dim, padding_idx=0)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        state = inputs[:, :STATE_DIM]
        raw = torch.round(inputs[:, STATE_DIM:]).to(torch.int64)
        slots = self.embed(torch.remainder(raw, SKILL_VOCAB)).flatten(1)
        q: torch.Tensor = self.body(torch.cat([state, slots], dim=1))
        present = torch.cat([torch.ones_like(raw[:, :1]), raw], dim=1) > 0
        return torch.where(present, q, torch.full_like(q, RULED_OUT))
