"""The env runner RLlib samples the contract simulator with: RLlib's own MultiAgentEnvRunner, plus
the fights' results in its metrics and the curriculum's pack size.

- RLlib's per-agent metrics are keyed by agent id. Here every monster of every fight is a new
  agent id (models/rllib/env.py), so those keys would grow without end, and counting steps costs
  four MetricsLogger calls per agent per step. Agent steps are counted here in one call per step
  under the key "monsters" (per module likewise), and per-agent episode returns are not logged.
- An RLlib episode is a window over many fights, so its return says little. What the product
  reads (win rate, team return per fight, ...) is summed here over the fights that ended, and
  models/rllib/algorithms.py divides it into the update's means.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner
from ray.rllib.utils.metrics import (
    NUM_AGENT_STEPS_SAMPLED,
    NUM_AGENT_STEPS_SAMPLED_LIFETIME,
    NUM_ENV_STEPS_SAMPLED,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    NUM_EPISODES,
    NUM_EPISODES_LIFETIME,
    NUM_MODULE_STEPS_SAMPLED,
    NUM_MODULE_STEPS_SAMPLED_LIFETIME,
)

from models.envs.contract_combat.env import DEFEAT, VICTORY
from models.rllib.env import ContractPackEnv

#: The gymnasium id under which RLlib's MultiAgentEnvRunner registers its environment.
RLLIB_ENV_ID = "rllib-multi-agent-env-v0"


class PackEnvRunner(MultiAgentEnvRunner):  # type: ignore[misc]
    """MultiAgentEnvRunner over ContractPackEnv (see the module docstring)."""

    def make_env(self) -> None:
        # RLlib registers its env under one fixed gymnasium id each time a runner makes its env;
        # the second algorithm built in a process (a sweep, the test suite) would then trip
        # gymnasium's "overriding environment" warning. The id is RLlib's own: drop the old entry.
        gym.envs.registration.registry.pop(RLLIB_ENV_ID, None)
        super().make_env()

    def pack_envs(self) -> list[ContractPackEnv]:
        """This runner's environments: none for the local runner of an algorithm whose sampling
        is done by remote runners (RLlib builds it without an env)."""
        if self.env is None:
            return []
        return [env.unwrapped for env in self.env.envs]

    def set_pack_size(self, pack_size: tuple[int, int]) -> None:
        """The curriculum's pack sizes for every fight that starts from now on."""
        for env in self.pack_envs():
            env.set_pack_size(pack_size)

    def get_metrics(self) -> Any:
        for env in self.pack_envs():
            episodes = env.take_finished()
            if episodes is None:
                continue
            x = episodes.extra
            returns = episodes.team_return
            sums = {
                "fights": float(len(returns)),
                "fight_victories": float((x["outcome"] == VICTORY).sum()),
                "fight_defeats": float((x["outcome"] == DEFEAT).sum()),
                "fight_team_return_sum": float(returns.sum()),
                "fight_mean_length_sum": float(episodes.length.sum()),
                "fight_kills_sum": float(x["kills"].sum()),
                "fight_pack_survival_sum": float(x["pack_survival"].sum()),
                "fight_deferred_rate_sum": float(x["deferred_rate"].sum()),
            }
            for key, value in sums.items():
                self.metrics.log_value(key, value, reduce="sum")
            self.metrics.log_value("fight_team_return_min", float(np.min(returns)), reduce="min")
            self.metrics.log_value("fight_team_return_max", float(np.max(returns)), reduce="max")
        return super().get_metrics()

    def _increase_sampled_metrics(self, num_steps: int, next_obs: Any, episode: Any) -> int:
        log = self.metrics.log_value
        log(NUM_ENV_STEPS_SAMPLED, num_steps, reduce="sum")
        log(NUM_ENV_STEPS_SAMPLED_LIFETIME, num_steps, reduce="lifetime_sum", with_throughput=True)
        if episode.is_done:
            log(NUM_EPISODES, 1, reduce="sum")
            log(NUM_EPISODES_LIFETIME, 1, reduce="lifetime_sum")
        per_module: dict[str, int] = {}
        for agent in next_obs:
            module = episode.module_for(agent)
            per_module[module] = per_module.get(module, 0) + 1
        agents = len(next_obs)
        log((NUM_AGENT_STEPS_SAMPLED, "monsters"), agents, reduce="sum")
        log((NUM_AGENT_STEPS_SAMPLED_LIFETIME, "monsters"), agents, reduce="lifetime_sum")
        for module, count in per_module.items():
            log((NUM_MODULE_STEPS_SAMPLED, module), count, reduce="sum")
            log((NUM_MODULE_STEPS_SAMPLED_LIFETIME, module), count, reduce="lifetime_sum")
        return num_steps

    def _log_episode_metrics(
        self,
        length: Any,
        ret: Any,
        sec: Any,
        agents: Any = None,
        modules: Any = None,
        agent_steps: Any = None,
    ) -> None:
        super()._log_episode_metrics(
            length, ret, sec, {} if agents is not None else None, modules, {}
        )
