"""MADDPG: deterministic policy gradients through a centralized critic (Lowe et al., "Multi-Agent
Actor-Critic for Mixed Cooperative-Competitive Environments", 2017), with parameter sharing.

One actor plays every agent slot (it reads only that agent's local observation, as deployed) and
one critic Q_i(s, a_1..a_N, i) scores agent i's situation from everything: the global state of all
N slots, every slot's action and i's slot as a one-hot. Shapes: B replay batch, E environments,
N agent slots, S state width, G signal width, A discrete actions, D continuous action dims,
W = A or D the width of one agent's action as the critic reads it.

    critic:  y_i = r_i + gamma * bootstrap_i * Q'_i(s', a'_1..a'_N)      a'_j = mu'(o'_j)
             L   = mean over acting agents of (Q_i(s, a_1..a_N) - y_i)^2
    actor:   J   = mean over acting agents of Q_i(s, a_1..mu(o_i)..a_N)   (others' a_j: replay)
    targets: theta' <- (1 - tau) theta' + tau theta   after every gradient step

Discrete actions (the pack simulator, PettingZoo): the actor is the product's `DecentralizedActor`
(without GRU: MADDPG learns from single transitions) and mu(o_i) is the straight-through
Gumbel-softmax sample of its masked logits: one-hot forward, the softmax's gradient backward.
Exploration is sampling that categorical. Continuous actions (an env with `action_kind ==
"continuous"` and `action_dim` D; actions in [0, 1]): a small deterministic MLP with a sigmoid
output and Gaussian exploration noise, clipped to [0, 1]. It is not served by the product.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import nn

from models.algorithms.base import Algorithm, AlgorithmConfig, Iteration
from models.envs.base import ActionPolicy, EpisodeStats, Observation, n_slots
from models.networks.ctde import DecentralizedActor, layer_init
from models.training.checkpoints import CheckpointDimensionError, dims_mismatches


@dataclass(frozen=True)
class Hyperparameters:
    """MADDPG's own keys (the training job's "algorithm" section). gamma, the actor's width and
    both learning rates come from the `ctde` section (ctde.gamma, ctde.actor.hidden_dim,
    ctde.actor.learning_rate, ctde.critic.learning_rate)."""

    buffer_size: int = 50_000
    """Transitions the replay keeps (one environment's step with all its agents each); the
    oldest are overwritten. A pack transition takes about 6.5 KB (both observations)."""
    batch_size: int = 256
    """Transitions per gradient step."""
    tau: float = 0.01
    """Polyak step of the target networks after every gradient step (the paper's 0.01)."""
    exploration_noise: float = 0.1
    """Continuous actions: std of the Gaussian noise added to the actor's action in [0, 1]."""
    gumbel_temperature: float = 1.0
    """Discrete actions: temperature of the Gumbel-softmax whose gradient the actor follows."""
    train_steps_per_iteration: int = 32
    """Gradient steps (critic then actor) after each collection of rollout_length x n_envs
    environment steps, once past the warmup."""
    warmup_steps: int = 2_000
    """Environment steps (E per step of all environments) collected before the first gradient
    step; continuous actions are uniform random until then."""
    critic_hidden_dims: list[int] = field(default_factory=lambda: [256, 256])
    """Widths of the critic's MLP (ReLU between layers)."""
    max_grad_norm: float = 0.5
    """Gradient norm clip of both networks."""
    logit_regularization: float = 1e-3
    """Discrete actions: weight of the mean squared logit in the actor's loss (the reference
    implementation's 1e-3): keeps the logits from growing without bound under the critic's push."""

    def __post_init__(self) -> None:
        positive = ("buffer_size", "batch_size", "train_steps_per_iteration", "gumbel_temperature")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"maddpg.{name} must be positive, got {getattr(self, name)}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"maddpg.tau must be in (0, 1], got {self.tau}")
        for name in ("exploration_noise", "warmup_steps", "logit_regularization"):
            if getattr(self, name) < 0:
                raise ValueError(f"maddpg.{name} must be >= 0, got {getattr(self, name)}")
        if self.max_grad_norm <= 0:
            raise ValueError(f"maddpg.max_grad_norm must be positive, got {self.max_grad_norm}")
        if not self.critic_hidden_dims or any(d <= 0 for d in self.critic_hidden_dims):
            raise ValueError(
                f"maddpg.critic_hidden_dims needs positive widths, got {self.critic_hidden_dims}"
            )


# --- networks ----------------------------------------------------------------------------------


class ContinuousActor(nn.Module):
    """mu(o) in [0, 1]^D from one agent's local observation: MLP [S -> H -> H -> D] + sigmoid."""

    def __init__(self, state_dim: int, action_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            layer_init(nn.Linear(state_dim, hidden_dim)),
            nn.ReLU(),
            layer_init(nn.Linear(hidden_dim, hidden_dim)),
            nn.ReLU(),
            # Small last layer: every action starts near the middle of its range (sigmoid(0)).
            layer_init(nn.Linear(hidden_dim, action_dim), std=0.01),
        )

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(state))


class JointCritic(nn.Module):
    """Q_i(s, a_1..a_N, i): an MLP on [global state of all N slots (N*S), every slot's action
    (N*W), one-hot of slot i (N)] -> one value. Shared by all agents; the one-hot says whose
    return is asked for."""

    def __init__(
        self, n_agents: int, state_dim: int, action_width: int, hidden_dims: list[int]
    ) -> None:
        super().__init__()
        self.n_agents = n_agents
        layers: list[nn.Module] = []
        width = n_agents * (state_dim + action_width + 1)
        for out in hidden_dims:
            layers += [layer_init(nn.Linear(width, out)), nn.ReLU()]
            width = out
        layers.append(layer_init(nn.Linear(width, 1), std=1.0))
        self.net = nn.Sequential(*layers)

    def forward(self, global_state: torch.Tensor, joint_actions: torch.Tensor) -> torch.Tensor:
        """global_state (B, N, S) with padded slots zero; joint_actions (B, N, N, W): row i is the
        joint action agent i's value is asked about (absent or idle slots zero).
        Returns Q (B, N): Q[b, i] = Q_i(s_b, joint_actions[b, i])."""
        B, N = global_state.shape[:2]
        state = global_state.reshape(B, 1, -1).expand(B, N, -1)
        actions = joint_actions.reshape(B, N, -1)
        who = torch.eye(N, device=global_state.device).expand(B, N, N)
        q: torch.Tensor = self.net(torch.cat([state, actions, who], dim=-1))
        return q.squeeze(-1)


def gumbel_softmax_st(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Straight-through Gumbel-softmax sample of (B, A) logits (-inf where masked).

    Forward: the one-hot of argmax(logits + g), g ~ Gumbel(0, 1), i.e. a categorical sample of
    softmax(logits), whatever the temperature. Backward: the gradient of the relaxed sample
    softmax((logits + g) / temperature), so the critic's gradient reaches the logits.
    A masked action (-inf) gets probability 0 and is never the argmax.
    """
    # g = -log(-log U) = -log(Exp(1)): torch's global generator (saved with the run).
    gumbels = -torch.empty_like(logits).exponential_().log()
    soft = F.softmax((logits + gumbels) / temperature, dim=-1)
    hard = F.one_hot(soft.argmax(dim=-1), logits.shape[-1]).to(soft.dtype)
    return hard - soft.detach() + soft  # value: hard; gradient: soft's


@torch.no_grad()
def soft_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """Polyak averaging: theta' <- (1 - tau) theta' + tau theta."""
    for t, p in zip(target.parameters(), online.parameters(), strict=True):
        t.lerp_(p, tau)


# --- replay ------------------------------------------------------------------------------------


class ReplayBuffer:
    """A ring of transitions in numpy, one row per environment step of one environment (all its
    agents), the fields allocated on the first `add` from the arrays' own shapes."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.data: dict[str, NDArray[Any]] = {}
        self.position = 0  # the row the next transition goes to
        self.size = 0

    def add(self, rows: dict[str, NDArray[Any]]) -> None:
        """Append K transitions: every array's first axis is K."""
        K = len(next(iter(rows.values())))
        if not self.data:
            self.data = {
                k: np.zeros((self.capacity, *v.shape[1:]), v.dtype) for k, v in rows.items()
            }
        index = (self.position + np.arange(K)) % self.capacity
        for k, v in rows.items():
            self.data[k][index] = v
        self.position = int((self.position + K) % self.capacity)
        self.size = min(self.size + K, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, NDArray[Any]]:
        index = rng.integers(0, self.size, batch_size)
        return {k: v[index] for k, v in self.data.items()}

    def state_dict(self) -> dict[str, Any]:
        # Only the filled rows (copies: the live ring keeps changing after a save).
        return {
            "capacity": self.capacity,
            "position": self.position,
            "size": self.size,
            "shapes": {k: (v.shape[1:], v.dtype.str) for k, v in self.data.items()},
            "data": {k: v[: self.size].copy() for k, v in self.data.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.capacity = int(state["capacity"])
        self.position, self.size = int(state["position"]), int(state["size"])
        self.data = {}
        for k, (shape, dtype) in state["shapes"].items():
            self.data[k] = np.zeros((self.capacity, *shape), np.dtype(dtype))
            self.data[k][: self.size] = state["data"][k]


# --- policies for evaluation -------------------------------------------------------------------


class ContinuousPolicy:
    """The continuous actor playing every slot deterministically: (E, N, D) actions in [0, 1]."""

    def __init__(self, actor: ContinuousActor) -> None:
        self.actor = actor

    @torch.no_grad()
    def __call__(self, obs: Observation) -> NDArray[Any]:
        E, N, S = obs.local_obs.shape
        device = next(self.actor.parameters()).device
        action = self.actor(torch.as_tensor(obs.local_obs.reshape(E * N, S), device=device))
        out: NDArray[Any] = action.cpu().numpy().reshape(E, N, -1)
        return out


# --- the algorithm -----------------------------------------------------------------------------


class MADDPG(Algorithm):
    """MADDPG with one shared actor and one shared centralized critic; replay-based."""

    info: ClassVar[AlgorithmConfig] = AlgorithmConfig(
        name="maddpg",
        title="MADDPG: shared deterministic actor, centralized Q critic, replay (Lowe et al. 2017)",
        on_policy=False,
        centralized_critic=True,
        recurrent=False,
        value_based=False,
        action_kinds=("discrete", "continuous"),
    )
    Hyperparameters: ClassVar[type[Any]] = Hyperparameters

    def build(self) -> None:
        config, settings, env = self.config, self.settings, self.env
        hp: Hyperparameters = self.hp
        c = config.ctde
        torch.manual_seed(settings.seed)
        torch.set_num_threads(settings.torch_threads)
        # An optional attribute of the env protocol: absent means the discrete pack actions.
        self.action_kind = str(getattr(env, "action_kind", "discrete"))
        if self.action_kind not in ("discrete", "continuous"):
            raise ValueError(f"env.action_kind must be discrete or continuous: {self.action_kind}")
        self.continuous = self.action_kind == "continuous"
        self.use_signals = c.inference.use_signals and not self.continuous
        self._discrete_actor: DecentralizedActor | None = None
        self._continuous_actor: ContinuousActor | None = None
        self.online_actor: nn.Module
        self.target_actor: nn.Module
        if self.continuous:
            self.action_width = int(getattr(env, "action_dim"))  # noqa: B009 (not in the protocol)
            self._continuous_actor = ContinuousActor(
                c.state_dim, self.action_width, c.actor.hidden_dim
            )
            self.online_actor = self._continuous_actor
            self.target_actor = ContinuousActor(c.state_dim, self.action_width, c.actor.hidden_dim)
        else:
            self.action_width = c.action_dim
            # Feed-forward (use_gru=False): a transition in the replay carries no memory.
            self._discrete_actor = DecentralizedActor(
                c.state_dim, c.signal_dim, c.action_dim, c.actor.hidden_dim, False, c.actor.dropout
            )
            self.online_actor = self._discrete_actor
            self.target_actor = DecentralizedActor(
                c.state_dim, c.signal_dim, c.action_dim, c.actor.hidden_dim, False, c.actor.dropout
            )
        widths = (self.n_agents, c.state_dim, self.action_width, hp.critic_hidden_dims)
        self.critic = JointCritic(*widths)
        self.target_critic = JointCritic(*widths)
        for net in (self.online_actor, self.target_actor, self.critic, self.target_critic):
            net.to(self.device)
            # Deterministic gradients through the critic need the same function in the loss as in
            # acting: dropout stays off (as in MAPPO's actor).
            net.eval()
        self.target_actor.load_state_dict(self.online_actor.state_dict())
        self.target_critic.load_state_dict(self.critic.state_dict())
        self.actor_opt = torch.optim.Adam(self.online_actor.parameters(), lr=c.actor.learning_rate)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=c.critic.learning_rate)
        self.replay = ReplayBuffer(hp.buffer_size)
        self.env_steps = 0
        self.gradient_steps = 0
        self._obs: Observation | None = None

    # --- acting ---------------------------------------------------------------------------------
    @property
    def actor(self) -> DecentralizedActor:
        if self._discrete_actor is None:
            raise TypeError(
                "MADDPG on continuous actions trains a ContinuousActor, which the product does not "
                "serve (no ONNX export, no worker): use policy() to evaluate it"
            )
        return self._discrete_actor

    def policy(self, deterministic: bool = True, drawn: bool = False) -> ActionPolicy:
        """Discrete: the DecentralizedActor (argmax when deterministic, drawn by the state when
        `drawn`). Continuous: the deterministic actor mu(o), without exploration noise (the
        flags are ignored)."""
        if self._continuous_actor is not None:
            return ContinuousPolicy(self._continuous_actor)
        return super().policy(deterministic, drawn)

    def observation(self) -> Observation | None:
        return self._obs

    def forget_episodes(self) -> None:
        """The next `iterate` resets the env and starts fresh episodes. The replay stays: its
        transitions are complete on their own (MADDPG keeps no memory across steps)."""
        self._obs = None

    def _tensor(self, array: NDArray[Any], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.as_tensor(array, dtype=dtype, device=self.device)

    @torch.no_grad()
    def _explore(self, obs: Observation) -> NDArray[Any]:
        """The behaviour policy: a categorical sample of the masked logits (discrete), or mu(o)
        plus Gaussian noise clipped to [0, 1] (continuous; uniform during the warmup)."""
        E, N, S = obs.local_obs.shape
        if self._discrete_actor is not None:
            action, _, _, _ = self._discrete_actor.get_action(
                self._tensor(obs.local_obs.reshape(E * N, S)),
                self._tensor(obs.signals.reshape(E * N, -1)) if self.use_signals else None,
                None,
                self._tensor(obs.action_mask.reshape(E * N, -1), torch.bool),
            )
            return action.cpu().numpy().reshape(E, N)
        D = self.action_width
        if self.env_steps < self.hp.warmup_steps:
            return self.rng.uniform(0.0, 1.0, (E, N, D)).astype(np.float32)
        assert self._continuous_actor is not None
        mu = self._continuous_actor(self._tensor(obs.local_obs.reshape(E * N, S)))
        noise = self.rng.normal(0.0, self.hp.exploration_noise, (E, N, D))
        out: NDArray[Any] = np.clip(mu.cpu().numpy().reshape(E, N, D) + noise, 0.0, 1.0)
        return out.astype(np.float32)

    def _check_widths(self, obs: Observation) -> None:
        c = self.config.ctde
        if n_slots(obs) != self.n_agents:
            raise ValueError(f"env has {n_slots(obs)} agent slots, MADDPG n_agents={self.n_agents}")
        for name, got, want in (
            ("local_obs", obs.local_obs.shape[2], c.state_dim),
            ("global_state", obs.global_state.shape[2], c.state_dim),
        ):
            if got != want:
                raise ValueError(f"env's {name} has width {got}, ctde.state_dim is {want}")

    # --- learning -------------------------------------------------------------------------------
    def iterate(self) -> Iteration:
        """rollout_length steps of every environment into the replay, then
        train_steps_per_iteration gradient steps once the replay holds warmup_steps."""
        env, T = self.env, self.settings.rollout_length
        if self._obs is None:
            self._obs = env.reset()
            self._check_widths(self._obs)
        obs = self._obs
        episodes: list[EpisodeStats] = []
        samples = 0
        for _ in range(T):
            actions = self._explore(obs)
            next_obs, result = env.step(actions)
            self.replay.add(self._transitions(obs, actions, next_obs, result))
            samples += int(obs.agent_mask.sum())
            self.env_steps += env.n_envs
            if len(result.episodes.env_index):
                episodes.append(result.episodes)
            obs = next_obs
        self._obs = obs

        losses: list[dict[str, float]] = []
        if self.replay.size >= max(self.hp.warmup_steps, 1):
            for _ in range(self.hp.train_steps_per_iteration):
                losses.append(self._gradient_step(self.replay.sample(self.hp.batch_size, self.rng)))
        self.updates += 1
        nan = float("nan")  # no gradient step yet (warmup): nothing to report
        stats = {
            key: float(np.mean([row[key] for row in losses])) if losses else nan
            for key in ("critic_loss", "actor_loss", "q_mean", "target_mean")
        }
        stats.update(
            replay_size=float(self.replay.size),
            gradient_steps=float(self.gradient_steps),
        )
        return Iteration(stats=stats, episodes=episodes, env_steps=T * env.n_envs, samples=samples)

    def _transitions(
        self, obs: Observation, actions: NDArray[Any], next_obs: Observation, result: Any
    ) -> dict[str, NDArray[Any]]:
        """E replay rows for one step. Where an episode ended, `next_obs` is already the next
        episode's first observation (auto-reset): those rows never bootstrap from it (see
        `_gradient_step`)."""
        pack = obs.pack_mask[:, :, None]
        next_pack = next_obs.pack_mask[:, :, None]
        rows: dict[str, NDArray[Any]] = {
            "local_obs": obs.local_obs.astype(np.float32),
            "global_state": (obs.global_state * pack).astype(np.float32),
            "agent_mask": obs.agent_mask.copy(),
            "actions": np.asarray(actions).copy(),
            "rewards": result.agent_rewards.astype(np.float32),
            "terminated": (result.done & ~result.truncated).copy(),
            "truncated": result.truncated.copy(),
            "next_local_obs": next_obs.local_obs.astype(np.float32),
            "next_global_state": (next_obs.global_state * next_pack).astype(np.float32),
            "next_agent_mask": next_obs.agent_mask.copy(),
        }
        if not self.continuous:
            rows["action_mask"] = obs.action_mask.copy()
            rows["next_action_mask"] = next_obs.action_mask.copy()
            if self.use_signals:
                rows["signals"] = obs.signals.astype(np.float32)
                rows["next_signals"] = next_obs.signals.astype(np.float32)
        return rows

    def _actions(
        self, actor: nn.Module, batch: dict[str, torch.Tensor], prefix: str = ""
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """mu(o_j) of every slot as the critic reads it, (B, N, W), zero where the slot does not
        act; and the mean squared allowed logit (discrete; 0 for continuous). Differentiable: the
        discrete action is the straight-through Gumbel-softmax sample."""
        local = batch[prefix + "local_obs"]
        B, N, S = local.shape
        acting = batch[prefix + "agent_mask"].float().unsqueeze(-1)
        if not self.continuous:
            mask = batch[prefix + "action_mask"].reshape(B * N, -1)
            signals = batch[prefix + "signals"].reshape(B * N, -1) if self.use_signals else None
            assert isinstance(actor, DecentralizedActor)
            logits, _ = actor.logits(local.reshape(B * N, S), signals, None, mask)
            action = gumbel_softmax_st(logits, self.hp.gumbel_temperature).reshape(B, N, -1)
            square = torch.where(mask, logits, 0.0).pow(2).sum() / mask.sum()
            return action * acting, square
        action = actor(local.reshape(B * N, S)).reshape(B, N, -1)
        return action * acting, torch.zeros((), device=self.device)

    def _replay_actions(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The stored actions as the critic reads them (B, N, W): one-hot for discrete actions,
        zero where the slot did not act."""
        acting = batch["agent_mask"].float().unsqueeze(-1)
        if self.continuous:
            return batch["actions"].float() * acting
        return F.one_hot(batch["actions"].long(), self.action_width).float() * acting

    def _gradient_step(self, sample: dict[str, NDArray[Any]]) -> dict[str, float]:
        hp, gamma = self.hp, self.config.ctde.gamma
        batch: dict[str, torch.Tensor] = {}
        for k, v in sample.items():
            if v.dtype == np.bool_:
                batch[k] = self._tensor(v, torch.bool)
            elif k == "actions" and not self.continuous:
                batch[k] = self._tensor(v, torch.long)
            else:
                batch[k] = self._tensor(v)
        N = self.n_agents
        acting = batch["agent_mask"].float()  # (B, N)
        replay_actions = self._replay_actions(batch)  # (B, N, W)

        # --- critic: y_i = r_i + gamma * bootstrap_i * Q'_i(s', mu'(o'_1)..mu'(o'_N)) ---
        with torch.no_grad():
            next_actions, _ = self._actions(self.target_actor, batch, prefix="next_")
            next_q = self.target_critic(
                batch["next_global_state"], next_actions.unsqueeze(1).expand(-1, N, -1, -1)
            )
            # Bootstrap only where agent i still acts in the same episode: 0 after a true
            # termination (victory, defeat, the inventory's horizon) and for an agent that died.
            bootstrap = (~batch["terminated"]).float().unsqueeze(-1) * batch["next_agent_mask"]
            target = batch["rewards"] + gamma * bootstrap * next_q
        q = self.critic(batch["global_state"], replay_actions.unsqueeze(1).expand(-1, N, -1, -1))
        # A time-limit end (truncation) would need Q'(s_T, mu'(o_T)), but the auto-reset env keeps
        # only the terminal *global* state, not the terminal local observations the target actor
        # needs: those transitions are dropped from the critic's loss rather than bootstrapped
        # from a wrong observation or treated as terminal. They still train the actor below,
        # whose loss needs only the state the action was taken in.
        weight = acting * (~batch["truncated"]).float().unsqueeze(-1)
        critic_loss = ((q - target).pow(2) * weight).sum() / weight.sum().clamp(min=1.0)
        self.critic_opt.zero_grad()
        critic_loss.backward()
        nn.utils.clip_grad_norm_(self.critic.parameters(), hp.max_grad_norm)
        self.critic_opt.step()

        # --- actor: maximize Q_i(s, a_1..mu(o_i)..a_N), the other agents' actions from replay ---
        own, logit_square = self._actions(self.online_actor, batch)  # (B, N, W)
        eye = torch.eye(N, device=self.device)[None, :, :, None]  # (1, N, N, 1)
        # Row i of the joint action: slot i's action is mu(o_i) (differentiable), the others'
        # are what they did.
        joint = eye * own.unsqueeze(1) + (1.0 - eye) * replay_actions.unsqueeze(1)
        q_pi = self.critic(batch["global_state"], joint)
        count = acting.sum().clamp(min=1.0)
        actor_loss = -(q_pi * acting).sum() / count + hp.logit_regularization * logit_square
        self.actor_opt.zero_grad()
        actor_loss.backward()
        nn.utils.clip_grad_norm_(self.online_actor.parameters(), hp.max_grad_norm)
        self.actor_opt.step()

        # --- targets: theta' <- (1 - tau) theta' + tau theta ---
        soft_update(self.target_critic, self.critic, hp.tau)
        soft_update(self.target_actor, self.online_actor, hp.tau)
        self.gradient_steps += 1
        with torch.no_grad():
            q_mean = float((q * acting).sum() / count)
            target_mean = float((target * acting).sum() / count)
        return {
            "critic_loss": float(critic_loss.detach()),
            "actor_loss": float(actor_loss.detach()),
            "q_mean": q_mean,
            "target_mean": target_mean,
        }

    # --- state ----------------------------------------------------------------------------------
    def dims(self) -> dict[str, Any]:
        c = self.config.ctde
        return {
            "algorithm": self.info.name,
            "action_kind": self.action_kind,
            "state_dim": c.state_dim,
            "signal_dim": c.signal_dim,
            "action_dim": self.action_width,
            "actor_hidden_dim": c.actor.hidden_dim,
            "use_gru": False,
            "critic_hidden_dims": list(self.hp.critic_hidden_dims),
            "n_agents": self.n_agents,
        }

    def state_dict(self) -> dict[str, Any]:
        obs = self._obs
        return {
            "dims": self.dims(),
            "hyperparameters": dataclasses.asdict(self.hp),
            "actor": self.online_actor.state_dict(),
            "critic": self.critic.state_dict(),
            "target_actor": self.target_actor.state_dict(),
            "target_critic": self.target_critic.state_dict(),
            "actor_opt": self.actor_opt.state_dict(),
            "critic_opt": self.critic_opt.state_dict(),
            "replay": self.replay.state_dict(),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "obs": None if obs is None else {k: v.copy() for k, v in vars(obs).items()},
            "counters": {
                "updates": self.updates,
                "env_steps": self.env_steps,
                "gradient_steps": self.gradient_steps,
            },
        }

    def load_state_dict(self, state: dict[str, Any], weights_only: bool = False) -> None:
        # A weights-only state (a checkpoint's networks) has no dims: the checkpoint's reader
        # compared them with the metadata's already.
        mismatches = dims_mismatches(self.dims(), state.get("dims", {}))
        if mismatches:
            raise CheckpointDimensionError("MADDPG dimension mismatch: " + "; ".join(mismatches))
        self.online_actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.target_actor.load_state_dict(state["target_actor"])
        self.target_critic.load_state_dict(state["target_critic"])
        if weights_only:
            return
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.replay.load_state_dict(state["replay"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        obs = state["obs"]
        self._obs = None if obs is None else Observation(**{k: v.copy() for k, v in obs.items()})
        counters = state["counters"]
        self.updates = int(counters["updates"])
        self.env_steps = int(counters["env_steps"])
        self.gradient_steps = int(counters["gradient_steps"])
