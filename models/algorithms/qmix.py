"""QMIX (Rashid et al., "QMIX: Monotonic Value Function Factorisation", 2018), EPyMARL style.

One recurrent Q-network is shared by every agent: it is the product's `DecentralizedActor`, whose
"logits" are read as Q-values Q_i(o_i, a) (signals and GRU memory included), so the deployed actor
is the Q-network itself: the served action is argmax_a Q and its confidence softmax(Q) of it.
A mixing network turns the agents' chosen Q-values into the team's value:

    Q_tot(s, a_1..a_N) = mixer(Q_1(o_1, a_1), ..., Q_N(o_N, a_N); s)     monotonic in every Q_i

so the greedy joint action of Q_tot is every agent's own argmax (decentralized execution).
Training regresses Q_tot onto the one-step double-Q target on whole episodes from a replay:

    a*_i  = argmax_{valid a} Q_i(o'_i, a)                  (the online network picks...)
    y     = r_team + gamma * (1 - terminated) * Q_tot^-(Q^-_1(o'_1, a*_1), ...; s')
                                                            (...the target networks score it)
    loss  = mean over real transitions of (Q_tot - y)^2

Shapes: E environments, N agent slots, T rollout steps, B sampled episodes, L their padded length,
S state_dim, A action_dim. VDN (models/algorithms/vdn.py) is this class with a sum for the mixer.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from models.algorithms.base import Algorithm, AlgorithmConfig, Iteration
from models.buffers.episode_replay import EpisodeReplay, FieldSpecs
from models.envs.base import EpisodeStats, Observation, StepResult, n_slots
from models.networks.ctde import DecentralizedActor, QMIXMixer
from models.training.checkpoints import CheckpointDimensionError, dims_mismatches

Tensor = torch.Tensor


@dataclass(frozen=True)
class ValueDecompositionHyperparameters:
    """What QMIX and VDN share (EPyMARL's defaults unless said otherwise)."""

    buffer_episodes: int = 1000
    """Replay capacity in episodes (FIFO). One pack-combat episode of 80 steps takes ~0.3 MB."""
    batch_episodes: int = 32
    """Episodes per gradient step; training starts once the replay holds this many."""
    max_episode_length: int = 0
    """Steps of the longest episode (the replay's padded length); 0: the env's `max_steps`
    (the simulator's time limit), else the training settings' `max_steps`."""
    epsilon_start: float = 1.0
    """Exploration: probability of a uniformly random valid action at the start."""
    epsilon_finish: float = 0.05
    """...and after `epsilon_anneal_steps` environment steps (linear in between)."""
    epsilon_anneal_steps: int = 50_000
    """Environment steps (E envs stepping once is E steps) over which epsilon anneals."""
    target_update_interval: int = 200
    """Gradient steps between hard copies of the online networks into the target networks
    (used when tau is 0)."""
    tau: float = 0.0
    """Polyak averaging of the target networks after every gradient step; 0: hard copies."""
    train_steps_per_iteration: int = 8
    """Gradient steps after each collection of `rollout_length` x `n_envs` env steps."""
    double_q: bool = True
    """The online network picks the next action and the target network scores it (van Hasselt
    et al. 2016); False: the target network's own max (overestimates)."""
    lr: float = 0.0
    """Adam learning rate of the Q-network and the mixer; 0: ctde.actor.learning_rate."""
    max_grad_norm: float = 10.0
    """Global gradient norm clip."""

    def __post_init__(self) -> None:
        positive = ("buffer_episodes", "batch_episodes", "target_update_interval")
        for name in (*positive, "train_steps_per_iteration"):
            minimum = 1 if name in positive else 0
            if getattr(self, name) < minimum:
                raise ValueError(
                    f"algorithm.{name} must be >= {minimum}, got {getattr(self, name)}"
                )
        if self.batch_episodes > self.buffer_episodes:
            raise ValueError("algorithm.batch_episodes must not exceed algorithm.buffer_episodes")
        for name in ("epsilon_start", "epsilon_finish", "tau"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"algorithm.{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("max_episode_length", "epsilon_anneal_steps", "lr", "max_grad_norm"):
            if getattr(self, name) < 0:
                raise ValueError(f"algorithm.{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class QMIXHyperparameters(ValueDecompositionHyperparameters):
    """QMIX's own keys: the mixing network's sizes."""

    mixing_embed_dim: int = 32
    """Width of the mixing layer (the hypernetworks' weight matrices are N x this)."""
    hypernet_embed_dim: int = 64
    """Hidden width of the hypernetworks that read the state."""


# --- the math, as small functions ----------------------------------------------------------------


def mask_invalid(q: Tensor, valid: Tensor) -> Tensor:
    """Q-values with -inf on invalid actions: they can never be a max or an argmax."""
    return q.masked_fill(~valid, float("-inf"))


def next_agent_values(q_online: Tensor, q_target: Tensor, valid: Tensor, double_q: bool) -> Tensor:
    """(..., A) Q-values of one observation -> (...) the value each agent's target uses there.

    Double Q: the online network picks a* = argmax_{valid a} Q(o, a), the target network scores it:
    Q^-(o, a*). Without it: max_{valid a} Q^-(o, a).
    """
    if double_q:
        best = mask_invalid(q_online, valid).argmax(dim=-1, keepdim=True)
        return q_target.gather(-1, best).squeeze(-1)
    return mask_invalid(q_target, valid).amax(dim=-1)


def td_target(reward: Tensor, terminated: Tensor, next_q_tot: Tensor, gamma: float) -> Tensor:
    """y_t = r_t + gamma * Q_tot^-(s_{t+1}, a*_{t+1}), with nothing after a terminal step."""
    return reward + gamma * torch.where(terminated, 0.0, next_q_tot)


def allow_noop_where_empty(valid: Tensor) -> Tensor:
    """Padded steps store no valid action at all; let them allow action 0 (as a non-acting slot
    does) so every max stays finite. They are masked out of the loss anyway."""
    empty = ~valid.any(dim=-1, keepdim=True)
    noop = torch.zeros_like(valid)
    noop[..., 0] = True
    return valid | (empty & noop)


class QMIX(Algorithm):
    """QMIX on a vectorized `MultiAgentEnv`: epsilon-greedy collection into an episode replay,
    double-Q TD updates of the shared agent network and the state-conditioned mixer."""

    info = AlgorithmConfig(
        name="qmix",
        title="QMIX: recurrent agent Q-network, monotonic state-conditioned mixer, double Q",
        on_policy=False,
        centralized_critic=True,
        recurrent=True,
        value_based=True,
    )
    Hyperparameters: ClassVar[type[Any]] = QMIXHyperparameters
    #: The mixer reads the global state (VDN's sum does not, and its replay does not store it).
    uses_state: ClassVar[bool] = True
    hp: ValueDecompositionHyperparameters

    def build(self) -> None:
        config, settings, env = self.config, self.settings, self.env
        c = config.ctde
        self.use_signals = c.inference.use_signals
        torch.manual_seed(settings.seed)
        # dropout=0: the TD target compares the online and the target network as one function, and
        # dropout noise under a max would bias the target upward; the served actor has none either.
        self.q_net = DecentralizedActor(
            c.state_dim, c.signal_dim, c.action_dim, c.actor.hidden_dim, c.actor.use_gru, 0.0
        ).to(self.device)
        self.mixer = self._build_mixer().to(self.device)
        self.target_q_net = copy.deepcopy(self.q_net).requires_grad_(False)
        self.target_mixer = copy.deepcopy(self.mixer).requires_grad_(False)
        self.params = [*self.q_net.parameters(), *self.mixer.parameters()]
        self.optimizer = torch.optim.Adam(self.params, lr=self.hp.lr or c.actor.learning_rate)
        self.max_length = self.hp.max_episode_length or int(
            getattr(env, "max_steps", settings.max_steps)
        )
        self.replay = EpisodeReplay(self.hp.buffer_episodes, self.max_length, self._fields())
        self.env_steps = 0
        self.train_steps = 0
        # The interaction state (an exact resume restores it): the current observation, each
        # slot's GRU memory, and every env's running episode (recorded steps and their count).
        self._obs: Observation | None = None
        self._hidden: Tensor | None = None
        self._running: dict[str, NDArray[Any]] = {}
        self._running_t = np.zeros(0, np.int64)

    # --- networks -------------------------------------------------------------------------------
    @property
    def actor(self) -> DecentralizedActor:
        return self.q_net

    def _build_mixer(self) -> nn.Module:
        # The mixer reads the whole team's global state flattened: the env's (N, S) per-slot state
        # as N * S floats, in slot order (padded slots are zeros).
        hp = self.hp
        assert isinstance(hp, QMIXHyperparameters)
        return QMIXMixer(
            self.n_agents,
            self.n_agents * self.config.ctde.state_dim,
            hp.mixing_embed_dim,
            hp.hypernet_embed_dim,
        )

    def _mixer_dims(self) -> dict[str, Any]:
        hp = self.hp
        assert isinstance(hp, QMIXHyperparameters)
        return {
            "mixer": "qmix",
            "mixer_state_dim": self.n_agents * self.config.ctde.state_dim,
            "mixing_embed_dim": hp.mixing_embed_dim,
            "hypernet_embed_dim": hp.hypernet_embed_dim,
        }

    def _fields(self) -> FieldSpecs:
        """What one step of an episode stores in the replay."""
        c, N = self.config.ctde, self.n_agents
        fields: dict[str, tuple[tuple[int, ...], Any]] = {
            "local_obs": ((N, c.state_dim), np.float32),
            "agent_mask": ((N,), np.bool_),
            "action_mask": ((N, c.action_dim), np.bool_),
            "actions": ((N,), np.int64),
            "reward": ((), np.float32),
            "terminated": ((), np.bool_),
            "truncated": ((), np.bool_),
        }
        if self.use_signals:
            fields["signals"] = ((N, c.signal_dim), np.float32)
        if self.uses_state:
            fields["state"] = ((N * c.state_dim,), np.float32)
        return fields

    # --- acting ---------------------------------------------------------------------------------
    @property
    def epsilon(self) -> float:
        """Linear annealing from epsilon_start to epsilon_finish over epsilon_anneal_steps."""
        hp = self.hp
        done = (
            min(1.0, self.env_steps / hp.epsilon_anneal_steps) if hp.epsilon_anneal_steps else 1.0
        )
        return hp.epsilon_start + done * (hp.epsilon_finish - hp.epsilon_start)

    def observation(self) -> Observation | None:
        return self._obs

    def forget_episodes(self) -> None:
        """Forget the observation, memories and running episodes: the next `iterate` resets the
        env (a resume whose env could not be saved). Stored episodes stay in the replay."""
        self._obs, self._hidden = None, None
        self._running, self._running_t = {}, np.zeros(0, np.int64)

    def _start(self) -> Observation:
        if self._obs is not None:
            return self._obs
        obs = self.env.reset()
        if n_slots(obs) != self.n_agents:
            raise ValueError(
                f"the env has {n_slots(obs)} agent slots, the algorithm {self.n_agents}"
            )
        E = self.env.n_envs
        self._obs = obs
        self._hidden = self.q_net.initial_hidden(E * self.n_agents, self.device)
        self._running = {
            name: np.zeros((E, self.max_length, *shape), dtype)
            for name, (shape, dtype) in self._fields().items()
        }
        self._running_t = np.zeros(E, np.int64)
        return obs

    @torch.no_grad()
    def _agent_qs(self, obs: Observation) -> NDArray[np.float32]:
        """(E, N, A) Q-values of the current observation; advances every slot's GRU memory."""
        E, N = obs.agent_mask.shape
        q, hidden = self.q_net.logits(
            torch.as_tensor(obs.local_obs.reshape(E * N, -1), device=self.device),
            torch.as_tensor(obs.signals.reshape(E * N, -1), device=self.device)
            if self.use_signals
            else None,
            self._hidden if self.q_net.use_gru else None,
        )
        self._hidden = hidden
        return q.cpu().numpy().reshape(E, N, -1)

    def _epsilon_greedy(
        self, q: NDArray[np.float32], valid: NDArray[np.bool_]
    ) -> NDArray[np.int64]:
        """With probability epsilon a uniformly random valid action, else the valid argmax.
        The draws have fixed shapes, so the random stream does not depend on the outcome."""
        greedy = np.where(valid, q, -np.inf).argmax(axis=-1)
        random_valid = np.where(valid, self.rng.random(valid.shape), -1.0).argmax(axis=-1)
        explore = self.rng.random(greedy.shape) < self.epsilon
        actions: NDArray[np.int64] = np.where(explore, random_valid, greedy).astype(np.int64)
        return actions

    def _record(self, obs: Observation, actions: NDArray[np.int64], result: StepResult) -> None:
        """Append this step to every env's running episode; store the episodes that ended."""
        E = self.env.n_envs
        t = self._running_t
        if (t >= self.max_length).any():
            raise RuntimeError(
                f"an episode ran past {self.max_length} steps: set algorithm.max_episode_length"
            )
        step: dict[str, NDArray[Any]] = {
            "local_obs": obs.local_obs,
            "agent_mask": obs.agent_mask,
            "action_mask": obs.action_mask,
            "actions": actions,
            "reward": result.team_reward,
            "terminated": result.done & ~result.truncated,
            "truncated": result.truncated,
        }
        if self.use_signals:
            step["signals"] = obs.signals
        if self.uses_state:
            step["state"] = obs.global_state.reshape(E, -1)
        rows = np.arange(E)
        for name, value in step.items():
            self._running[name][rows, t] = value
        self._running_t = t + 1
        for e in np.flatnonzero(result.done):
            length = int(self._running_t[e])
            self.replay.add({name: run[e, :length] for name, run in self._running.items()})
            self._running_t[e] = 0

    @torch.no_grad()
    def _collect(self) -> tuple[list[EpisodeStats], int]:
        """`rollout_length` epsilon-greedy steps of every env: (finished episodes, decisions)."""
        obs = self._start()
        E, N = self.env.n_envs, self.n_agents
        episodes: list[EpisodeStats] = []
        samples = 0
        for _ in range(self.settings.rollout_length):
            actions = self._epsilon_greedy(self._agent_qs(obs), obs.action_mask)
            next_obs, result = self.env.step(actions)
            self._record(obs, actions, result)
            samples += int(obs.agent_mask.sum())
            if len(result.episodes.env_index):
                episodes.append(result.episodes)
            if self._hidden is not None and result.done.any():
                # A new episode starts from a fresh memory, as its replay will.
                fresh = torch.as_tensor(np.repeat(result.done, N), device=self.device)
                self._hidden = torch.where(fresh[:, None], 0.0, self._hidden)
            self.env_steps += E
            obs = next_obs
        self._obs = obs
        return episodes, samples

    # --- learning -------------------------------------------------------------------------------
    def iterate(self) -> Iteration:
        episodes, samples = self._collect()
        steps: list[dict[str, float]] = []
        if len(self.replay) >= self.hp.batch_episodes:
            steps = [self._train_step() for _ in range(self.hp.train_steps_per_iteration)]
        self.updates += 1
        stats = {
            key: float(np.mean([s[key] for s in steps])) if steps else float("nan")
            for key in ("td_loss", "q_taken_mean", "target_mean", "grad_norm")
        }
        stats |= {
            "epsilon": self.epsilon,
            "buffer_episodes": float(len(self.replay)),
            "train_steps": float(self.train_steps),
        }
        return Iteration(
            stats=stats,
            episodes=episodes,
            env_steps=self.settings.rollout_length * self.env.n_envs,
            samples=samples,
        )

    def _batch(self) -> dict[str, Tensor]:
        sampled = self.replay.sample(self.hp.batch_episodes, self.rng)
        return {name: torch.as_tensor(array, device=self.device) for name, array in sampled.items()}

    def _unroll(self, net: DecentralizedActor, batch: Mapping[str, Tensor]) -> Tensor:
        """(B, L, N, A) Q-values of every step, the GRU run from a zero memory at each episode's
        first step, as it was while acting."""
        obs, signals = batch["local_obs"], batch.get("signals")
        B, L, N, S = obs.shape
        hidden: Tensor | None = None
        out = []
        for t in range(L):
            q, hidden = net.logits(
                obs[:, t].reshape(B * N, S),
                signals[:, t].reshape(B * N, -1) if signals is not None else None,
                hidden,
            )
            out.append(q.view(B, N, -1))
        return torch.stack(out, dim=1)

    def _mix(self, mixer: nn.Module, agent_qs: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        """(B, L, N) agent Q-values -> (B, L) Q_tot; absent and non-acting agents are masked."""
        B, L, N = agent_qs.shape
        state = batch.get("state")
        q_tot: Tensor = mixer(
            agent_qs.reshape(B * L, N),
            state.reshape(B * L, -1) if state is not None else None,
            batch["agent_mask"].reshape(B * L, N),
        )
        return q_tot.view(B, L)

    def td_terms(self, batch: Mapping[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """(Q_tot of the taken actions (B, L), TD targets (B, L), loss mask (B, L))."""
        valid = allow_noop_where_empty(batch["action_mask"])
        q = self._unroll(self.q_net, batch)  # (B, L, N, A)
        taken = q.gather(-1, batch["actions"][..., None]).squeeze(-1)  # Q_i(o_t, a_t)
        # --- the mixer: Q_tot(s_t, a_t) = mixer(Q_1..Q_N; s_t) ---
        q_tot = self._mix(self.mixer, taken, batch)
        with torch.no_grad():
            q_target = self._unroll(self.target_q_net, batch)
            # --- double Q: each step's value under the target networks, at the online argmax ---
            best = next_agent_values(q.detach(), q_target, valid, self.hp.double_q)  # (B, L, N)
            target_tot = self._mix(self.target_mixer, best, batch)  # Q_tot^-(s_t, a*_t)
            # Transition t bootstraps from step t + 1; the last stored step has no successor (it
            # ended its episode: terminal, or truncated and masked out below).
            next_tot = torch.cat([target_tot[:, 1:], torch.zeros_like(target_tot[:, :1])], dim=1)
            # --- the TD target ---
            target = td_target(
                batch["reward"], batch["terminated"], next_tot, self.config.ctde.gamma
            )
        # Truncation (the time limit): the auto-reset env never shows the agents' last local
        # observation, so there is nothing to bootstrap from, and zero would teach that time-outs
        # are worthless: that last transition is left out of the loss. Padded steps are too.
        mask = batch["filled"] & ~batch["truncated"]
        return q_tot, target, mask

    def _train_step(self) -> dict[str, float]:
        q_tot, target, mask = self.td_terms(self._batch())
        count = mask.sum().clamp(min=1)
        td_error = torch.where(mask, q_tot - target, 0.0)
        loss = td_error.pow(2).sum() / count  # mean squared TD error over real transitions
        self.optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.hp.max_grad_norm)
        self.optimizer.step()
        self.train_steps += 1
        self._update_targets()
        return {
            "td_loss": float(loss.detach()),
            "q_taken_mean": float(torch.where(mask, q_tot.detach(), 0.0).sum() / count),
            "target_mean": float(torch.where(mask, target, 0.0).sum() / count),
            "grad_norm": float(grad_norm),
        }

    @torch.no_grad()
    def _update_targets(self) -> None:
        pairs = ((self.target_q_net, self.q_net), (self.target_mixer, self.mixer))
        if self.hp.tau > 0:  # Polyak: theta^- <- (1 - tau) theta^- + tau theta
            for target, online in pairs:
                for t_param, param in zip(target.parameters(), online.parameters(), strict=True):
                    t_param.lerp_(param, self.hp.tau)
        elif self.train_steps % self.hp.target_update_interval == 0:
            for target, online in pairs:
                target.load_state_dict(online.state_dict())

    # --- state ----------------------------------------------------------------------------------
    def dims(self) -> dict[str, Any]:
        return {
            **self.actor_dims(),
            "n_agents": self.n_agents,
            **self._mixer_dims(),
        }

    def state_dict(self) -> dict[str, Any]:
        """Networks and optimizer (live tensors, as torch's own state_dict: save them promptly),
        the replay (copied), random states, counters and the interaction state."""
        return {
            "dims": self.dims(),
            "q_net": self.q_net.state_dict(),
            "mixer": self.mixer.state_dict(),
            "target_q_net": self.target_q_net.state_dict(),
            "target_mixer": self.target_mixer.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "replay": self.replay.state_dict(),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "counters": {
                "env_steps": self.env_steps,
                "train_steps": self.train_steps,
                "updates": self.updates,
            },
            "interaction": {
                "obs": dataclasses.asdict(self._obs) if self._obs is not None else None,
                "hidden": self._hidden.clone() if self._hidden is not None else None,
                "running": {name: run.copy() for name, run in self._running.items()},
                "running_t": self._running_t.copy(),
            },
        }

    def load_state_dict(self, state: dict[str, Any], weights_only: bool = False) -> None:
        # A weights-only state (a checkpoint's networks) has no dims: the checkpoint's reader
        # compared them with the metadata's already.
        mismatches = dims_mismatches(self.dims(), state.get("dims", {}))
        if mismatches:
            raise CheckpointDimensionError(
                f"{self.info.name}: dimension mismatch: " + "; ".join(mismatches)
            )
        for name in ("q_net", "mixer", "target_q_net", "target_mixer"):
            getattr(self, name).load_state_dict(state[name])
        if weights_only:
            return
        self.optimizer.load_state_dict(state["optimizer"])
        self.replay.load_state_dict(state["replay"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        counters = state["counters"]
        self.env_steps = counters["env_steps"]
        self.train_steps = counters["train_steps"]
        self.updates = counters["updates"]
        run = state["interaction"]
        self._obs = Observation(**run["obs"]) if run["obs"] is not None else None
        hidden = run["hidden"]
        self._hidden = hidden.to(self.device) if hidden is not None else None
        self._running = {name: array.copy() for name, array in run["running"].items()}
        self._running_t = run["running_t"].copy()
