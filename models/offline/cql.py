"""Discrete CQL (Kumar et al., "Conservative Q-Learning for Offline Reinforcement Learning", 2020):
CQL(H) on a double DQN, trained from recorded play only (docs/offline.md).

The Q-network is the product's `DecentralizedActor` without GRU and without signals: its logits are
Q(s, a), one monster's 64 floats in, one value per action out, so the deployed actor is the
Q-network itself (as QMIX's: the served action is argmax softmax(Q) = argmax Q; a combat model's
answer is drawn from softmax(Q) by the state, as every combat model's is). Its signal encoder's
weights are zero and frozen, so signals fed while serving a pack actor change nothing.

Every gradient step samples B recorded transitions (s, a, r, s', done) uniformly:

    a*   = argmax_a Q(s', a)                                (the online network picks...)
    y    = r + gamma * (1 - done) * Q^-(s', a*)             (...the target network scores it)
    td   = Huber(Q(s, a) - y)
    cql  = logsumexp_a Q(s, a) - Q(s, a)                    CQL(H): every action's value pushed
                                                            down, the recorded action's pulled up
    loss = mean(td) + alpha * mean(cql)

The regularizer is the cross-entropy of softmax(Q(s, .)) against the recorded action: without it
a Q-learner trained on a fixed dataset overestimates the actions the data never took and its
argmax chases them; with it the learned values stay below the data's where the data says nothing,
and softmax(Q) leans toward the behaviour that was recorded, tilted by the values.

`iterate()` takes `train_steps_per_iteration` gradient steps and no environment step (env_steps
0): the Trainer's evaluation plays the actor online on the simulator's held-out fights, the honest
measure of an offline policy. The dataset comes from `attach_dataset` (a training job loads it
from its database: `load_recorded_experience`); a checkpoint holds no dataset.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from config.training_jobs import TrainingConfigError
from models.algorithms.base import ActorPolicy, Algorithm, AlgorithmConfig, Iteration
from models.envs.base import ActionPolicy
from models.networks.ctde import DecentralizedActor
from models.offline.dataset import OfflineDataset, load_offline_dataset
from models.training.checkpoints import CheckpointDimensionError, dims_mismatches

Tensor = torch.Tensor


@dataclass(frozen=True)
class CQLHyperparameters:
    """CQL's own keys (`algorithm` section of a training job)."""

    alpha: float = 1.0
    """Weight of the CQL(H) regularizer; 0: plain offline double DQN."""
    batch_size: int = 256
    """Transitions per gradient step, drawn uniformly with replacement."""
    train_steps_per_iteration: int = 100
    """Gradient steps per iteration (one "update" of the training loop)."""
    target_update_interval: int = 200
    """Gradient steps between hard copies of the Q-network into the target (when tau is 0)."""
    tau: float = 0.0
    """Polyak averaging of the target after every gradient step; 0: hard copies."""
    double_q: bool = True
    """The online network picks the next action and the target scores it (van Hasselt et al.
    2016); False: the target's own max."""
    lr: float = 0.0
    """Adam learning rate; 0: ctde.actor.learning_rate."""
    max_grad_norm: float = 10.0
    """Global gradient norm clip."""
    max_transitions: int = 200_000
    """A training job learns from the newest this many transitions recorded for its archetype
    and model type (ml_experience_replay)."""
    max_episodes: int = 1000
    """...and, for the pack actor, from every monster-step of the newest this many pack
    episodes (ml_pack_episodes, any archetype); 0: none."""

    def __post_init__(self) -> None:
        for name in ("batch_size", "train_steps_per_iteration", "target_update_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"algorithm.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("alpha", "lr", "max_grad_norm", "max_episodes"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"algorithm.{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.tau <= 1.0:
            raise ValueError(f"algorithm.tau must be in [0, 1], got {self.tau}")
        if self.max_transitions < 1:
            raise ValueError(f"algorithm.max_transitions must be >= 1, got {self.max_transitions}")


class CQL(Algorithm):
    """Discrete CQL(H) with a double-DQN target, from an attached `OfflineDataset`."""

    info = AlgorithmConfig(
        name="cql",
        title="Discrete CQL: conservative double DQN trained offline from recorded play",
        on_policy=False,
        centralized_critic=False,
        recurrent=False,
        value_based=True,
        offline=True,
    )
    Hyperparameters: ClassVar[type[Any]] = CQLHyperparameters
    hp: CQLHyperparameters

    def build(self) -> None:
        c = self.config.ctde
        torch.manual_seed(self.settings.seed)
        # No GRU (a transition carries no memory), no dropout (noise under the target's max biases
        # it up, and the online and target networks must compute one function).
        self.q_net = DecentralizedActor(
            c.state_dim, c.signal_dim, c.action_dim, c.actor.hidden_dim, False, 0.0
        ).to(self.device)
        # No signals: a recorded transition has none. Zero weights that never get a gradient (the
        # input is always zeros in training) make the served actor ignore whatever it is fed.
        signal_layer = self.q_net.signal_encoder[0]
        assert isinstance(signal_layer, torch.nn.Linear)
        with torch.no_grad():
            signal_layer.weight.zero_()
            signal_layer.bias.zero_()
        self.q_net.signal_encoder.requires_grad_(False)
        self.target_q_net = copy.deepcopy(self.q_net).requires_grad_(False)
        self.params = [p for p in self.q_net.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(self.params, lr=self.hp.lr or c.actor.learning_rate)
        self.train_steps = 0
        self.dataset: OfflineDataset | None = None
        self._data: dict[str, Tensor] = {}

    # --- the data -------------------------------------------------------------------------------
    def attach_dataset(self, dataset: OfflineDataset) -> None:
        """Learn from `dataset` from the next iteration on (it is not part of a checkpoint)."""
        c = self.config.ctde
        if len(dataset) == 0:
            raise ValueError("cql: the dataset holds no transition")
        if dataset.state_dim != c.state_dim:
            raise ValueError(
                f"cql: the dataset's states are {dataset.state_dim} wide, ctde.state_dim is "
                f"{c.state_dim}"
            )
        if int(dataset.actions.max()) >= c.action_dim:
            raise ValueError(
                f"cql: the dataset holds action {int(dataset.actions.max())}, the actor has "
                f"{c.action_dim} actions"
            )
        self.dataset = dataset
        self._data = {
            "states": torch.as_tensor(dataset.states, device=self.device),
            "actions": torch.as_tensor(dataset.actions, device=self.device),
            "rewards": torch.as_tensor(dataset.rewards, device=self.device),
            "next_states": torch.as_tensor(dataset.next_states, device=self.device),
            "dones": torch.as_tensor(dataset.dones, device=self.device),
        }

    def load_recorded_experience(self, database_url: str, archetype: str, model_type: str) -> int:
        """Attach what the game server recorded for (archetype, model_type) in `database_url`
        (hyper-parameters max_transitions, max_episodes); TrainingConfigError when there is
        none, which fails a training job at once with the reason. Returns the transitions."""
        dataset = load_offline_dataset(
            database_url,
            archetype,
            model_type,
            self.hp.max_transitions,
            self.hp.max_episodes,
            self.config.ctde.team_reward_weight,
        )
        if len(dataset) == 0:
            episodes = " or pack episodes (ml.record_pack_episode)" if self.hp.max_episodes else ""
            raise TrainingConfigError(
                f"cql learns from recorded play: there is no valid recorded experience for "
                f"archetype {archetype!r} and model type {model_type!r} (ml.record_experience"
                f"{episodes}); record some first (docs/offline.md)"
            )
        self.attach_dataset(dataset)
        return len(dataset)

    # --- acting ---------------------------------------------------------------------------------
    @property
    def actor(self) -> DecentralizedActor:
        return self.q_net

    def policy(self, deterministic: bool = True, drawn: bool = False) -> ActionPolicy:
        """The Q-network playing every agent, fed no signals (it has none)."""
        return ActorPolicy(self.actor, False, deterministic, drawn)

    @torch.no_grad()
    def greedy_actions(self, states: np.ndarray) -> np.ndarray:
        """(M,) argmax_a Q(s, a) of (M, S) states."""
        was_training = self.q_net.training
        self.q_net.eval()
        try:
            q, _ = self.q_net.logits(torch.as_tensor(states, device=self.device))
        finally:
            self.q_net.train(was_training)
        out: np.ndarray = q.argmax(dim=-1).cpu().numpy()
        return out

    # --- learning -------------------------------------------------------------------------------
    def iterate(self) -> Iteration:
        if self.dataset is None:
            raise RuntimeError(
                "cql learns from recorded play: attach_dataset(...) first (a training job loads "
                "it from its database)"
            )
        steps = [self._train_step() for _ in range(self.hp.train_steps_per_iteration)]
        self.updates += 1
        stats = {key: float(np.mean([s[key] for s in steps])) for key in steps[0]}
        stats |= {"train_steps": float(self.train_steps), "dataset": float(len(self.dataset))}
        return Iteration(stats=stats, episodes=[], env_steps=0, samples=0)

    def loss_terms(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """The TD and CQL terms of a batch (each (B,)), the Q-values of the taken actions and
        the targets."""
        q, _ = self.q_net.logits(batch["states"])  # (B, A)
        taken = q.gather(-1, batch["actions"][:, None]).squeeze(-1)  # Q(s, a)
        with torch.no_grad():
            next_target, _ = self.target_q_net.logits(batch["next_states"])
            # --- double Q: the online network picks a*, the target network scores it ---
            if self.hp.double_q:
                next_online, _ = self.q_net.logits(batch["next_states"])
                best = next_online.argmax(dim=-1, keepdim=True)
                next_value = next_target.gather(-1, best).squeeze(-1)
            else:
                next_value = next_target.amax(dim=-1)
            # --- the TD target: nothing after a transition that ended the monster's fight ---
            target = batch["rewards"] + self.config.ctde.gamma * torch.where(
                batch["dones"], 0.0, next_value
            )
        td = F.smooth_l1_loss(taken, target, reduction="none")
        # --- CQL(H): logsumexp over the actions minus the recorded action's value ---
        cql = torch.logsumexp(q, dim=-1) - taken
        return {"td": td, "cql": cql, "taken": taken, "target": target, "q": q}

    def _train_step(self) -> dict[str, float]:
        n = len(self._data["actions"])
        index = torch.as_tensor(self.rng.integers(0, n, self.hp.batch_size), device=self.device)
        batch = {name: array[index] for name, array in self._data.items()}
        terms = self.loss_terms(batch)
        td_loss, cql_loss = terms["td"].mean(), terms["cql"].mean()
        loss = td_loss + self.hp.alpha * cql_loss
        self.optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.hp.max_grad_norm)
        self.optimizer.step()
        self.train_steps += 1
        self._update_target()
        agreement = (terms["q"].detach().argmax(dim=-1) == batch["actions"]).float().mean()
        return {
            "loss": float(loss.detach()),
            "td_loss": float(td_loss.detach()),
            "cql_loss": float(cql_loss.detach()),
            "q_taken_mean": float(terms["taken"].detach().mean()),
            "target_mean": float(terms["target"].mean()),
            "grad_norm": float(grad_norm),
            # How often the greedy action is the recorded one on the batch (a diagnostic: CQL
            # is not behaviour cloning, but a Q-greedy policy far from the data is suspect).
            "data_agreement": float(agreement),
        }

    @torch.no_grad()
    def _update_target(self) -> None:
        if self.hp.tau > 0:  # Polyak: theta^- <- (1 - tau) theta^- + tau theta
            for t_param, param in zip(
                self.target_q_net.parameters(), self.q_net.parameters(), strict=True
            ):
                t_param.lerp_(param, self.hp.tau)
        elif self.train_steps % self.hp.target_update_interval == 0:
            self.target_q_net.load_state_dict(self.q_net.state_dict())

    # --- state ----------------------------------------------------------------------------------
    def forget_episodes(self) -> None:
        """Nothing to forget: CQL never steps the environment."""

    def dims(self) -> dict[str, Any]:
        return {**self.actor_dims(), "use_gru": False, "signals": False}

    def state_dict(self) -> dict[str, Any]:
        """Networks and optimizer (live tensors: save them promptly), random states, counters.
        The dataset is not saved: a resumed job loads the recorded experience again."""
        return {
            "dims": self.dims(),
            "q_net": self.q_net.state_dict(),
            "target_q_net": self.target_q_net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "counters": {"train_steps": self.train_steps, "updates": self.updates},
        }

    def load_state_dict(self, state: dict[str, Any], weights_only: bool = False) -> None:
        mismatches = dims_mismatches(self.dims(), state.get("dims", {}))
        if mismatches:
            raise CheckpointDimensionError(
                f"{self.info.name}: dimension mismatch: " + "; ".join(mismatches)
            )
        self.q_net.load_state_dict(state["q_net"])
        self.target_q_net.load_state_dict(state["target_q_net"])
        if weights_only:
            return
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.train_steps = state["counters"]["train_steps"]
        self.updates = state["counters"]["updates"]
