"""IPPO: independent PPO, every agent with a decentralized critic (de Witt et al. 2020).

The same recurrent actor, rollout and clipped objective as MAPPO (models/algorithms/mappo.py);
only the critic differs: V_i(o_i) reads agent i's own local observation, never the global state,
so learning uses nothing an agent could not see when acting. The critic's weights are shared by
the agents (as the actor's are), each slot valued on its own.

    A_i = GAE(gamma, lambda) of agent i's reward against V_i(o_i)

Truncation: an auto-resetting environment returns the first observation of the next episode, not
the last one of the ended episode (only the global state survives the reset), so a time-limit
end bootstraps with V_i of the agent's last observation before the final step, one step stale.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from models.algorithms.base import AlgorithmConfig
from models.algorithms.mappo import MAPPO
from models.envs.base import Observation, StepResult
from models.networks.ctde import LocalCritic


class IPPO(MAPPO):
    """MAPPO's loop with a decentralized critic V_i(o_i)."""

    info = AlgorithmConfig(
        name="ippo",
        title="IPPO: PPO with decentralized critics",
        on_policy=True,
        centralized_critic=False,
        recurrent=True,
        value_based=False,
    )

    def build_critic(self) -> nn.Module:
        """Widths from ctde.critic.hidden_dims (the attention settings do not apply)."""
        c = self.config.ctde
        return LocalCritic(c.state_dim, list(c.critic.hidden_dims))

    def dims(self) -> dict[str, Any]:
        c = self.config.ctde
        actor = {k: v for k, v in super().dims().items() if not k.startswith("critic_")}
        return {**actor, "critic_hidden_dims": list(c.critic.hidden_dims), "critic": "local"}

    def critic_input(self, obs: Observation) -> np.ndarray:
        return obs.local_obs

    def terminal_critic_input(self, result: StepResult, before: Observation) -> np.ndarray:
        return before.local_obs
