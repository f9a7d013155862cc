"""CTDETrainer: MAPPO with a centralized critic on the pack-combat simulator.

The seed's API (`train_episode`, `train_on_buffer`, `save_checkpoint`, `load_checkpoint`,
`export_actor_to_onnx`, `get_training_statistics`) over one readable loop:

    for update in range(total_updates):
        rollout  = T steps of E simulated fights, actors acting on (local obs, signals, GRU state)
        values   = centralized critic on every agent's global state (masked for packs of 2-5)
        adv      = GAE(gamma, lambda) of each agent's reward (0.7 team + 0.3 own) against V(s)
        ppo_update: clipped surrogate + entropy bonus, recurrent chunks, normalized value targets
        every eval_every: deterministic evaluation on held-out seeds, keep the best, early stop

Parameters are shared by all pack members (one actor, one critic); the curriculum grows the packs
from 2 to 5 members.

The environment is the pack-combat simulator unless an `env_factory` gives another
`models.envs.base.MultiAgentEnv` (e.g. a PettingZoo env through models/envs/pettingzoo.py). Such
an env is evaluated by its mean episode team return instead of the simulator's win rate.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import pickle
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.algorithms.mappo import LossStats, Rollout, ValueNormalizer, gae, ppo_update
from models.config import Config, config_from_dict, default_config
from models.envs.base import (
    MultiAgentEnv,
    ReturnSummary,
    SupportsPackSize,
    evaluate_team_return,
    n_slots,
)
from models.envs.pack_combat.policies import EvalSummary, evaluate
from models.envs.pack_combat.simulator import Observation, PackCombatEnv
from models.networks.ctde import CentralizedCritic, DecentralizedActor
from models.training.checkpoints import CheckpointDimensionError, CheckpointError
from models.training.settings import TrainingSettings

log = logging.getLogger("models.training.ctde_trainer")

ProgressCallback = Callable[[int, dict[str, float]], None]
#: Builds the training environment from the run's settings (n_envs, seed, ...); evaluation calls it
#: again with the evaluation seed and one environment per evaluation episode.
EnvFactory = Callable[[TrainingSettings], MultiAgentEnv]


class ActorPolicy:
    """The actor as a scripted-policy-compatible callable, keeping each slot's GRU state."""

    def __init__(self, actor: DecentralizedActor, use_signals: bool, deterministic: bool = True):
        self.actor, self.use_signals, self.deterministic = actor, use_signals, deterministic
        self.hidden: torch.Tensor | None = None

    @torch.no_grad()
    def __call__(self, obs: Observation) -> np.ndarray:
        E, N = obs.agent_mask.shape
        if self.hidden is None or self.hidden.shape[0] != E * N:
            self.hidden = self.actor.initial_hidden(E * N) if self.actor.use_gru else None
        action, _, _, hidden = self.actor.get_action(
            torch.as_tensor(obs.local_obs.reshape(E * N, -1)),
            torch.as_tensor(obs.signals.reshape(E * N, -1)) if self.use_signals else None,
            self.hidden,
            torch.as_tensor(obs.action_mask.reshape(E * N, -1)),
            deterministic=self.deterministic,
        )
        self.hidden = hidden
        return action.numpy().reshape(E, N)


@dataclass
class TrainingHistory:
    """Per-update and per-evaluation records (also written to training_progress.csv)."""

    updates: list[dict[str, float]] = field(default_factory=list)
    evaluations: list[dict[str, float]] = field(default_factory=list)


