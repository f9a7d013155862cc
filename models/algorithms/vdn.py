"""VDN (Sunehag et al., "Value-Decomposition Networks for Cooperative Multi-Agent Learning", 2017).

QMIX (models/algorithms/qmix.py) with the simplest monotonic mixer: the team's value is the sum of
the agents' chosen Q-values, with no state input:

    Q_tot(a_1..a_N) = sum over acting agents i of Q_i(o_i, a_i)

Everything else (replay, epsilon-greedy, double-Q TD target, truncation) is QMIX's.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from models.algorithms.base import AlgorithmConfig
from models.algorithms.qmix import QMIX, ValueDecompositionHyperparameters


class VDNMixer(nn.Module):
    """Q_tot = the sum of the present agents' Q-values (no parameters, ignores the state)."""

    def forward(
        self,
        agent_qs: torch.Tensor,
        states: torch.Tensor | None = None,
        agent_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, N) chosen Q-values, unused state, (B, N) bool mask -> (B, 1) Q_tot."""
        if agent_mask is not None:
            agent_qs = torch.where(agent_mask, agent_qs, 0.0)  # absent agents add nothing
        return agent_qs.sum(dim=-1, keepdim=True)


class VDN(QMIX):
    """QMIX with the additive mixer: `Hyperparameters` has no mixer sizes, the replay no state."""

    info = AlgorithmConfig(
        name="vdn",
        title="VDN: recurrent agent Q-network, Q_tot = sum of agent Qs, double Q",
        on_policy=False,
        centralized_critic=True,
        recurrent=True,
        value_based=True,
    )
    Hyperparameters: ClassVar[type[Any]] = ValueDecompositionHyperparameters
    uses_state: ClassVar[bool] = False

    def _build_mixer(self) -> nn.Module:
        return VDNMixer()

    def _mixer_dims(self) -> dict[str, Any]:
        return {"mixer": "vdn"}
