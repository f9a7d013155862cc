"""What every training algorithm offers the training loop, the exporter and the database.

Seed 003's agent interface is "act on the local observation, learn from global information". Here
that is split in two:

- **Act** (decentralized, what is deployed): `Algorithm.actor` is a `ServedActor` (the
  product's `DecentralizedActor`, or an RLlib module's policy), which reads one monster's local
  state, its pack's signal vector and its own GRU memory and nothing else. It is what
  `models.export.onnx.export_actor` exports and the worker (or the database) serves;
  `Algorithm.policy()` plays it on a whole environment for evaluation.
- **Learn** (centralized, training only): `Algorithm.iterate()` collects experience from the
  environment and updates. It may read the privileged `Observation.global_state` of every agent
  (MAPPO's critic, QMIX's mixer, MADDPG's critics) or not (IPPO).

A value-based algorithm (QMIX, VDN) trains the same network as Q-values: its "logits" are the
agents' Q-values, so the served action (the argmax of `action_probs = softmax(Q)`) is the greedy
action, and the confidence the worker reports is the Boltzmann probability of that action at
temperature 1 (docs/algorithms.md).

An algorithm's own hyper-parameters are a frozen dataclass (`Algorithm.Hyperparameters`), read from
the training job's `"algorithm"` config section as strictly as the YAML (an unknown key fails the
job with the key named). The shared networks' sizes, gamma and the learning rates come from the
`ctde` section of config/ctde_config.yaml, so one config trains any algorithm.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from config.model_types import drawn_actions
from models.config import Config, build_dataclass
from models.envs.base import ActionPolicy, EpisodeStats, MultiAgentEnv, Observation
from models.networks.ctde import ServedActor
from models.training.settings import TrainingSettings

ActionKind = Literal["discrete", "continuous"]


@dataclass(frozen=True)
class AlgorithmConfig:
    """What kind of algorithm it is: the loop, the docs and the benchmarks read this."""

    name: str
    """The registry key, the value of ml_training_jobs.algorithm."""
    title: str
    """One line for tables and logs."""
    on_policy: bool
    """Learns only from experience of its current policy (no replay buffer)."""
    centralized_critic: bool
    """Learning reads every agent's global state (CTDE); False: each agent learns alone."""
    recurrent: bool
    """The deployed actor carries a GRU memory between decisions."""
    value_based: bool
    """The actor's outputs are Q-values (the served action is their argmax)."""
    action_kinds: tuple[ActionKind, ...] = ("discrete",)
    """Action spaces it can train on."""
    own_env_runners: bool = False
    """Samples on env runners of its own (RLlib's, on Ray): the trainer's environment then only
    summarizes and sets the curriculum, and `training.num_env_runners` goes to the algorithm."""
    offline: bool = False
    """Learns from recorded play (`attach_dataset`, models/offline/) and never steps the
    environment, which only evaluates it; a training job loads the recorded experience first."""


@dataclass(frozen=True)
class NoHyperparameters:
    """An algorithm configured entirely by the `ctde` section."""


@dataclass
class Iteration:
    """What one `iterate()` did: the loop logs it, counts it and checks budgets with it."""

    stats: dict[str, float]
    """Losses and diagnostics of the update (names are the algorithm's own)."""
    episodes: list[EpisodeStats]
    """Episodes that ended while collecting (one EpisodeStats per env step that ended any)."""
    env_steps: int
    """Environment steps taken (E environments stepping once is E steps)."""
    samples: int = 0
    """Agent decisions collected (acting agents summed over steps)."""


