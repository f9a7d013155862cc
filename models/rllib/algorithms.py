"""RLlib's algorithms as entries of the product's ALGORITHMS: PPO, APPO, IMPALA, DQN and SAC.

    INSERT INTO ml.ml_training_jobs (archetype, algorithm, config)
    VALUES ('tank', 'rllib_ppo', '{"training": {"model_type": "combat", "num_env_runners": 2}}');

Each is an `Algorithm` like MAPPO or QMIX, so the shared loop (models/training/loop.py) drives it:
budgets, curriculum, held-out evaluation on the simulator, checkpoints, the job's progress row;
and what it trains is exported by the product's exporter and served by the worker
(models/rllib/actor.py). What differs is where the work happens: `build` joins Ray (a local one
unless `training.ray_address` or RAGNAROK_RAY_ADDRESS names a cluster, models/rllib/cluster.py)
and builds the RLlib algorithm; `iterate` is one `Algorithm.train()` of RLlib, which samples on
its env runners (`training.num_env_runners`; 0: in this process) and updates on its learner (a GPU
one with `algorithm.num_gpus_per_learner`).

Every monster is one RLlib agent mapped to one module, "shared_policy" (seed 004): the
decentralized actor, trained without a centralized critic (RLlib's PPO critic reads the same local
observation). The simulator is models/rllib/env.py: `training.n_envs` fights per RLlib environment,
stepped by one numpy call, decided by one batched forward pass.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from config.model_types import GATEWAY_TYPES
from models.algorithms.base import Algorithm, AlgorithmConfig, Iteration
from models.envs.contract_combat.env import ContractCombatEnv
from models.networks.ctde import ServedActor
from models.rllib.actor import RLlibActor
from models.rllib.spaces import action_count, spaces, uses_signals

POLICY = "shared_policy"
#: PPO's clamp on a squared value error: wide enough for the simulator's returns (up to ~30).
VALUE_ERROR_CLIP = 1e4
#: Agent steps sampled from replay per DQN or SAC update.
REPLAY_BATCH = 1024


@dataclass(frozen=True)
class RLlibHyperparameters:
    """What every RLlib algorithm here takes from the job's `algorithm` section (gamma, the
    fights per environment, the update's size and the runners come from `ctde` and `training`)."""

    hidden_layers: list[int] = field(default_factory=lambda: [256, 256])
    """The policy's MLP (and each critic's): widths of its hidden layers."""
    activation: str = "relu"
    """relu or tanh."""
    lr: float = 3e-4
    """Learning rate (every optimizer of the learner)."""
    train_batch_decisions: int = 0
    """Monster decisions (RLlib's agent steps) per update, summed over the env runners; the
    replay sample of an update for DQN and SAC (0: `training.rollout_length` x `training.n_envs`
    x 3.5, a rollout of the in-house algorithms at an average pack's size; DQN and SAC: 1024)."""
    epochs: int = 0
    """Passes over each batch (PPO; 0: `ctde.n_epochs`)."""
    minibatches: int = 0
    """Minibatches per pass (PPO; 0: `training.minibatches`)."""
    entropy_coeff: float = 0.01
    """Entropy bonus (PPO, APPO, IMPALA)."""
    num_gpus_per_learner: float = 0.0
    """GPUs for the learner: 1 on a cluster with a GPU node (the job fails at once without one)."""
    replay_capacity: int = 200_000
    """Agent steps kept in the replay buffer (DQN, SAC)."""
    envs_per_runner: int = 1
    """RLlib environments per env runner (each holds `training.n_envs` fights)."""

    def __post_init__(self) -> None:
        if not self.hidden_layers or min(self.hidden_layers) < 1:
            raise ValueError(
                f"algorithm.hidden_layers must be positive widths: {self.hidden_layers}"
            )
        if self.activation not in ("relu", "tanh"):
            raise ValueError(f"algorithm.activation must be relu or tanh, got {self.activation!r}")
        if self.lr <= 0 or self.train_batch_decisions < 0 or self.num_gpus_per_learner < 0:
            raise ValueError("algorithm.lr must be > 0; train_batch_decisions, num_gpus >= 0")


