"""MAPPO: value normalization, GAE, rollout storage, the recurrent PPO loss and the algorithm.

The training loop (models/training/loop.py) calls `MAPPO.iterate`; each piece is small enough to
read against the paper (Yu et al., "The Surprising Effectiveness of PPO in Cooperative
Multi-Agent Games", 2022).
Shapes: T rollout steps, E environments, N = 5 agent slots, H the actor's recurrent width.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from models.algorithms.base import Algorithm, AlgorithmConfig, Iteration
from models.envs.base import EpisodeStats, Observation, StepResult, n_slots
from models.networks.ctde import (
    CentralizedCritic,
    DecentralizedActor,
    categorical_log_prob_entropy,
)


class ValueNormalizer:
    """Running mean/std of value targets (MAPPO's ValueNorm): the critic regresses normalized
    returns, so its loss scale does not drift as rewards grow during training."""

    def __init__(self, beta: float = 0.99999, epsilon: float = 1e-5) -> None:
        self.beta, self.epsilon = beta, epsilon
        self.mean, self.mean_sq, self.debias = 0.0, 0.0, 0.0

    def update(self, values: np.ndarray) -> None:
        weight = self.beta
        self.mean = weight * self.mean + (1 - weight) * float(values.mean())
        self.mean_sq = weight * self.mean_sq + (1 - weight) * float((values**2).mean())
        self.debias = weight * self.debias + (1 - weight)

    @property
    def stats(self) -> tuple[float, float]:
        debias = max(self.debias, self.epsilon)
        mean = self.mean / debias
        var = max(self.mean_sq / debias - mean**2, 1e-2)
        return mean, float(np.sqrt(var))

    def normalize(self, values: np.ndarray) -> np.ndarray:
        mean, std = self.stats
        return (values - mean) / std

    def denormalize(self, values: np.ndarray) -> np.ndarray:
        mean, std = self.stats
        return values * std + mean

    def state_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "mean_sq": self.mean_sq, "debias": self.debias}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.mean, self.mean_sq, self.debias = state["mean"], state["mean_sq"], state["debias"]


def gae(
    rewards: np.ndarray,
    values: np.ndarray,
    next_values: np.ndarray,
    dones: np.ndarray,
    truncated_values: np.ndarray,
    gamma: float,
    lam: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Generalized advantage estimation of each agent's reward against its own value.

    rewards and values are (T, E, N): V_i(s_t) for agent i; next_values (E, N) bootstraps the step
    after the rollout. When an episode ends at step t nothing flows back across the reset; if the
    time limit ended it, the value of its last state (truncated_values (T, E, N)) is bootstrapped
    instead of zero. Returns (advantages, returns), both (T, E, N).
    """
    T = rewards.shape[0]
    advantages = np.zeros_like(rewards)
    last = np.zeros(rewards.shape[1:], dtype=np.float64)
    for t in reversed(range(T)):
        following = next_values if t == T - 1 else values[t + 1]
        ended = dones[t][:, None]  # (E, 1)
        # At a reset the next value is the terminal bootstrap (0 for victory/defeat).
        bootstrap = np.where(ended, truncated_values[t], following)
        # --- delta_t = r_t + gamma V(s_t+1) - V(s_t);  A_t = delta_t + gamma lambda A_t+1 ---
        delta = rewards[t] + gamma * bootstrap - values[t]
        last = delta + gamma * lam * np.where(ended, 0.0, 1.0) * last
        advantages[t] = last
    return advantages, advantages + values


@dataclass
class Rollout:
    """One rollout of T steps in E environments, as numpy arrays."""

    local_obs: np.ndarray  # (T, E, N, 64)
    signals: np.ndarray  # (T, E, N, 32)
    critic_input: np.ndarray  # (T, E, N, 64) global state (MAPPO) or own observation (IPPO)
    agent_mask: np.ndarray  # (T, E, N) bool: the agent acted
    pack_mask: np.ndarray  # (T, E, N) bool: the slot holds a pack member
    action_mask: np.ndarray  # (T, E, N, A) bool
    hidden_in: np.ndarray  # (T, E, N, H) recurrent state fed to the actor at step t
    starts: np.ndarray  # (T, E) bool: step t is the first of an episode (hidden was reset)
    actions: np.ndarray  # (T, E, N)
    log_probs: np.ndarray  # (T, E, N)
    values: np.ndarray  # (T, E, N) denormalized V_i(s_t)
    rewards: np.ndarray  # (T, E, N)
    dones: np.ndarray  # (T, E)
    truncated_values: np.ndarray  # (T, E, N) V_i(last state) where the time limit ended an episode


@dataclass
class LossStats:
    actor_loss: float
    critic_loss: float
    entropy: float
    approx_kl: float
    clip_fraction: float


def chunk_indices(T: int, chunk: int) -> list[tuple[int, int]]:
    """Split T steps into BPTT chunks of `chunk` steps (the last one may be shorter)."""
    return [(s, min(s + chunk, T)) for s in range(0, T, chunk)]


def ppo_update(
    actor: DecentralizedActor,
    critic: nn.Module,
    actor_opt: torch.optim.Optimizer,
    critic_opt: torch.optim.Optimizer,
    rollout: Rollout,
    advantages: np.ndarray,
    value_targets: np.ndarray,
    *,
    epochs: int,
    minibatches: int,
    chunk_length: int,
    clip: float,
    entropy_coef: float,
    value_coef: float,
    max_grad_norm: float,
    use_signals: bool,
    rng: np.random.Generator,
) -> LossStats:
    """PPO epochs over the rollout: advantages (T, E, N) per agent, value_targets (T, E, N) the
    normalized returns the critic regresses (critic: (B, N, S), (B, N) mask -> (B, N) values).
    The actor is re-run over chunks of `chunk_length` steps from the recurrent state stored at
    each chunk's start, resetting it where an episode began inside the chunk: the GRU sees the
    same history in the update as in the rollout (MAPPO's recurrent policy).
    """
    T, E, N = rollout.actions.shape
    device = next(actor.parameters()).device

    def as_t(array: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.as_tensor(array, dtype=dtype, device=device)

    # Chunk-major views: sequences of one agent slot in one env, chunk_length steps long.
    spans = chunk_indices(T, chunk_length)
    sequences = [(s, e, env, slot) for s, e in spans for env in range(E) for slot in range(N)]
    # Advantage normalization over acting agents only.
    acting = rollout.agent_mask
    adv = (advantages - advantages[acting].mean()) / (advantages[acting].std() + 1e-8)

    stats: list[LossStats] = []
    # One critic loss per critic minibatch, averaged on its own: the actor's and the critic's
    # minibatches are different passes, so neither's count may dilute the other's mean.
    critic_losses: list[float] = []
    # Dropout acts in the gradient passes and nowhere else: the rollout was sampled by the actor in
    # eval mode (the function that is deployed), so the ratio's denominator is the policy that
    # acted, and the numerator is a dropped-out estimate of the current one (defect 3 of #17: the
    # actor stayed in eval mode for the whole run and dropout never acted).
    actor.train()
    for _ in range(epochs):
        order = rng.permutation(len(sequences))
        for batch in np.array_split(order, minibatches):
            # Group the batch by span so each group is a dense (L, B) block.
            actor_losses, entropies, kls, clips, weights = [], [], [], [], []
            for s, e in spans:
                members = [sequences[i] for i in batch if sequences[i][0] == s]
                if not members:
                    continue
                envs = np.array([m[2] for m in members])
                slots = np.array([m[3] for m in members])
                hidden = as_t(rollout.hidden_in[s, envs, slots]) if actor.use_gru else None
                for t in range(s, e):
                    if hidden is not None and t > s:
                        reset = as_t(rollout.starts[t, envs])[:, None]
                        hidden = hidden * (1.0 - reset)
                    mask_t = rollout.agent_mask[t, envs, slots]
                    logits, next_hidden = actor.logits(
                        as_t(rollout.local_obs[t, envs, slots]),
                        as_t(rollout.signals[t, envs, slots]) if use_signals else None,
                        hidden,
                        as_t(rollout.action_mask[t, envs, slots], torch.bool),
                    )
                    hidden = next_hidden
                    if not mask_t.any():
                        continue
                    m = as_t(mask_t, torch.bool)
                    # The same log-probability the rollout stored (one path for both).
                    new_logp, entropy = categorical_log_prob_entropy(
                        logits[m], as_t(rollout.actions[t, envs, slots], torch.long)[m]
                    )
                    old_logp = as_t(rollout.log_probs[t, envs, slots])[m]
                    a = as_t(adv[t, envs, slots])[m]
                    # --- the clipped surrogate objective ---
                    ratio = torch.exp(new_logp - old_logp)
                    surrogate = torch.min(ratio * a, torch.clamp(ratio, 1 - clip, 1 + clip) * a)
                    actor_losses.append(-surrogate.sum())
                    entropies.append(entropy.sum())
                    with torch.no_grad():
                        kls.append(((ratio - 1) - (new_logp - old_logp)).sum())
                        clips.append(((ratio - 1).abs() > clip).float().sum())
                    weights.append(int(m.sum()))
            if not weights:
                continue
            count = float(sum(weights))
            actor_loss = torch.stack(actor_losses).sum() / count
            entropy = torch.stack(entropies).sum() / count
            actor_opt.zero_grad()
            (actor_loss - entropy_coef * entropy).backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(actor.parameters(), max_grad_norm)
            actor_opt.step()
            stats.append(
                LossStats(
                    actor_loss=float(actor_loss.detach()),
                    critic_loss=float("nan"),  # the critic's pass below reports its own
                    entropy=float(entropy.detach()),
                    approx_kl=float(torch.stack(kls).sum() / count),
                    clip_fraction=float(torch.stack(clips).sum() / count),
                )
            )

        # --- the critic: V_i(its input) -> each agent's return, on every pack member's slot ---
        flat = T * E
        order = rng.permutation(flat)
        states = rollout.critic_input.reshape(flat, N, -1)
        packs = rollout.pack_mask.reshape(flat, N)
        targets = value_targets.reshape(flat, N)
        for batch in np.array_split(order, minibatches):
            keep = batch[packs[batch].any(axis=1)]
            if len(keep) == 0:
                continue
            seated = as_t(packs[keep], torch.bool)
            predicted = critic(as_t(states[keep]), seated)  # (B, N)
            critic_loss = value_coef * torch.nn.functional.huber_loss(
                predicted[seated], as_t(targets[keep])[seated], delta=10.0
            )
            critic_opt.zero_grad()
            critic_loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(critic.parameters(), max_grad_norm)
            critic_opt.step()
            critic_losses.append(float(critic_loss.detach()))
    actor.eval()
    return LossStats(
        actor_loss=float(np.mean([s.actor_loss for s in stats])) if stats else 0.0,
        critic_loss=float(np.mean(critic_losses)) if critic_losses else 0.0,
        entropy=float(np.mean([s.entropy for s in stats])) if stats else 0.0,
        approx_kl=float(np.mean([s.approx_kl for s in stats])) if stats else 0.0,
        clip_fraction=float(np.mean([s.clip_fraction for s in stats])) if stats else 0.0,
    )


@dataclass(frozen=True)
class MAPPOHyperparameters:
    """MAPPO's own keys (the rest is the `ctde` section: sizes, learning rates, PPO's clip...)."""

    advantages: str = "team"
    """"team": every agent's advantage of the team-mean reward against one team value V(s) (the
    individual part of the reward then trains nothing); "agent": each agent's advantage of its own
    reward (team_reward_weight of the team's, the rest its own) against its own value V_i(s).
    Measured over 4 seeds, team was the better and the steadier (docs/algorithms.md)."""

    def __post_init__(self) -> None:
        if self.advantages not in ("agent", "team"):
            raise ValueError(
                f"algorithm.advantages must be 'agent' or 'team', got {self.advantages!r}"
            )


class TeamValue(nn.Module):
    """A team critic's (B, 1) value as every pack member's: (B, N), as the update reads values."""

    def __init__(self, critic: CentralizedCritic) -> None:
        super().__init__()
        self.critic = critic

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        value: torch.Tensor = self.critic(states, mask)
        return value.expand(-1, states.shape[1])


class MAPPO(Algorithm):
    """Multi-agent PPO with a centralized critic (Yu et al. 2022), parameters shared by the pack.

        for each update:
            rollout = T steps of E environments, actors sampling on (local obs, signals, GRU state)
            V(s)    = the critic on every agent's global state (attention over the pack)
            A_i     = GAE(gamma, lambda) of the team-mean reward against V(s) (or, with
                      advantages "agent", of agent i's 0.7 team + 0.3 own reward against V_i(s))
            update  = clipped surrogate + entropy bonus over recurrent chunks; the critic
                      regresses the normalized returns

    What the advantage and the critic share (defect 4 of #17: the advantage summed each agent's
    mixed reward while the critic estimated the team-mean return) is `advantages`: "team" (the
    default): one V(s) against the team-mean reward for every agent; "agent": V_i(s) per agent,
    from the pack's global state read from agent i's seat (MAPPO's authors' "agent-specific global
    state"), against agent i's own mixed reward. docs/algorithms.md has the measured difference.
    """

    Hyperparameters = MAPPOHyperparameters

    info = AlgorithmConfig(
        name="mappo",
        title="MAPPO: PPO with a centralized critic",
        on_policy=True,
        centralized_critic=True,
        recurrent=True,
        value_based=False,
    )

    def build(self) -> None:
        config = self.config
        c = config.ctde
        self._actor = self.build_actor().to(self.device)
        self._actor.eval()  # rollouts act as the deployed actor does; ppo_update trains
        # The value network (saved and restored) and how the update reads it: per agent, or the
        # team's value given to every member (TeamValue adds no weights).
        self.value_net = self.build_critic().to(self.device)
        net = self.value_net
        self.critic: nn.Module = net
        if isinstance(net, CentralizedCritic) and not net.per_agent:
            self.critic = TeamValue(net)
        self.critic.eval()
        self.actor_opt = torch.optim.Adam(
            self._actor.parameters(), lr=c.actor.learning_rate, eps=1e-5
        )
        self.critic_opt = torch.optim.Adam(
            self.critic.parameters(), lr=c.critic.learning_rate, eps=1e-5
        )
        self.value_norm = ValueNormalizer()
        self._obs: Observation | None = None
        self._hidden: torch.Tensor | None = None
        self._starts: np.ndarray | None = None

    # --- what differs between MAPPO and IPPO --------------------------------------------------
    def build_actor(self) -> DecentralizedActor:
        """The pack actor that acts and is deployed: the product's GRU actor as ctde.actor sizes
        it. A subclass may train another DecentralizedActor through the same loop (the model
        zoo's LSTM actor, models/zoo/tasks/lstm_actor.py)."""
        c = self.config.ctde
        return DecentralizedActor(
            c.state_dim,
            c.signal_dim,
            c.action_dim,
            c.actor.hidden_dim,
            c.actor.use_gru,
            c.actor.dropout,
        )

    def build_critic(self) -> nn.Module:
        """MAPPO: the centralized critic over the pack's global states, one value per agent (or
        the team's, given to every member)."""
        c = self.config.ctde
        return CentralizedCritic(
            c.state_dim,
            self.n_agents,
            list(c.critic.hidden_dims),
            c.critic.use_attention,
            c.critic.dropout,
            c.critic.n_heads,
            per_agent=self.per_agent_values,
        )

    @property
    def per_agent_values(self) -> bool:
        return bool(self.hp.advantages == "agent")

    def critic_input(self, obs: Observation) -> np.ndarray:
        """What the critic reads for each agent: the global state of every slot."""
        return obs.global_state

    def terminal_critic_input(self, result: StepResult, before: Observation) -> np.ndarray:
        """The critic's input for the last state of an episode the time limit ended."""
        return result.terminal_global_state

    # --- acting -------------------------------------------------------------------------------
    @property
    def actor(self) -> DecentralizedActor:
        return self._actor

    def observation(self) -> Observation | None:
        return self._obs

    @torch.no_grad()
    def values(self, critic_input: np.ndarray, pack_mask: np.ndarray) -> np.ndarray:
        """Denormalized V_i for (B, N, S) critic inputs: (B, N), 0 where no pack member sits."""
        keep = pack_mask.any(axis=1)
        out = np.zeros(pack_mask.shape, dtype=np.float64)
        if keep.any():
            v = self.critic(
                torch.as_tensor(critic_input[keep], device=self.device),
                torch.as_tensor(pack_mask[keep], device=self.device),
            )
            out[keep] = self.value_norm.denormalize(v.cpu().numpy().astype(np.float64))
        return np.where(pack_mask, out, 0.0)

    def _start(self) -> Observation:
        if self._obs is None:
            self._obs = self.env.reset()
            E, N = self._obs.agent_mask.shape
            self._starts = np.ones(E, dtype=bool)
            self._hidden = torch.zeros(E * N, self._actor.hidden_dim, device=self.device)
        return self._obs

    @torch.no_grad()
    def collect_rollout(self) -> tuple[Rollout, np.ndarray, list[EpisodeStats]]:
        """T steps of E environments with the current actor (sampling, not argmax): the rollout,
        V_i of the state after its last step (E, N), and the episodes that ended during it."""
        obs = self._start()
        env, s = self.env, self.settings
        use_signals = self.config.ctde.inference.use_signals
        T, E, N, H = s.rollout_length, env.n_envs, n_slots(obs), self._actor.hidden_dim
        buf: dict[str, list[np.ndarray]] = {k: [] for k in Rollout.__dataclass_fields__}
        episodes: list[EpisodeStats] = []
        assert self._starts is not None
        assert self._hidden is not None
        self._actor.eval()
        self.critic.eval()
        for _ in range(T):
            keep = torch.as_tensor(~self._starts, device=self.device).repeat_interleave(N)
            hidden_in = self._hidden * keep[:, None]
            action, logp, _, hidden = self._actor.get_action(
                torch.as_tensor(obs.local_obs.reshape(E * N, -1), device=self.device),
                torch.as_tensor(obs.signals.reshape(E * N, -1), device=self.device)
                if use_signals
                else None,
                hidden_in if self._actor.use_gru else None,
                torch.as_tensor(obs.action_mask.reshape(E * N, -1), device=self.device),
            )
            actions = action.cpu().numpy().reshape(E, N)
            critic_input = self.critic_input(obs)
            values = self.values(critic_input, obs.pack_mask)
            next_obs, result = env.step(actions)
            truncated_values = np.zeros((E, N))
            if result.truncated.any():
                idx = np.flatnonzero(result.truncated)
                truncated_values[idx] = self.values(
                    self.terminal_critic_input(result, obs)[idx], result.terminal_pack_mask[idx]
                )
            for key, value in (
                ("local_obs", obs.local_obs),
                ("signals", obs.signals),
                ("critic_input", critic_input),
                ("agent_mask", obs.agent_mask),
                ("pack_mask", obs.pack_mask),
                ("action_mask", obs.action_mask),
                ("hidden_in", hidden_in.cpu().numpy().reshape(E, N, H)),
                ("starts", self._starts.copy()),
                ("actions", actions),
                ("log_probs", logp.cpu().numpy().reshape(E, N)),
                ("values", values),
                ("rewards", result.agent_rewards),
                ("dones", result.done),
                ("truncated_values", truncated_values),
            ):
                buf[key].append(np.asarray(value))
            if len(result.episodes.env_index):
                episodes.append(result.episodes)
            self._starts = result.done.copy()
            if hidden is not None:
                self._hidden = hidden
            obs = next_obs
        self._obs = obs
        rollout = Rollout(**{k: np.stack(v) for k, v in buf.items()})
        return rollout, self.values(self.critic_input(obs), obs.pack_mask), episodes

    # --- learning -----------------------------------------------------------------------------
    def update(self, rollout: Rollout, next_values: np.ndarray) -> LossStats:
        """GAE of each agent's reward against its own value, then PPO's epochs."""
        c, s = self.config.ctde, self.settings
        rewards = rollout.rewards.astype(np.float64)
        if self.hp.advantages == "team":
            # --- every agent is credited the team-mean reward of the agents that acted ---
            acting = rollout.agent_mask
            team = (rewards * acting).sum(axis=2) / np.maximum(acting.sum(axis=2), 1)
            rewards = np.where(rollout.pack_mask, team[:, :, None], 0.0)
        advantages, returns = gae(
            rewards,
            rollout.values,
            next_values,
            rollout.dones,
            rollout.truncated_values,
            c.gamma,
            c.gae_lambda,
        )
        self.value_norm.update(returns[rollout.pack_mask])
        targets = self.value_norm.normalize(returns).astype(np.float32)
        self.critic.train()
        stats = ppo_update(
            self._actor,
            self.critic,
            self.actor_opt,
            self.critic_opt,
            rollout,
            advantages.astype(np.float32),
            targets,
            epochs=c.n_epochs,
            minibatches=s.minibatches,
            chunk_length=s.chunk_length,
            clip=c.clip_epsilon,
            entropy_coef=c.entropy_coef,
            value_coef=c.value_loss_coef,
            max_grad_norm=c.max_grad_norm,
            use_signals=c.inference.use_signals,
            rng=self.rng,
        )
        self.critic.eval()
        self.updates += 1
        return stats

    def iterate(self) -> Iteration:
        rollout, next_values, episodes = self.collect_rollout()
        stats = self.update(rollout, next_values)
        T, E = rollout.dones.shape
        return Iteration(
            stats={k: float(v) for k, v in asdict(stats).items()},
            episodes=episodes,
            env_steps=T * E,
            samples=int(rollout.agent_mask.sum()),
        )

    # --- state --------------------------------------------------------------------------------
    def dims(self) -> dict[str, Any]:
        c = self.config.ctde
        return {
            **self.actor_dims(),
            "critic_hidden_dims": list(c.critic.hidden_dims),
            # A head count changes no weight's shape (a checkpoint loaded into any count
            # silently); attention on or off is named here rather than as missing weights.
            "critic_use_attention": c.critic.use_attention,
            "critic_n_heads": c.critic.n_heads,
            "critic_per_agent": self.per_agent_values,
            "n_agents": self.n_agents,
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "actor": self._actor.state_dict(),
            "critic": self.value_net.state_dict(),
            "actor_opt": self.actor_opt.state_dict(),
            "critic_opt": self.critic_opt.state_dict(),
            "value_norm": self.value_norm.state_dict(),
            "rng": self.rng.bit_generator.state,
            "updates": self.updates,
            "obs": self._obs,
            "hidden": self._hidden,
            "starts": self._starts,
        }

    def load_state_dict(self, state: dict[str, Any], weights_only: bool = False) -> None:
        self._actor.load_state_dict(state["actor"])
        self.value_net.load_state_dict(state["critic"])
        if weights_only:
            return
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.value_norm.load_state_dict(state["value_norm"])
        self.rng.bit_generator.state = state["rng"]
        self.updates = state["updates"]
        self._obs, self._hidden, self._starts = state["obs"], state["hidden"], state["starts"]

    def forget_episodes(self) -> None:
        """Start fresh episodes at the next collection (a resume whose env did not pickle)."""
        self._obs = self._hidden = self._starts = None