class Algorithm(ABC):
    """One training algorithm bound to one (vectorized) environment.

    Subclasses set `info` (and `Hyperparameters` if they have their own keys) and implement the
    abstract methods; `build` makes their networks and optimizers. The constructor is the same for
    all, so the registry can build any of them from a training job.
    """

    info: ClassVar[AlgorithmConfig]
    Hyperparameters: ClassVar[type[Any]] = NoHyperparameters

    def __init__(
        self,
        config: Config,
        settings: TrainingSettings,
        env: MultiAgentEnv,
        hyperparameters: Any = None,
        n_agents: int = 5,
        device: torch.device | str = "cpu",
    ) -> None:
        if hyperparameters is None:
            hyperparameters = self.Hyperparameters()
        elif isinstance(hyperparameters, Mapping):
            hyperparameters = build_dataclass(self.Hyperparameters, hyperparameters, "algorithm")
        if not isinstance(hyperparameters, self.Hyperparameters):
            raise TypeError(f"hyperparameters must be {self.Hyperparameters.__name__}")
        self.config = config
        self.settings = settings
        self.env = env
        self.hp = hyperparameters
        self.n_agents = n_agents
        self.device = torch.device(device)
        self.rng = np.random.default_rng(settings.seed)
        self.updates = 0
        self.build()

    @abstractmethod
    def build(self) -> None:
        """Make the networks, optimizers and buffers from `config`, `settings` and `hp`."""

    # --- acting (deployed) --------------------------------------------------------------------
    @property
    @abstractmethod
    def actor(self) -> ServedActor:
        """The deployable actor (exported to ONNX and served)."""

    def policy(self, deterministic: bool = True, drawn: bool = False) -> ActionPolicy:
        """The actor playing every agent of an environment, each with its own GRU memory
        (argmax when deterministic; drawn by the state, as a combat model is served, when
        `drawn`). A fresh policy starts with fresh memories."""
        use_signals = self.config.ctde.inference.use_signals
        return ActorPolicy(self.actor, use_signals, deterministic, drawn)

    # --- learning (centralized, training only) -------------------------------------------------
    @abstractmethod
    def iterate(self) -> Iteration:
        """Collect experience from `self.env` and update once (one "update" of the loop)."""

    def observation(self) -> Observation | None:
        """The current observation of `self.env`, when the algorithm is mid-episode (None before
        the first `iterate`); the loop uses it to restart after a checkpoint."""
        return None

    # --- state ---------------------------------------------------------------------------------
    @abstractmethod
    def dims(self) -> dict[str, Any]:
        """Shapes a checkpoint of this algorithm must match (named in the error otherwise)."""

    def actor_dims(self) -> dict[str, Any]:
        """The recurrent actor's shapes, as `ctde` configures them (part of most `dims`)."""
        c = self.config.ctde
        return {
            "state_dim": c.state_dim,
            "signal_dim": c.signal_dim,
            "action_dim": c.action_dim,
            "actor_hidden_dim": c.actor.hidden_dim,
            "use_gru": c.actor.use_gru,
        }

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything an exact resume needs besides the environment object: networks,
        optimizers, replay, random states and the interaction state (observation, memories)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any], weights_only: bool = False) -> None:
        """Restore `state_dict()`; weights_only restores the networks and nothing of the run."""

    def close(self) -> None:  # noqa: B027 (a hook: most algorithms have nothing to release)
        """Release what the algorithm holds outside this process (an RLlib algorithm's env
        runners and learner); the in-house algorithms hold nothing."""

    @abstractmethod
    def forget_episodes(self) -> None:
        """Drop the interaction state (observation, memories, running episodes): the next
        `iterate` starts fresh episodes. A resume whose environment did not pickle needs it."""


class ActorPolicy:
    """A `ServedActor` as an `ActionPolicy`, keeping each slot's GRU state."""

    def __init__(
        self,
        actor: ServedActor,
        use_signals: bool,
        deterministic: bool = True,
        drawn: bool = False,
    ) -> None:
        self.actor, self.use_signals, self.deterministic = actor, use_signals, deterministic
        #: True: each action drawn from the policy by its state, as the worker answers a combat
        #: model's requests (config.model_types.drawn_actions); `deterministic` is then unused.
        self.drawn = drawn
        self.hidden: torch.Tensor | None = None

    @torch.no_grad()
    def __call__(self, obs: Observation) -> np.ndarray:
        E, N = obs.agent_mask.shape
        device = next(self.actor.parameters()).device
        if self.hidden is None or self.hidden.shape[0] != E * N:
            self.hidden = self.actor.initial_hidden(E * N, device) if self.actor.use_gru else None
        was_training = self.actor.training
        self.actor.eval()  # evaluation and serving never drop units
        states = obs.local_obs.reshape(E * N, -1)
        inputs = (
            torch.as_tensor(states, device=device),
            torch.as_tensor(obs.signals.reshape(E * N, -1), device=device)
            if self.use_signals
            else None,
            self.hidden,
            torch.as_tensor(obs.action_mask.reshape(E * N, -1), device=device),
        )
        try:
            if self.drawn:
                probs, hidden = self.actor(*inputs)
                action = torch.as_tensor(drawn_actions(probs.cpu().numpy(), states))
            else:
                action, _, _, hidden = self.actor.get_action(
                    *inputs, deterministic=self.deterministic
                )
        finally:
            self.actor.train(was_training)
        self.hidden = hidden
        return action.cpu().numpy().reshape(E, N)