class RLlibAlgorithm(Algorithm):
    """One RLlib algorithm on Ray behind the product's Algorithm interface."""

    Hyperparameters: ClassVar[type[Any]] = RLlibHyperparameters
    hp: RLlibHyperparameters

    # --- building ------------------------------------------------------------------------------
    def rllib_config(self) -> Any:
        """The algorithm's own RLlib config class, instantiated (subclasses)."""
        raise NotImplementedError

    def training_options(self, batch: int) -> dict[str, Any]:
        """Keywords of `AlgorithmConfig.training` particular to the algorithm."""
        return {}

    def learning_rates(self) -> dict[str, Any]:
        """The learning rate keywords (SAC has one per optimizer)."""
        return {"lr": self.hp.lr}

    def actor_critic_options(self, batch: int) -> dict[str, Any]:
        """What PPO, APPO and IMPALA share: the batch, the entropy bonus, the critic's weight in
        the loss and the gradient clip (the last two from the `ctde` section, as for MAPPO)."""
        c = self.config.ctde
        return {
            "train_batch_size_per_learner": batch,
            "entropy_coeff": self.hp.entropy_coeff,
            "vf_loss_coeff": c.value_loss_coef,
            "grad_clip": c.max_grad_norm,
        }

    def build(self) -> None:
        from models.rllib import cluster

        s, hp, c = self.settings, self.hp, self.config.ctde
        if s.environment != "contract" or not isinstance(self.env, ContractCombatEnv):
            raise ValueError(
                f"{self.info.name} trains on the contract simulator through RLlib's env runners "
                "(models/rllib/env.py): training.environment must be 'contract' and no other "
                "environment can be given"
            )
        self.model_type = s.model_type
        if self.model_type in GATEWAY_TYPES and c.inference.use_signals:
            raise ValueError("a combat policy reads no signals")
        self.use_signals = uses_signals(self.model_type)
        runners = s.num_env_runners
        self.cluster = cluster.connect(s.ray_address or None)
        cluster.require_resources(cpus=1 + runners, gpus=hp.num_gpus_per_learner)
        # Batches count monster decisions (agent steps): RLlib's minibatch size is in rows, and
        # counted in env steps (each a step of every fight) a batch of 32 steps allowed
        # minibatches of at most 32 rows: 9.0 s per PPO update where 4 minibatches of ~1,900 rows
        # take 0.18 s (bench/RESULTS.md, "Training on Ray").
        batch = hp.train_batch_decisions or s.rollout_length * s.n_envs * 7 // 2
        obs_space, act_space = spaces(self.model_type)
        from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
        from ray.rllib.core.rl_module.rl_module import RLModuleSpec

        from models.rllib.env import ContractPackEnv
        from models.rllib.runner import PackEnvRunner

        config = self.rllib_config()
        model_config = {
            "fcnet_hiddens": list(hp.hidden_layers),
            "fcnet_activation": hp.activation,
            "head_fcnet_hiddens": [],
        }
        config.rl_module(model_config=model_config)
        config = (
            config.environment(
                ContractPackEnv,
                env_config={
                    "fights": s.n_envs,
                    "seed": s.seed,
                    "model_type": self.model_type,
                    "max_steps": s.max_steps,
                    "horizon": s.max_steps,
                    "pack_size": list(self.env_pack_size()),
                    "team_reward_weight": c.team_reward_weight,
                    "scenario": s.scenario,
                },
                disable_env_checking=True,
                normalize_actions=False,
                clip_actions=False,
            )
            .framework("torch")
            .multi_agent(policies={POLICY}, policy_mapping_fn=_shared_policy)
            .rl_module(
                rl_module_spec=MultiRLModuleSpec(
                    rl_module_specs={
                        POLICY: RLModuleSpec(
                            observation_space=obs_space,
                            action_space=act_space,
                            model_config=config.model_config,
                        )
                    }
                )
            )
            .env_runners(
                num_env_runners=runners,
                num_envs_per_env_runner=hp.envs_per_runner,
                env_runner_cls=PackEnvRunner,
                num_cpus_per_env_runner=1,
            )
            .learners(num_learners=0, num_gpus_per_learner=hp.num_gpus_per_learner)
            .fault_tolerance(restart_failed_env_runners=True)
            .debugging(seed=s.seed, log_level="ERROR")
            # One `train()` is one training step: the loop counts updates and budgets time itself.
            .reporting(
                metrics_num_episodes_for_smoothing=20,
                min_time_s_per_iteration=0,
                min_sample_timesteps_per_iteration=0,
            )
            .training(gamma=c.gamma, **self.learning_rates(), **self.training_options(batch))
        )
        if self.info.on_policy:
            config.multi_agent(count_steps_by="agent_steps")
        else:
            # Replay stores whole RLlib episodes: chunks cut mid-episode, with monsters joining
            # and leaving, broke RLlib's episode concatenation in the replay buffer (KeyError in
            # MultiAgentEpisode.concat_episode); complete episodes need no concatenation.
            config.env_runners(batch_mode="complete_episodes", rollout_fragment_length=s.max_steps)
        self.rllib = config.build_algo()
        self._pack_size = self.env_pack_size()

    def env_pack_size(self) -> tuple[int, int]:
        """The curriculum's pack sizes as the trainer set them on its own environment."""
        size = getattr(self.env, "pack_size", None)
        if size is None:
            return (self.config.ctde.min_pack_size, self.config.ctde.max_pack_size)
        return (int(size[0]), int(size[1]))

    # --- acting --------------------------------------------------------------------------------
    @property
    def actor(self) -> ServedActor:
        """The current shared policy, as served (rebuilt from the learner's weights)."""
        return RLlibActor.from_module(
            self.learned_module(),
            action_dim=action_count(self.model_type),
            use_signals=self.use_signals,
        )

    def learned_module(self) -> Any:
        """The shared policy's module with the learner's weights. `Algorithm.get_module` answers
        with the local env runner's copy, whose critic is not kept in sync when remote runners
        sample (measured with one env runner: its value-function weights were still the first
        ones; its policy weights were current): a checkpoint's weights come from the learner."""
        module = copy.deepcopy(self.rllib.get_module(POLICY))
        weights = self.rllib.learner_group.get_weights(module_ids=[POLICY])[POLICY]
        tensors = {k: torch.as_tensor(v) for k, v in weights.items()}
        missing, _ = module.load_state_dict(tensors, strict=False)
        if missing:
            raise RuntimeError(f"the learner's weights lack {missing} of the shared policy")
        return module

    # --- learning ------------------------------------------------------------------------------
    def iterate(self) -> Iteration:
        size = self.env_pack_size()
        if size != self._pack_size:
            self.rllib.env_runner_group.foreach_env_runner(
                lambda runner: runner.set_pack_size(size), local_env_runner=True
            )
            self._pack_size = size
        result = self.rllib.train()
        self.updates += 1
        runners = result.get("env_runners", {})
        # NaN when no runner sampled (the only one was lost during the update).
        fight_steps = _count(runners.get("num_env_steps_sampled")) * self.settings.n_envs
        stats = fight_summary(runners)
        stats.update(_learner_stats(result))
        timers = result.get("timers", {})
        # Where the update's time went (PPO's synchronous step; the asynchronous algorithms
        # report what they have).
        for key, name in (
            ("env_runner_sampling_timer", "sample_s"),
            ("learner_update_timer", "learn_s"),
        ):
            if isinstance(timers.get(key), int | float):
                stats[name] = float(timers[key])
        stats["restarted_env_runners"] = float(
            result.get("fault_tolerance", {}).get("num_remote_worker_restarts", 0)
        )
        return Iteration(
            stats=stats,
            episodes=[],
            env_steps=fight_steps,
            samples=_count(runners.get("num_agent_steps_sampled", {}).get("monsters")),
        )

    # --- state ---------------------------------------------------------------------------------
    def dims(self) -> dict[str, Any]:
        return {
            "model_type": self.model_type,
            "action_dim": action_count(self.model_type),
            "hidden_layers": list(self.hp.hidden_layers),
            "use_signals": self.use_signals,
        }

    def state_dict(self) -> dict[str, Any]:
        """The shared policy's weights in the open; RLlib's whole state (learner, optimizers,
        env runners' connectors) for an exact resume."""
        module = self.learned_module()
        return {
            "shared_policy": {k: v.detach().cpu() for k, v in module.state_dict().items()},
            "rllib": self.rllib.get_state(),
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict[str, Any], weights_only: bool = False) -> None:
        if weights_only:
            weights = {POLICY: dict(state["shared_policy"].items())}
            self.rllib.learner_group.set_weights(weights)
            self.rllib.env_runner_group.sync_weights(
                from_worker_or_learner_group=self.rllib.learner_group
            )
            return
        self.rllib.set_state(state["rllib"])
        self.updates = int(state["updates"])

    def forget_episodes(self) -> None:
        """The env runners keep their own fights: nothing to forget here."""

    def close(self) -> None:
        """Stop the env runners and the learner (Ray itself stays up for the process)."""
        self.rllib.stop()


