"""E PettingZoo parallel environments as one `MultiAgentEnv` (models/envs/base.py).

The CTDE trainer reads padded (E, N, ...) arrays; a PettingZoo parallel env speaks dicts keyed by
agent name. This adapter translates, so the same MAPPO trainer runs on the product's pack-combat
simulator and on standard benchmarks such as `simple_spread_v3` from mpe2:

    def make_spread() -> ParallelEnv:
        return simple_spread_v3.parallel_env(N=3, local_ratio=0.5, max_cycles=25,
                                             continuous_actions=False)

    env = PettingZooVecEnv(make_spread, n_envs=32, seed=0)
    trainer = CTDETrainer(config, n_agents=env.n_agents, env_factory=lambda s: ...)

What the trainer sees:

- slots: `possible_agents` in their order, one slot each (`n_agents` may add empty slots);
- `local_obs`: each agent's observation, flattened and zero-padded (or truncated) to `state_dim`;
  an `{"observation", "action_mask"}` dict observation gives both;
- `global_state` for the centralized critic, by `global_state`:
  "agents" (default): slot i holds agent i's observation. The critic attends over all slots, so it
  sees every agent's observation at once (the joint observation) at the actor's own width;
  "joint": every slot holds `env.state()`, or, where the env has none, the concatenation of all
  agents' observations; padded or truncated to `state_dim`, so give a `state_dim` that fits it;
- `signals`: zeros (PettingZoo has no pack signals; train with `ctde.inference.use_signals: false`);
- `action_mask`: agent i may take actions below its Discrete(n_i) (or what its own mask allows);
  a slot that does not act allows only action 0, as in the simulator;
- rewards: each agent's own PettingZoo reward; the team reward is their sum over the agents;
- episodes end when the env has no agent left; `truncated` when the time limit (a truncation)
  ended it, so the trainer bootstraps V(final state) there. Finished envs reset at once.

Continuous action spaces are not supported (the actor is categorical): make discrete envs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from models.envs.base import EpisodeStats, Observation, StepResult, team_return_summary

if TYPE_CHECKING:
    from pettingzoo import ParallelEnv


GlobalStateMode = Literal["agents", "joint"]


class PettingZooVecEnv:
    """`n_envs` copies of a PettingZoo parallel env, stepped in lockstep with auto-reset.

    Environment e is first reset with seed `seed + e` and later episodes continue its own random
    stream, so a seed and an action sequence give one trajectory.
    """

    def __init__(
        self,
        make_env: Callable[[], ParallelEnv],
        n_envs: int,
        seed: int = 0,
        *,
        state_dim: int | None = None,
        action_dim: int | None = None,
        n_agents: int | None = None,
        signal_dim: int = 32,
        global_state: GlobalStateMode = "agents",
    ) -> None:
        if n_envs < 1:
            raise ValueError(f"n_envs must be >= 1, got {n_envs}")
        if global_state not in ("agents", "joint"):
            raise ValueError(f"global_state must be 'agents' or 'joint', got {global_state!r}")
        if signal_dim < 1:
            raise ValueError(f"signal_dim must be >= 1, got {signal_dim}")
        self.n_envs = n_envs
        self.seed = seed
        self.global_state_mode: GlobalStateMode = global_state
        self.signal_dim = signal_dim
        self._envs = [make_env() for _ in range(n_envs)]
        first = self._envs[0]
        self.agent_names: list[Any] = list(first.possible_agents)
        self.n_agents = len(self.agent_names) if n_agents is None else n_agents
        if self.n_agents < len(self.agent_names):
            raise ValueError(
                f"n_agents {self.n_agents} is fewer than the env's {len(self.agent_names)} agents"
            )
        self._slot = {name: i for i, name in enumerate(self.agent_names)}
        self.obs_dims = [_obs_width(first.observation_space(a)) for a in self.agent_names]
        self.action_counts = [_n_actions(first.action_space(a), a) for a in self.agent_names]
        self._has_state = False
        self.joint_dim = sum(self.obs_dims)
        natural = max(self.obs_dims)  # the width that loses nothing; a smaller state_dim truncates
        if global_state == "joint":
            self._has_state, self.joint_dim = self._probe_state(first)
            natural = max(natural, self.joint_dim)
        self.state_dim = natural if state_dim is None else state_dim
        self.action_dim = max(self.action_counts) if action_dim is None else action_dim
        if self.action_dim < max(self.action_counts):
            raise ValueError(
                f"action_dim {self.action_dim} is smaller than the env's "
                f"{max(self.action_counts)} discrete actions"
            )
        N, A = self.n_agents, self.action_dim
        # Which actions each slot's space has: Discrete(n_i) padded to the widest agent's A.
        self._space_mask = np.zeros((N, A), bool)
        for i, n in enumerate(self.action_counts):
            self._space_mask[i, :n] = True
        self._pack_mask = np.zeros(N, bool)
        self._pack_mask[: len(self.agent_names)] = True
        self._raw_obs: list[Mapping[Any, Any]] = [{} for _ in range(n_envs)]
        self._ep_return = np.zeros(n_envs)
        self._ep_length = np.zeros(n_envs, np.int64)
        self._ep_terminated = np.zeros(n_envs, np.int64)
        self._resets = 0

    score_name = "team_return"

    def summarize(self, episodes: EpisodeStats) -> dict[str, float]:
        return team_return_summary(episodes)

    def __getstate__(self) -> dict[str, Any]:
        # PettingZoo's wrappers pickle without error but unpickle broken (the raw env loses its
        # agent_selection), so refuse: a checkpoint then goes without the env (CTDETrainer).
        raise TypeError("PettingZooVecEnv does not pickle: PettingZoo envs do not survive it")

    # --- MultiAgentEnv ------------------------------------------------------------------------

    def reset(self) -> Observation:
        """New episodes everywhere: seeded `seed + e` the first time, continuing each env's own
        random stream afterwards."""
        for e, env in enumerate(self._envs):
            obs, _ = env.reset(seed=self.seed + e) if self._resets == 0 else env.reset()
            self._raw_obs[e] = obs
        self._resets += 1
        self._ep_return[:] = 0.0
        self._ep_length[:] = 0
        self._ep_terminated[:] = 0
        return self._observe()

    def step(self, actions: NDArray[np.integer]) -> tuple[Observation, StepResult]:
        """Apply (E, N) actions; slots that do not act are ignored. Finished envs reset."""
        if self._resets == 0:
            raise RuntimeError("call reset() before step()")
        act = np.asarray(actions)
        E, N, S = self.n_envs, self.n_agents, self.state_dim
        if act.shape != (E, N):
            raise ValueError(f"actions must have shape {(E, N)}, got {act.shape}")
        if not np.issubdtype(act.dtype, np.integer):
            raise ValueError(f"actions must be integers, got dtype {act.dtype}")
        rewards = np.zeros((E, N), np.float32)
        done = np.zeros(E, bool)
        truncated = np.zeros(E, bool)
        terminal_state = np.zeros((E, N, S), np.float32)
        finished: list[int] = []
        for e, env in enumerate(self._envs):
            acting = list(env.agents)
            step_actions = {}
            for name in acting:
                a = int(act[e, self._slot[name]])
                if not (0 <= a < self.action_dim and self._allowed(e, name)[a]):
                    raise ValueError(f"env {e}: action {a} is not allowed for agent {name!r}")
                step_actions[name] = a
            obs, rew, term, trunc, _ = env.step(step_actions)
            for name, r in rew.items():
                rewards[e, self._slot[name]] = r
            self._ep_return[e] += float(sum(rew.values()))
            self._ep_length[e] += 1
            self._ep_terminated[e] += sum(bool(term.get(name, False)) for name in acting)
            self._raw_obs[e] = obs
            if env.agents:
                continue
            # Everyone is gone: the episode ended. A truncation means the time limit ended it,
            # so the trainer bootstraps the value of this last state instead of zero.
            done[e] = True
            truncated[e] = any(bool(trunc.get(name, False)) for name in acting)
            terminal_state[e] = self._global_state(e, obs)
            finished.append(e)
        episodes = self._episode_stats(np.asarray(finished, np.int64), truncated)
        for e in finished:
            self._raw_obs[e], _ = self._envs[e].reset()
            self._ep_return[e] = 0.0
            self._ep_length[e] = 0
            self._ep_terminated[e] = 0
        team = rewards.sum(axis=1)
        result = StepResult(
            team_reward=team,
            agent_rewards=rewards,
            individual_rewards=rewards.copy(),
            done=done,
            truncated=truncated,
            terminal_global_state=terminal_state,
            terminal_pack_mask=np.broadcast_to(self._pack_mask, (E, N)).copy(),
            episodes=episodes,
        )
        return self._observe(), result

    # --- observation --------------------------------------------------------------------------

    def _observe(self) -> Observation:
        E, N, S, A = self.n_envs, self.n_agents, self.state_dim, self.action_dim
        local = np.zeros((E, N, S), np.float32)
        glob = np.zeros((E, N, S), np.float32)
        agent_mask = np.zeros((E, N), bool)
        action_mask = np.zeros((E, N, A), bool)
        for e, env in enumerate(self._envs):
            for name in env.agents:
                slot = self._slot[name]
                agent_mask[e, slot] = True
                local[e, slot] = _fit(_features(self._raw_obs[e].get(name)), S)
                action_mask[e, slot] = self._allowed(e, name)
            glob[e] = self._global_state(e, self._raw_obs[e], local[e])
        # A slot that does not act allows only action 0, so a masked softmax never meets an empty
        # row (the simulator's convention).
        action_mask[~agent_mask] = False
        action_mask[~agent_mask, 0] = True
        return Observation(
            local_obs=local,
            signals=np.zeros((E, N, self.signal_dim), np.float32),
            global_state=glob,
            agent_mask=agent_mask,
            pack_mask=np.broadcast_to(self._pack_mask, (E, N)).copy(),
            action_mask=action_mask,
        )

    def _allowed(self, e: int, name: Any) -> NDArray[np.bool_]:
        """Actions agent `name` may take now in env e: its space, narrowed by its own mask."""
        allowed: NDArray[np.bool_] = self._space_mask[self._slot[name]].copy()
        raw = self._raw_obs[e].get(name)
        if isinstance(raw, Mapping) and "action_mask" in raw:
            own = np.asarray(raw["action_mask"], bool).reshape(-1)
            allowed[: own.size] &= own[: self.action_dim]
        if not allowed.any():  # an env that masks everything still needs one action to sample
            allowed[0] = True
        return allowed

    def _global_state(
        self,
        e: int,
        raw_obs: Mapping[Any, Any],
        local: NDArray[np.float32] | None = None,
    ) -> NDArray[np.float32]:
        """(N, S) critic input of env e from the observations `raw_obs`."""
        N, S = self.n_agents, self.state_dim
        if self.global_state_mode == "agents":
            if local is not None:
                return local.copy()
            out = np.zeros((N, S), np.float32)
            for name, value in raw_obs.items():
                out[self._slot[name]] = _fit(_features(value), S)
            return out
        joint = self._joint_vector(self._envs[e], raw_obs)
        out = np.zeros((N, S), np.float32)
        out[self._pack_mask] = _fit(joint, S)
        return out

    def _joint_vector(self, env: Any, raw_obs: Mapping[Any, Any]) -> NDArray[np.float32]:
        """env.state() where the env defines it, else every agent's observation in slot order."""
        if self._has_state:
            return np.asarray(env.state(), np.float32).reshape(-1)
        parts = [
            _fit(_features(raw_obs.get(name)), width)
            for name, width in zip(self.agent_names, self.obs_dims, strict=True)
        ]
        return np.concatenate(parts)

    def _probe_state(self, env: Any) -> tuple[bool, int]:
        """Whether the env defines state() (ParallelEnv's default raises), and the joint width."""
        try:
            env.reset(seed=self.seed)
            return True, int(np.asarray(env.state()).size)
        except (NotImplementedError, AttributeError):
            return False, sum(self.obs_dims)

    # --- episodes -----------------------------------------------------------------------------

    def _episode_stats(
        self, finished: NDArray[np.int64], truncated: NDArray[np.bool_]
    ) -> EpisodeStats:
        team_size = len(self.agent_names)
        return EpisodeStats(
            env_index=finished,
            length=self._ep_length[finished].copy(),
            team_return=self._ep_return[finished].copy(),
            extra={
                # 1 where the time limit ended it, 0 where no agent was left
                "truncated": truncated[finished].astype(np.float64),
                "agents_left": 1.0 - self._ep_terminated[finished] / team_size,
            },
        )