class CTDETrainer:
    def __init__(
        self,
        config: Config | dict[str, Any] | None = None,
        n_agents: int = 5,
        device: str = "cpu",
        settings: TrainingSettings | None = None,
        env_factory: EnvFactory | None = None,
    ) -> None:
        if config is None:
            config = default_config()
        elif isinstance(config, dict):
            config = config_from_dict(config)
        self.config = config
        self.settings = settings or TrainingSettings()
        if device.startswith("cuda") and not torch.cuda.is_available():
            log.warning("CUDA requested but not available: training on the CPU")
            device = "cpu"
        self.device = torch.device(device)
        self.n_agents = n_agents
        # None: the pack-combat simulator, evaluated by win rate (the product's own path).
        self.env_factory = env_factory
        c = config.ctde
        torch.manual_seed(self.settings.seed)
        torch.set_num_threads(self.settings.torch_threads)
        self.actor = DecentralizedActor(
            c.state_dim,
            c.signal_dim,
            c.action_dim,
            c.actor.hidden_dim,
            c.actor.use_gru,
            c.actor.dropout,
        ).to(self.device)
        self.critic = CentralizedCritic(
            c.state_dim,
            n_agents,
            list(c.critic.hidden_dims),
            c.critic.use_attention,
            c.critic.dropout,
            c.critic.n_heads,
        ).to(self.device)
        # PPO's ratio must compare the same function: dropout stays off in the actor throughout.
        self.actor.eval()
        self.actor_opt = torch.optim.Adam(
            self.actor.parameters(), lr=c.actor.learning_rate, eps=1e-5
        )
        self.critic_opt = torch.optim.Adam(
            self.critic.parameters(), lr=c.critic.learning_rate, eps=1e-5
        )
        self.value_norm = ValueNormalizer()
        self.rng = np.random.default_rng(self.settings.seed)
        self.training_step = 0
        self.env_steps = 0
        # The best evaluation score: win rate on the simulator, mean team return on another env
        # (which may be negative, hence -inf there).
        self.best_win_rate = -1.0 if env_factory is None else -math.inf
        self.evals_without_improvement = 0
        self.history = TrainingHistory()
        self.env: MultiAgentEnv | None = None
        self._obs: Observation | None = None
        self._hidden: torch.Tensor | None = None
        self._starts: np.ndarray | None = None

    # --- the simulator --------------------------------------------------------------------------
    def pack_size_now(self) -> tuple[int, int]:
        """Curriculum: packs of 2 first, one more member allowed every size_increase_interval."""
        adv = self.config.advanced
        if not adv.curriculum_learning:
            return (self.config.ctde.min_pack_size, self.config.ctde.max_pack_size)
        grown = adv.start_pack_size + self.training_step // max(adv.size_increase_interval, 1)
        return (adv.start_pack_size, min(adv.end_pack_size, grown))

    def _make_env(self, settings: TrainingSettings) -> MultiAgentEnv:
        if self.env_factory is not None:
            return self.env_factory(settings)
        return PackCombatEnv(
            settings.n_envs,
            pack_size=self.pack_size_now(),
            seed=settings.seed,
            max_steps=settings.max_steps,
            scenario=settings.scenario,
            team_reward_weight=self.config.ctde.team_reward_weight,
        )

    def _ensure_env(self) -> MultiAgentEnv:
        if self.env is None:
            self.env = self._make_env(self.settings)
            self._obs = self.env.reset()
            N, E = n_slots(self._obs), self.env.n_envs
            self._starts = np.ones(E, dtype=bool)
            self._hidden = torch.zeros(E * N, self.actor.hidden_dim)
        return self.env

    @torch.no_grad()
    def _values(self, global_state: np.ndarray, pack_mask: np.ndarray) -> np.ndarray:
        """Denormalized team values V(s) for (B, N, 64) global states."""
        keep = pack_mask.any(axis=1)
        out = np.zeros(global_state.shape[0], dtype=np.float64)
        if keep.any():
            v = self.critic(
                torch.as_tensor(global_state[keep], device=self.device),
                torch.as_tensor(pack_mask[keep], device=self.device),
            ).squeeze(-1)
            out[keep] = self.value_norm.denormalize(v.cpu().numpy().astype(np.float64))
        return out

    @torch.no_grad()
    def collect_rollout(self) -> tuple[Rollout, np.ndarray, list[dict[str, float]]]:
        """T steps of E environments with the current actor (sampling, not argmax): the rollout,
        V of the state after its last step, and the episodes that ended during it."""
        env = self._ensure_env()
        if isinstance(env, SupportsPackSize):
            env.set_pack_size(self.pack_size_now())
        s, use_signals = self.settings, self.config.ctde.inference.use_signals
        obs = self._obs
        assert obs is not None
        T, E, N, H = s.rollout_length, env.n_envs, n_slots(obs), self.actor.hidden_dim
        buf: dict[str, list[np.ndarray]] = {k: [] for k in Rollout.__dataclass_fields__}
        episodes: list[dict[str, float]] = []
        assert self._starts is not None
        assert self._hidden is not None
        self.critic.eval()
        for _ in range(T):
            hidden_in = self._hidden * torch.as_tensor(~self._starts).repeat_interleave(N)[:, None]
            action, logp, _, hidden = self.actor.get_action(
                torch.as_tensor(obs.local_obs.reshape(E * N, -1)),
                torch.as_tensor(obs.signals.reshape(E * N, -1)) if use_signals else None,
                hidden_in if self.actor.use_gru else None,
                torch.as_tensor(obs.action_mask.reshape(E * N, -1)),
            )
            actions = action.numpy().reshape(E, N)
            values = self._values(obs.global_state, obs.pack_mask)
            next_obs, result = env.step(actions)
            truncated_values = np.zeros(E)
            if result.truncated.any():
                idx = np.flatnonzero(result.truncated)
                truncated_values[idx] = self._values(
                    result.terminal_global_state[idx], result.terminal_pack_mask[idx]
                )
            for key, value in (
                ("local_obs", obs.local_obs),
                ("signals", obs.signals),
                ("global_state", obs.global_state),
                ("agent_mask", obs.agent_mask),
                ("pack_mask", obs.pack_mask),
                ("action_mask", obs.action_mask),
                ("hidden_in", hidden_in.numpy().reshape(E, N, H)),
                ("starts", self._starts.copy()),
                ("actions", actions),
                ("log_probs", logp.numpy().reshape(E, N)),
                ("values", values),
                ("rewards", result.agent_rewards),
                ("dones", result.done),
                ("truncated_values", truncated_values),
            ):
                buf[key].append(np.asarray(value))
            ep = result.episodes
            for k in range(len(ep.env_index)):
                if self.env_factory is not None:  # no wins or kills outside the simulator
                    episodes.append(
                        {"team_return": float(ep.team_return[k]), "length": float(ep.length[k])}
                    )
                    continue
                episodes.append(
                    {
                        "win": float(ep.outcome[k] == 0),
                        "coordinated_kills": float(ep.coordinated_kills[k]),
                        "coordination_score": float(ep.coordination_score[k]),
                        "pack_survival": float(ep.pack_survival[k]),
                        "team_return": float(ep.team_return[k]),
                    }
                )
            self._starts = result.done.copy()
            if hidden is not None:
                self._hidden = hidden
            obs = next_obs
        self._obs = obs
        self.env_steps += T * E
        rollout = Rollout(**{k: np.stack(v) for k, v in buf.items()})
        return rollout, self._values(obs.global_state, obs.pack_mask), episodes

    # --- one update -----------------------------------------------------------------------------
    def update(self, rollout: Rollout, next_values: np.ndarray) -> LossStats:
        c, s = self.config.ctde, self.settings
        advantages, _ = gae(
            rollout.rewards.astype(np.float64),
            rollout.values,
            next_values,
            rollout.dones,
            rollout.truncated_values,
            c.gamma,
            c.gae_lambda,
        )
        acting = np.maximum(rollout.agent_mask.sum(axis=2), 1)
        team_rewards = (rollout.rewards * rollout.agent_mask).sum(axis=2) / acting
        _, team_returns = gae(
            team_rewards[:, :, None].astype(np.float64),
            rollout.values,
            next_values,
            rollout.dones,
            rollout.truncated_values,
            c.gamma,
            c.gae_lambda,
        )
        self.value_norm.update(team_returns[:, :, 0])
        targets = self.value_norm.normalize(team_returns[:, :, 0]).astype(np.float32)
        self.critic.train()
        stats = ppo_update(
            self.actor,
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
        self.training_step += 1
        return stats

    # --- evaluation -----------------------------------------------------------------------------
    def evaluate(self, episodes: int | None = None, seed: int | None = None) -> EvalSummary:
        """Deterministic (argmax) play of `episodes` fights on seeds never used in training.
        The simulator's evaluation; another env is evaluated by `evaluate_return`."""
        if self.env_factory is not None:
            raise ValueError("evaluate() plays the pack-combat simulator: use evaluate_return()")
        s = self.settings
        return evaluate(
            ActorPolicy(self.actor, self.config.ctde.inference.use_signals),
            n_episodes=episodes or s.eval_episodes,
            seed=s.eval_seed if seed is None else seed,
            pack_size=(self.config.ctde.min_pack_size, self.config.ctde.max_pack_size),
            max_steps=s.max_steps,
            scenario=s.scenario,
        )

    def evaluate_return(
        self, episodes: int | None = None, seed: int | None = None
    ) -> ReturnSummary:
        """Deterministic (argmax) play of one episode in each of `episodes` fresh environments
        (from the env factory, seeded `seed` on: never the training seeds) and their mean
        undiscounted team return."""
        s = self.settings
        settings = dataclasses.replace(
            s,
            n_envs=episodes or s.eval_episodes,
            seed=s.eval_seed if seed is None else seed,
        )
        policy = ActorPolicy(self.actor, self.config.ctde.inference.use_signals)
        return evaluate_team_return(policy, self._make_env(settings))

    # --- the loop -------------------------------------------------------------------------------
    def train(
        self,
        checkpoint_dir: str | Path | None = None,
        progress: ProgressCallback | None = None,
        show_progress_bar: bool = False,
    ) -> TrainingHistory:
        """Online MAPPO on the simulator until total_updates, the time budget or early stopping.
        Resumes from checkpoint_dir/latest.pt when it exists."""
        s = self.settings
        directory = Path(checkpoint_dir) if checkpoint_dir is not None else None
        writer = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            if (directory / "latest.pt").exists():
                self.load_checkpoint(directory / "latest.pt")
                log.info(
                    "resumed from %s at update %d", directory / "latest.pt", self.training_step
                )
            writer = _tensorboard(directory / "tensorboard")
        bar = _progress_bar(s.total_updates, self.training_step) if show_progress_bar else None
        started = time.perf_counter()
        try:
            while self.training_step < s.total_updates:
                if s.time_budget_s and time.perf_counter() - started > s.time_budget_s:
                    log.info(
                        "time budget of %.0fs spent at update %d",
                        s.time_budget_s,
                        self.training_step,
                    )
                    break
                tick = time.perf_counter()
                rollout, next_values, episodes = self.collect_rollout()
                rollout_s = time.perf_counter() - tick
                stats = self.update(rollout, next_values)
                record = {
                    "update": float(self.training_step),
                    "env_steps": float(self.env_steps),
                    "max_pack_size": float(self.pack_size_now()[1]),
                    "episodes": float(len(episodes)),
                    "win_rate": _mean(episodes, "win"),
                    "coordination_score": _mean(episodes, "coordination_score"),
                    "team_return": _mean(episodes, "team_return"),
                    **{k: float(v) for k, v in asdict(stats).items()},
                    "env_steps_per_s": rollout.actions.size
                    / rollout.actions.shape[2]
                    / max(rollout_s, 1e-9),
                    "samples_per_s": float(rollout.agent_mask.sum())
                    / max(time.perf_counter() - tick, 1e-9),
                }
                if s.eval_every and self.training_step % s.eval_every == 0:
                    record.update(self._evaluate_and_keep_best(directory))
                self.history.updates.append(record)
                if directory is not None:
                    _append_csv(directory / "training_progress.csv", record)
                    if writer is not None:
                        for key, value in record.items():
                            if not math.isnan(value):
                                writer.add_scalar(key, value, self.training_step)
                    if self.training_step % s.checkpoint_every == 0:
                        self.save_checkpoint(str(directory / "latest.pt"))
                if bar is not None:
                    bar.update(1)
                    if self.env_factory is None:
                        bar.set_postfix(win=f"{record['win_rate']:.2f}", ent=f"{stats.entropy:.2f}")
                    else:
                        bar.set_postfix(
                            ret=f"{record['team_return']:.2f}", ent=f"{stats.entropy:.2f}"
                        )
                if progress is not None:
                    progress(self.training_step, record)
                if (
                    s.early_stopping_patience
                    and self.evals_without_improvement >= s.early_stopping_patience
                ):
                    log.info(
                        "early stop: %d evaluations without improvement", s.early_stopping_patience
                    )
                    break
        finally:
            if bar is not None:
                bar.close()
            if writer is not None:
                writer.close()
        if directory is not None:
            self.save_checkpoint(str(directory / "latest.pt"))
            if (directory / "best.pt").exists():
                self.load_checkpoint(directory / "best.pt", weights_only=True)
        return self.history

    def _evaluate_and_keep_best(self, directory: Path | None) -> dict[str, float]:
        if self.env_factory is None:
            summary = self.evaluate()
            score = summary.win_rate
            record = {
                "eval_win_rate": summary.win_rate,
                "eval_coordinated_kills": summary.coordinated_kills,
                "eval_pack_survival": summary.pack_survival,
                "eval_coordination_score": summary.coordination_score,
            }
        else:
            returns = self.evaluate_return()
            score = returns.team_return
            record = {"eval_team_return": returns.team_return, "eval_length": returns.mean_length}
        self.history.evaluations.append({"update": float(self.training_step), **record})
        if score > self.best_win_rate:
            self.best_win_rate = score
            self.evals_without_improvement = 0
            if directory is not None:
                self.save_checkpoint(str(directory / "best.pt"), {"eval": record})
        else:
            self.evals_without_improvement += 1
        return record

    # --- checkpoints ----------------------------------------------------------------------------
    def _dims(self) -> dict[str, Any]:
        c = self.config.ctde
        return {
            "state_dim": c.state_dim,
            "signal_dim": c.signal_dim,
            "action_dim": c.action_dim,
            "actor_hidden_dim": c.actor.hidden_dim,
            "use_gru": c.actor.use_gru,
            "critic_hidden_dims": list(c.critic.hidden_dims),
            # A head count changes no weight's shape (a checkpoint loaded into any count
            # silently); attention on or off is named here rather than as missing weights.
            "critic_use_attention": c.critic.use_attention,
            "critic_n_heads": c.critic.n_heads,
            "n_agents": self.n_agents,
        }

    def save_checkpoint(self, path: str, metadata: dict[str, Any] | None = None) -> bool:
        """Everything a resume needs to continue exactly: networks, optimizers, value normalizer,
        random states, the simulator mid-rollout, counters and history."""
        state = {
            "metadata": {
                "network_type": "ctde",
                "step": self.training_step,
                **self._dims(),
                **(metadata or {}),
            },
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "actor_opt": self.actor_opt.state_dict(),
            "critic_opt": self.critic_opt.state_dict(),
            "value_norm": self.value_norm.state_dict(),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            **self._env_state(),
            "counters": {
                "training_step": self.training_step,
                "env_steps": self.env_steps,
                "best_win_rate": self.best_win_rate,
                "evals_without_improvement": self.evals_without_improvement,
            },
            "history": asdict(self.history),
        }
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        torch.save(state, partial)
        partial.replace(target)  # atomic: a kill mid-save never leaves a torn checkpoint
        return True

    def _env_state(self) -> dict[str, Any]:
        """The environment mid-rollout, for an exact resume. The simulator always pickles; another
        env may not (PettingZooVecEnv refuses): then none is saved and a resume starts fresh
        episodes in a new env, the networks, optimizers and counters still restored exactly."""
        state = {"env": self.env, "obs": self._obs, "hidden": self._hidden, "starts": self._starts}
        if self.env_factory is None or self.env is None:
            return state
        try:
            pickle.dumps(self.env)
        except Exception as exc:  # any pickling failure of third-party objects
            log.info("the environment does not pickle (%s): checkpoint without it", exc)
            return {"env": None, "obs": None, "hidden": None, "starts": None}
        return state

    def load_checkpoint(self, path: str | Path, weights_only: bool = False) -> dict[str, Any]:
        """Restore a checkpoint; dims that differ from this trainer's config are refused with both
        values named. weights_only restores the networks and nothing of the run."""
        state = torch.load(Path(path), map_location=self.device, weights_only=False)
        meta = state["metadata"]
        if meta.get("network_type") != "ctde":
            raise CheckpointError(
                f"{path}: network_type {meta.get('network_type')!r}, expected 'ctde'"
            )
        # The same errors as models.training.checkpoints (a run's checkpoint also carries the
        # optimizers and the simulator, so it has its own format and its own dims to compare).
        mismatches = [
            f"{key}: checkpoint has {meta[key]}, config has {expected}"
            for key, expected in self._dims().items()
            if key in meta and meta[key] != expected
        ]
        if mismatches:
            raise CheckpointDimensionError(f"{path}: dimension mismatch: " + "; ".join(mismatches))
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        if weights_only:
            return dict(meta)
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.value_norm.load_state_dict(state["value_norm"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.env, self._obs = state["env"], state["obs"]
        self._hidden, self._starts = state["hidden"], state["starts"]
        counters = state["counters"]
        self.training_step = counters["training_step"]
        self.env_steps = counters["env_steps"]
        self.best_win_rate = counters["best_win_rate"]
        self.evals_without_improvement = counters["evals_without_improvement"]
        self.history = TrainingHistory(**state["history"])
        return dict(meta)

    # --- the seed's offline API -----------------------------------------------------------------
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
            logits, h = self.actor.logits(
                torch.as_tensor(obs[t, 0]),
                torch.as_tensor(sig[t, 0]),
                h,
                torch.as_tensor(action_mask[t, 0]),
            )
            logp[t, 0] = (
                torch.log_softmax(logits, -1)
                .gather(1, torch.as_tensor(actions[t, 0])[:, None])
                .squeeze(1)
                .numpy()
            )
        values = self._values(glob.reshape(T, N, -1), mask.reshape(T, N))[:, None]
        dones = np.zeros((T, 1), bool)
        dones[-1] = True
        starts = np.zeros((T, 1), bool)
        starts[0] = True
        rollout = Rollout(
            local_obs=obs,
            signals=sig,
            global_state=glob,
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
            truncated_values=np.zeros((T, 1)),
        )
        return rollout, np.zeros(1)

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
            "avg_actor_loss": _mean(recent, "actor_loss"),
            "avg_critic_loss": _mean(recent, "critic_loss"),
            "avg_entropy": _mean(recent, "entropy"),
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


def _mean(rows: list[dict[str, float]], key: str) -> float:
    values = [r[key] for r in rows if key in r]
    return float(np.mean(values)) if values else float("nan")


def _append_csv(path: Path, record: dict[str, float]) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(record), extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(record)


def _tensorboard(directory: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is in the `train` extra; logging to CSV still happens
        log.warning("tensorboard is not installed: no TensorBoard logs")
        return None
    return SummaryWriter(str(directory))


def _progress_bar(total: int, initial: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc="MAPPO", unit="update")
