"""CTDETrainer: the seed's trainer API (000_..., "CTDETrainer") over MAPPO and the shared loop.

    trainer = CTDETrainer(config, settings=TrainingSettings(total_updates=200))
    trainer.train(checkpoint_dir)          # the loop: budgets, evaluation, checkpoints
    trainer.evaluate()                     # EvalSummary on held-out fights (the simulator)
    trainer.export_actor_to_onnx(path)     # verified FP32 / FP16 / INT8 files

It is `Trainer("mappo", ...)` (models/training/loop.py) plus the seed's methods: `train_episode`
and `train_on_buffer` (PPO updates from stored pack episodes), `save_checkpoint`,
`load_checkpoint`, `export_actor_to_onnx` and `get_training_statistics`. Any other algorithm of the
registry trains through `Trainer` itself.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.algorithms.base import ActorPolicy
from models.algorithms.mappo import MAPPO, LossStats, Rollout
from models.config import Config
from models.envs.base import EpisodeStats, ReturnSummary, evaluate_team_return
from models.envs.pack_combat.policies import EvalSummary
from models.networks.ctde import DecentralizedActor
from models.training.loop import EnvFactory, Trainer, TrainingHistory, mean_of
from models.training.settings import TrainingSettings

log = logging.getLogger("models.training.ctde_trainer")

__all__ = ["ActorPolicy", "CTDETrainer", "TrainingHistory", "episode_tensors"]


class CTDETrainer(Trainer):
    """The seed's trainer: MAPPO on the pack simulator, whose figures `evaluate` returns as the
    seed's EvalSummary. Its settings' `environment` is always "pack"; the product's training
    jobs train on the contract simulator through `Trainer` (models/training/job.py)."""

    def __init__(
        self,
        config: Config | dict[str, Any] | None = None,
        n_agents: int = 5,
        device: str = "cpu",
        settings: TrainingSettings | None = None,
        env_factory: EnvFactory | None = None,
    ) -> None:
        settings = replace(settings or TrainingSettings(), environment="pack")
        super().__init__("mappo", config, settings, env_factory, None, n_agents, device)
        self.n_agents = n_agents
        assert isinstance(self.algorithm, MAPPO)
        self.mappo: MAPPO = self.algorithm

    # --- MAPPO's parts, as the seed named them -------------------------------------------------
    @property
    def actor(self) -> DecentralizedActor:
        return self.mappo.actor

    @property
    def critic(self) -> torch.nn.Module:
        return self.mappo.value_net

    @property
    def actor_opt(self) -> torch.optim.Optimizer:
        return self.mappo.actor_opt

    @property
    def critic_opt(self) -> torch.optim.Optimizer:
        return self.mappo.critic_opt

    @property
    def best_win_rate(self) -> float:
        """The best evaluation score so far (the win rate on the simulator)."""
        return self.best_score

    @best_win_rate.setter
    def best_win_rate(self, value: float) -> None:
        self.best_score = value

    def collect_rollout(self) -> tuple[Rollout, np.ndarray, list[EpisodeStats]]:
        return self.mappo.collect_rollout()

    def update(self, rollout: Rollout, next_values: np.ndarray) -> LossStats:
        return self.mappo.update(rollout, next_values)

    # --- evaluation ---------------------------------------------------------------------------
    def evaluate(self, episodes: int | None = None, seed: int | None = None) -> EvalSummary:  # type: ignore[override]
        """Deterministic (argmax) play of `episodes` fights on seeds never used in training.
        The simulator's evaluation; another env is evaluated by `evaluate_return`."""
        if self.env_factory is not None:
            raise ValueError("evaluate() plays the pack-combat simulator: use evaluate_return()")
        summary = self.evaluation(episodes, seed)
        return EvalSummary(episodes=int(summary.pop("episodes")), **summary)

    def evaluate_return(
        self, episodes: int | None = None, seed: int | None = None
    ) -> ReturnSummary:
        """Deterministic play of one episode in each of `episodes` fresh environments and their
        mean undiscounted team return (any env)."""
        s = self.settings
        env = self.make_env(episodes or s.eval_episodes, s.eval_seed if seed is None else seed)
        return evaluate_team_return(self.algorithm.policy(deterministic=True), env)

    # --- the seed's offline API ---------------------------------------------------------------
    def train_episode(self, episode_data: dict[str, torch.Tensor]) -> dict[str, float]:
        """One PPO update from one stored pack episode: local_obs (T, n, 64), signals (T, n, 32),
        global_states (T, n, 64), actions (T, n), individual_rewards (T, n), team_rewards (T,).

        Stored episodes carry no behaviour probabilities, so the current policy's own stand in
        (the first epoch's ratio is 1): an advantage-weighted update toward what worked."""
        rollout, next_values = self._rollout_from_episode(episode_data)
        stats = self.update(rollout, next_values)
        return {k: float(v) for k, v in asdict(stats).items()}

    @torch.no_grad()
    def _rollout_from_episode(self, data: dict[str, torch.Tensor]) -> tuple[Rollout, np.ndarray]:
        local = data["local_obs"].float().numpy()
        T, n = local.shape[:2]
        N, H = self.n_agents, self.actor.hidden_dim

        def pad(a: np.ndarray, fill: Any = 0) -> np.ndarray:
            """(T, n, ...) -> (T, 1, N, ...): one environment, its empty slots filled."""
            filler = np.full((T, N - n, *a.shape[2:]), fill, a.dtype)
            return np.concatenate([a, filler], axis=1)[:, None]

        obs = pad(local)
        sig = (
            pad(data["signals"].float().numpy())
            if "signals" in data
            else np.zeros((T, 1, N, self.config.ctde.signal_dim), np.float32)
        )
        glob = pad(data["global_states"].float().numpy())
        mask = pad(np.ones((T, n), bool), False)
        actions = pad(data["actions"].long().numpy())
        w = self.config.ctde.team_reward_weight
        team = (
            data["team_rewards"].float().numpy()
            if "team_rewards" in data
            else np.zeros(T, np.float32)
        )
        indiv = data["individual_rewards"].float().numpy()
        rewards = pad((w * team[:, None] + (1 - w) * indiv).astype(np.float32))
        action_mask = np.ones((T, 1, N, self.config.ctde.action_dim), bool)
        hidden = np.zeros((T, 1, N, H), np.float32)
        logp = np.zeros((T, 1, N), np.float32)
        h = self.actor.initial_hidden(N) if self.actor.use_gru else None
        for t in range(T):
            hidden[t, 0] = h.numpy() if h is not None else 0.0
            log_prob, _, h = self.actor.evaluate_actions(
                torch.as_tensor(obs[t, 0]),
                torch.as_tensor(actions[t, 0]),
                torch.as_tensor(sig[t, 0]),
                h,
                torch.as_tensor(action_mask[t, 0]),
            )
            logp[t, 0] = log_prob.numpy()
        values = self.mappo.values(glob.reshape(T, N, -1), mask.reshape(T, N))[:, None]
        dones = np.zeros((T, 1), bool)
        dones[-1] = True
        starts = np.zeros((T, 1), bool)
        starts[0] = True
        rollout = Rollout(
            local_obs=obs,
            signals=sig,
            critic_input=glob,
            agent_mask=mask,
            pack_mask=mask,
            action_mask=action_mask,
            hidden_in=hidden,
            starts=starts,
            actions=actions,
            log_probs=logp,
            values=values,
            rewards=rewards,
            dones=dones,
            truncated_values=np.zeros((T, 1, N)),
        )
        return rollout, np.zeros((1, N))

    async def train_on_buffer(
        self, buffer: Any, n_iterations: int = 100, episodes_per_iteration: int = 32
    ) -> dict[str, list[float]]:
        """Offline training from a PackEpisodeBuffer (e.g. loaded from ml_pack_episodes)."""
        history: dict[str, list[float]] = {}
        for _ in range(n_iterations):
            for episode in buffer.get_batch(episodes_per_iteration):
                stats = self.train_episode(episode_tensors(episode))
                for key, value in stats.items():
                    history.setdefault(key, []).append(value)
        return history

    # --- export and statistics ------------------------------------------------------------------
    def export_actor_to_onnx(self, output_path: str, archetype: str = "aggressive") -> bool:
        """The deployable actor, verified (models/export/onnx.py): FP32 at output_path, FP16 and
        INT8 beside it. The archetype goes into the files' metadata-free name only: the registry
        row, not the file, says which archetype a model serves."""
        from models.export.onnx import export_actor  # the exporter pulls in onnx; import late

        exported = export_actor(self.actor)
        exported.check_thresholds()
        exported.write(Path(output_path))
        log.info("exported the %s actor to %s", archetype, output_path)
        return True

    def get_training_statistics(self) -> dict[str, Any]:
        updates = self.history.updates
        recent = updates[-10:] if updates else []
        return {
            "training_step": self.training_step,
            "env_steps": self.env_steps,
            "avg_actor_loss": mean_of(recent, "actor_loss"),
            "avg_critic_loss": mean_of(recent, "critic_loss"),
            "avg_entropy": mean_of(recent, "entropy"),
            "best_eval_win_rate": self.best_win_rate,
            "evaluations": list(self.history.evaluations),
        }


def episode_tensors(episode: Any) -> dict[str, torch.Tensor]:
    """A PackEpisode's arrays as the tensors train_episode takes."""
    names = (
        "local_obs",
        "signals",
        "global_states",
        "actions",
        "individual_rewards",
        "team_rewards",
    )
    return {
        name: torch.as_tensor(np.asarray(getattr(episode, name)))
        for name in names
        if getattr(episode, name, None) is not None
    }