def _count(value: Any) -> int:
    """A count from RLlib's results: 0 when it is missing or NaN."""
    if value is None or not math.isfinite(float(value)):
        return 0
    return int(value)


def _shared_policy(agent_id: Any, episode: Any = None, **kwargs: Any) -> str:
    return POLICY


def fight_summary(runners: dict[str, Any]) -> dict[str, float]:
    """The simulator's figures over the fights that ended during the update, as the env runners
    logged them (models/rllib/runner.py), under the names the simulator's summarize uses."""
    fights = float(runners.get("fights", 0.0))
    if not fights:
        return {"fights": 0.0}
    out = {"fights": fights}
    for key in ("team_return", "mean_length", "kills", "pack_survival", "deferred_rate"):
        out[key] = float(runners.get(f"fight_{key}_sum", math.nan)) / fights
    out["win_rate"] = float(runners.get("fight_victories", 0.0)) / fights
    out["defeat_rate"] = float(runners.get("fight_defeats", 0.0)) / fights
    out["team_return_min"] = float(runners.get("fight_team_return_min", math.nan))
    out["team_return_max"] = float(runners.get("fight_team_return_max", math.nan))
    return out


def _learner_stats(result: dict[str, Any]) -> dict[str, float]:
    """The shared policy's losses and diagnostics from the learner's results."""
    learner = result.get("learners", {}).get(POLICY, {})
    out: dict[str, float] = {}
    for key, value in learner.items():
        if isinstance(value, int | float | np.floating | np.integer) and not isinstance(
            value, bool
        ):
            out[key] = float(value)
    return out