def _obs_width(space: Any) -> int:
    """Flat width of an observation space; a Dict space's "observation" entry where it has one."""
    spaces = getattr(space, "spaces", None)
    if isinstance(spaces, Mapping) and "observation" in spaces:
        space = spaces["observation"]
    shape = getattr(space, "shape", None)
    if shape is None:
        raise ValueError(f"observation space {space!r} has no shape")
    return int(np.prod(shape))


def _n_actions(space: Any, agent: Any) -> int:
    n = getattr(space, "n", None)
    if n is None or getattr(space, "shape", None) not in ((), None):
        raise ValueError(
            f"agent {agent!r}: action space {space!r} is not Discrete; the actor is categorical "
            "(make the env with discrete actions, e.g. continuous_actions=False)"
        )
    return int(n)


def _features(value: Any) -> NDArray[np.float32]:
    """An agent's observation as a flat float32 vector (an absent one is empty)."""
    if value is None:
        return np.zeros(0, np.float32)
    if isinstance(value, Mapping):
        value = value["observation"]
    return np.asarray(value, np.float32).reshape(-1)


def _fit(vector: NDArray[np.float32], width: int) -> NDArray[np.float32]:
    """Zero-pad or truncate to `width`."""
    if vector.size >= width:
        return vector[:width]
    out = np.zeros(width, np.float32)
    out[: vector.size] = vector
    return out
