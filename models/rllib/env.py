"""The contract simulator as an RLlib multi-agent environment: one agent per monster, one shared
policy for all of them (seed 004's `shared_policy`).

RLlib steps one `MultiAgentEnv` per env runner slot and calls its policy once per step on every
agent the step returned, batched. So one RLlib environment here holds F fights of the vectorized
simulator (`ContractCombatEnv(n_envs=F)`): one numpy step moves every fight, and the runner's one
forward pass decides every monster of every fight. Python's per-agent bookkeeping is the cost that
remains (bench/scaling.py measures it).

Packs of 2-5 are handled the RLlib way, without padding: an agent is in a step's dicts only while
its monster lives; a monster that dies is `terminated` at that step (its reward included) and
leaves; a fight that ends terminates (victory, defeat) or truncates (time limit) its monsters, and
the simulator's next fight brings new agents. Agent ids carry the fight's generation
(`"<fight>:<generation>:<slot>"`) so that no id returns after it left, as RLlib requires. The
RLlib episode itself is a window of `horizon` steps over the fights: at its end every monster
still fighting is truncated (RLlib bootstraps its value) and the next episode continues the same
fights under new ids.

Observations are what the served actor reads: the contract's 64 floats, then (pack actor) the
pack's 32 signal floats. Every action is valid for a living monster, as on the game server (the
simulator's action masks are all ones unless `mask_failing`), so no mask is fed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from ray.rllib.env.multi_agent_env import MultiAgentEnv

from models.envs.base import EpisodeStats, Observation, concat_episodes
from models.envs.contract_combat.env import ContractCombatEnv
from models.envs.contract_combat.units import MAX_PACK, MIN_PACK
from models.rllib.spaces import spaces, uses_signals

#: Keys of the env config (RLlib's `env_config`), with their defaults.
DEFAULTS: dict[str, Any] = {
    "fights": 16,
    "seed": 0,
    "model_type": "pack_coordination",
    "max_steps": 80,
    "horizon": 80,
    "pack_size": (MIN_PACK, MAX_PACK),
    "team_reward_weight": 0.7,
    "scenario": "standard",
}


class AnyAgent(dict[str, gym.Space[Any]]):
    """Every agent id maps to the one shared space (the dict itself stays empty)."""

    def __init__(self, space: gym.Space[Any]) -> None:
        super().__init__()
        self.space = space

    def __missing__(self, key: str) -> gym.Space[Any]:
        return self.space


class ContractPackEnv(MultiAgentEnv):  # type: ignore[misc]
    """F contract fights as one RLlib multi-agent environment (see the module's docstring)."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        cfg = {**DEFAULTS, **dict(config or {})}
        unknown = sorted(set(cfg) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"unknown env_config key(s): {', '.join(unknown)}")
        self.model_type = str(cfg["model_type"])
        # Agent ids are made as fights start, so the spaces are one for any id (RLlib's vector
        # env asks for a per-agent mapping; an unlisted id gets the shared space).
        obs_space, act_space = spaces(self.model_type)
        self.observation_spaces = AnyAgent(obs_space)
        self.action_spaces = AnyAgent(act_space)
        self.use_signals = uses_signals(self.model_type)
        # Each env runner (and each of its sub-environments) draws its own fights.
        offset = 10_007 * int(getattr(config, "worker_index", 0)) + int(
            getattr(config, "vector_index", 0)
        )
        self.sim = ContractCombatEnv(
            int(cfg["fights"]),
            seed=int(cfg["seed"]) + offset,
            pack_size=tuple(cfg["pack_size"]),
            max_steps=int(cfg["max_steps"]),
            team_reward_weight=float(cfg["team_reward_weight"]),
            action_space="pack" if self.use_signals else "combat",
            scenario=str(cfg["scenario"]),
        )
        self.horizon = int(cfg["horizon"])
        F = self.sim.n_envs
        self.generation = np.zeros(F, np.int64)
        self.ids = [[""] * MAX_PACK for _ in range(F)]
        self._obs: Observation | None = None
        self._t = 0
        #: Fights finished since `take_finished` was last called (the callbacks report them).
        self.finished: list[EpisodeStats] = []
        self.possible_agents: list[str] = []
        self.agents: list[str] = []

    def set_pack_size(self, pack_size: tuple[int, int]) -> None:
        """The curriculum's pack sizes for the fights that start from now on."""
        self.sim.set_pack_size(pack_size)

    def take_finished(self) -> EpisodeStats | None:
        """The fights that ended since the last call, as one EpisodeStats (None: none)."""
        if not self.finished:
            return None
        episodes, self.finished = concat_episodes(self.finished), []
        return episodes

    # --- RLlib's interface ----------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if self._obs is None or seed is not None:
            if seed is not None:
                self.sim._rng = np.random.default_rng(seed)
            self._obs = self.sim.reset()
        # A new RLlib episode continues the running fights under new ids.
        self.generation += 1
        self._t = 0
        self._rename(np.arange(self.sim.n_envs))
        return self._observations(self._obs), {}

    def step(
        self, action_dict: dict[str, int]
    ) -> tuple[
        dict[str, np.ndarray],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, Any],
    ]:
        assert self._obs is not None, "step before reset"
        before = self._obs.agent_mask
        actions = np.zeros(before.shape, np.int64)
        for agent, action in action_dict.items():
            fight, _, slot = agent.split(":")
            actions[int(fight), int(slot)] = int(action)
        obs, result = self.sim.step(actions)
        self._t += 1
        window_over = self._t >= self.horizon
        features = self._features(obs.local_obs, obs.signals)
        last = self.sim.timeout_obs
        timeout_features = None if last is None else self._features(*last)
        observations: dict[str, np.ndarray] = {}
        rewards: dict[str, float] = {}
        terminated: dict[str, bool] = {"__all__": False}
        truncated: dict[str, bool] = {"__all__": window_over}
        for fight, slot in zip(*np.nonzero(before), strict=True):
            agent = self.ids[fight][slot]
            rewards[agent] = float(result.agent_rewards[fight, slot])
            timed_out = bool(result.truncated[fight])
            if timed_out and timeout_features is not None:
                # The fight ran out of time: the value is bootstrapped from its last state.
                observations[agent] = timeout_features[fight, slot]
            else:
                # Ended fights already hold their next fight: a terminal observation is never
                # valued, so the zeros of an absent slot serve.
                observations[agent] = features[fight, slot] * (not result.done[fight])
            if result.done[fight]:
                terminated[agent], truncated[agent] = not timed_out, timed_out
            elif not obs.agent_mask[fight, slot]:
                terminated[agent], truncated[agent] = True, False  # died this step
            else:
                terminated[agent], truncated[agent] = False, window_over
        if result.episodes.env_index.size:
            self.finished.append(result.episodes)
        restarted = np.nonzero(result.done)[0]
        self.generation[restarted] += 1
        self._rename(restarted)
        self._obs = obs
        if not window_over:
            # The next fights' monsters enter with their first observation.
            for fight, slot in zip(*np.nonzero(obs.agent_mask[restarted]), strict=True):
                row = restarted[fight]
                observations[self.ids[row][slot]] = features[row, slot]
        return observations, rewards, terminated, truncated, {}

    # --- helpers --------------------------------------------------------------------------
    def _rename(self, fights: np.ndarray) -> None:
        for fight in fights:
            gen = self.generation[fight]
            self.ids[fight] = [f"{fight}:{gen}:{slot}" for slot in range(MAX_PACK)]

    def _features(self, local: np.ndarray, signals: np.ndarray) -> np.ndarray:
        """(F, 5, width) float32: the served actor's input for every slot."""
        if self.use_signals:
            local = np.concatenate([local, signals], axis=2)
        return np.ascontiguousarray(local, dtype=np.float32)

    def _observations(self, obs: Observation) -> dict[str, np.ndarray]:
        features = self._features(obs.local_obs, obs.signals)
        return {
            self.ids[fight][slot]: features[fight, slot]
            for fight, slot in zip(*np.nonzero(obs.agent_mask), strict=True)
        }