def rllib_info(name: str, title: str, *, on_policy: bool, value_based: bool) -> AlgorithmConfig:
    """An RLlib algorithm's registry entry: no centralized critic (its critic reads the agent's own
    observation), no recurrent actor, sampling on RLlib's own env runners."""
    return AlgorithmConfig(
        name=name,
        title=title,
        on_policy=on_policy,
        centralized_critic=False,
        recurrent=False,
        value_based=value_based,
        own_env_runners=True,
    )


class RLlibPPO(RLlibAlgorithm):
    """PPO (Schulman et al. 2017): clipped surrogate, GAE, several epochs of minibatches."""

    info = rllib_info(
        "rllib_ppo",
        "RLlib PPO on Ray: one shared policy, clipped surrogate, GAE",
        on_policy=True,
        value_based=False,
    )

    def rllib_config(self) -> Any:
        from ray.rllib.algorithms.ppo import PPOConfig

        return PPOConfig()

    def training_options(self, batch: int) -> dict[str, Any]:
        c, hp, s = self.config.ctde, self.hp, self.settings
        minibatches = hp.minibatches or s.minibatches
        return {
            **self.actor_critic_options(batch),
            "minibatch_size": max(batch // minibatches, 1),
            "num_epochs": hp.epochs or c.n_epochs,
            # RLlib clamps each squared value error at vf_clip_param (10): returns here reach
            # 20-30 (a kill is worth 5, the pack's survival 10), so most of the critic's gradient
            # was clipped away. Errors are kept whole; the gradient clip bounds the step.
            "vf_clip_param": VALUE_ERROR_CLIP,
            "clip_param": c.clip_epsilon,
            "lambda_": c.gae_lambda,
        }


class RLlibAPPO(RLlibAlgorithm):
    """APPO: asynchronous PPO, V-trace corrected, with a target policy (RLlib's)."""

    info = rllib_info(
        "rllib_appo",
        "RLlib APPO on Ray: asynchronous PPO with V-trace",
        on_policy=True,
        value_based=False,
    )

    def rllib_config(self) -> Any:
        from ray.rllib.algorithms.appo import APPOConfig

        return APPOConfig()

    def training_options(self, batch: int) -> dict[str, Any]:
        return {**self.actor_critic_options(batch), "clip_param": self.config.ctde.clip_epsilon}


class RLlibIMPALA(RLlibAlgorithm):
    """IMPALA (Espeholt et al. 2018): actors sample, one learner updates, V-trace corrects."""

    info = rllib_info(
        "rllib_impala",
        "RLlib IMPALA on Ray: asynchronous actor-learner with V-trace",
        on_policy=True,
        value_based=False,
    )

    def rllib_config(self) -> Any:
        from ray.rllib.algorithms.impala import IMPALAConfig

        return IMPALAConfig()

    def training_options(self, batch: int) -> dict[str, Any]:
        return self.actor_critic_options(batch)


class RLlibDQN(RLlibAlgorithm):
    """DQN with double Q, dueling heads and prioritized replay (RLlib's Rainbow parts)."""

    info = rllib_info(
        "rllib_dqn",
        "RLlib DQN on Ray: double Q, dueling heads, prioritized replay",
        on_policy=False,
        value_based=True,
    )

    def rllib_config(self) -> Any:
        from ray.rllib.algorithms.dqn import DQNConfig

        return DQNConfig()

    def training_options(self, batch: int) -> dict[str, Any]:
        return {
            "double_q": True,
            "dueling": True,
            "train_batch_size_per_learner": self.hp.train_batch_decisions or REPLAY_BATCH,
            "replay_buffer_config": {
                "type": "MultiAgentPrioritizedEpisodeReplayBuffer",
                "capacity": self.hp.replay_capacity,
                "alpha": 0.6,
                "beta": 0.4,
            },
            "num_steps_sampled_before_learning_starts": 2 * self.settings.max_steps,
            "target_network_update_freq": 8 * self.settings.max_steps,
        }


class RLlibSAC(RLlibAlgorithm):
    """SAC for discrete actions: twin Q critics, automatic temperature, replay."""

    info = rllib_info(
        "rllib_sac",
        "RLlib SAC on Ray (discrete): twin Q, automatic temperature",
        on_policy=False,
        value_based=False,
    )

    def rllib_config(self) -> Any:
        from ray.rllib.algorithms.sac import SACConfig

        return SACConfig()

    def learning_rates(self) -> dict[str, Any]:
        lr = self.hp.lr
        return {"lr": None, "actor_lr": lr, "critic_lr": lr, "alpha_lr": lr}

    def training_options(self, batch: int) -> dict[str, Any]:
        return {
            "twin_q": True,
            "train_batch_size_per_learner": self.hp.train_batch_decisions or REPLAY_BATCH,
            "replay_buffer_config": {
                "type": "MultiAgentPrioritizedEpisodeReplayBuffer",
                "capacity": self.hp.replay_capacity,
                "alpha": 0.6,
                "beta": 0.4,
            },
            "num_steps_sampled_before_learning_starts": 2 * self.settings.max_steps,
        }


RLLIB_ALGORITHMS: tuple[type[RLlibAlgorithm], ...] = (
    RLlibPPO,
    RLlibAPPO,
    RLlibIMPALA,
    RLlibDQN,
    RLlibSAC,
)
