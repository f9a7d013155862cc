"""The training loop every algorithm shares: budgets, curriculum, evaluation, logs, checkpoints.

    trainer = Trainer("qmix", config, settings, env_factory=None, hyperparameters={...})
    trainer.train(checkpoint_dir)      # until total_updates, the time budget or early stopping
    trainer.evaluate()                 # {"win_rate": ..., ...}: the env names its score

    while updates < total_updates and the budget lasts:
        set the curriculum's pack size on the env (packs of 2 first, then up to 5)
        iteration = algorithm.iterate()          # collect + update, the algorithm's own
        log it (CSV, TensorBoard, the job's progress callback)
        every eval_every: deterministic play on held-out seeds; keep the best (best.pt)
        every checkpoint_every: latest.pt (everything an exact resume needs)

The environment is the one `settings.environment` names (the contract simulator by default, the
pack simulator for reference) unless `env_factory` builds another `models.envs.base.MultiAgentEnv`
(a PettingZoo env, an example problem). A checkpoint is one
format for every algorithm (models/training/checkpoints.py): its metadata, the algorithm's state,
the environment mid-episode (when it pickles) and the loop's counters and history.
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

from config.model_types import ACTION_DIMS, COMBAT, GATEWAY_TYPES
from models.algorithms.base import Algorithm
from models.algorithms.registry import algorithm_class
from models.config import Config, config_from_dict, default_config
from models.envs.base import (
    MultiAgentEnv,
    SupportsPackSize,
    concat_episodes,
    evaluate_policy,
)
from models.envs.contract_combat.env import ContractCombatEnv
from models.envs.pack_combat.simulator import PackCombatEnv
from models.training import checkpoints
from models.training.settings import TrainingSettings

log = logging.getLogger("models.training.loop")

ProgressCallback = Callable[[int, dict[str, float]], None]
#: Builds the training environment from the run's settings (n_envs, seed, ...); evaluation calls it
#: again with the evaluation seed and one environment per evaluation episode.
EnvFactory = Callable[[TrainingSettings], MultiAgentEnv]


@dataclass
class TrainingHistory:
    """Per-update and per-evaluation records (also written to training_progress.csv)."""

    updates: list[dict[str, float]] = field(default_factory=list)
    evaluations: list[dict[str, float]] = field(default_factory=list)


class Trainer:
    """One algorithm from the registry trained on one environment."""

    def __init__(
        self,
        algorithm: str | type[Algorithm] = "mappo",
        config: Config | dict[str, Any] | None = None,
        settings: TrainingSettings | None = None,
        env_factory: EnvFactory | None = None,
        hyperparameters: dict[str, Any] | Any = None,
        n_agents: int = 5,
        device: str = "cpu",
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
        # The algorithm checks its hyper-parameters (a mapping is read as strictly as the YAML).
        cls = algorithm_class(algorithm) if isinstance(algorithm, str) else algorithm
        # None: the simulator settings.environment names, evaluated by win rate.
        self.env_factory = env_factory
        torch.manual_seed(self.settings.seed)
        torch.set_num_threads(self.settings.torch_threads)
        self.training_step = 0
        self.env_steps = 0
        if env_factory is None:
            check_model_type(config, self.settings)
        self.env = self._make_env(self.settings, self.pack_size_now())
        self.algorithm = cls(config, self.settings, self.env, hyperparameters, n_agents, device)
        # The best evaluation score (a return may be negative, hence -inf).
        self.best_score = -math.inf
        self.evals_without_improvement = 0
        self.history = TrainingHistory()

    # --- the environment ----------------------------------------------------------------------
    def pack_size_now(self) -> tuple[int, int]:
        """Curriculum: packs of 2 first, one more member allowed every size_increase_interval."""
        adv = self.config.advanced
        if not adv.curriculum_learning:
            return (self.config.ctde.min_pack_size, self.config.ctde.max_pack_size)
        grown = adv.start_pack_size + self.training_step // max(adv.size_increase_interval, 1)
        return (adv.start_pack_size, min(adv.end_pack_size, grown))

    def _make_env(self, settings: TrainingSettings, pack_size: tuple[int, int]) -> MultiAgentEnv:
        if self.env_factory is not None:
            return self.env_factory(settings)
        if settings.environment == "contract":
            return ContractCombatEnv(
                settings.n_envs,
                seed=settings.seed,
                pack_size=pack_size,
                max_steps=settings.max_steps,
                team_reward_weight=self.config.ctde.team_reward_weight,
                action_space="combat" if settings.model_type == COMBAT else "pack",
            )
        return PackCombatEnv(
            settings.n_envs,
            pack_size=pack_size,
            seed=settings.seed,
            max_steps=settings.max_steps,
            scenario=settings.scenario,
            team_reward_weight=self.config.ctde.team_reward_weight,
        )

    def make_env(self, n_envs: int, seed: int) -> MultiAgentEnv:
        """A fresh environment of the run's kind at the full pack sizes (evaluation, export)."""
        settings = dataclasses.replace(self.settings, n_envs=n_envs, seed=seed)
        full = (self.config.ctde.min_pack_size, self.config.ctde.max_pack_size)
        env = self._make_env(settings, full)
        if isinstance(env, SupportsPackSize):
            env.set_pack_size(full)
        return env

    # --- evaluation ---------------------------------------------------------------------------
    def evaluate(self, episodes: int | None = None, seed: int | None = None) -> dict[str, float]:
        """`evaluation`: subclasses may present it in their own type."""
        return self.evaluation(episodes, seed)

    def evaluation(self, episodes: int | None = None, seed: int | None = None) -> dict[str, float]:
        """Play as served (argmax; a combat model's actions drawn by the state, as the worker
        answers the gateway) of one episode in each of `episodes` fresh environments seeded from
        `seed` on (never the training seeds), at the full pack sizes; the env's own summary (its
        score among the keys) and the number of episodes."""
        s = self.settings
        env = self.make_env(episodes or s.eval_episodes, s.eval_seed if seed is None else seed)
        if self.env_factory is None and s.model_type in GATEWAY_TYPES:
            return evaluate_policy(self.algorithm.policy(deterministic=True, drawn=True), env)
        return evaluate_policy(self.algorithm.policy(deterministic=True), env)

    def _evaluate_and_keep_best(self, directory: Path | None) -> dict[str, float]:
        summary = self.evaluation()
        # An env whose score is a cost says so (lower is better): the best is kept by the sign.
        sign = 1.0 if getattr(self.env, "score_higher_is_better", True) else -1.0
        score = sign * summary[self.env.score_name]
        record = {f"eval_{k}": v for k, v in summary.items() if k != "episodes"}
        self.history.evaluations.append({"update": float(self.training_step), **record})
        if score > self.best_score:
            self.best_score = score
            self.evals_without_improvement = 0
            if directory is not None:
                self.save_checkpoint(str(directory / "best.pt"), {"eval": record})
        else:
            self.evals_without_improvement += 1
        return record

    # --- the loop -----------------------------------------------------------------------------
    def train(
        self,
        checkpoint_dir: str | Path | None = None,
        progress: ProgressCallback | None = None,
        show_progress_bar: bool = False,
    ) -> TrainingHistory:
        """Train until total_updates, the time budget or early stopping. Resumes from
        checkpoint_dir/latest.pt when it exists; ends with the best evaluated weights loaded."""
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
        bar = (
            _progress_bar(s.total_updates, self.training_step, self.algorithm.info.name)
            if show_progress_bar
            else None
        )
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
                record = self.step()
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
                    score = self.env.score_name
                    bar.set_postfix({score: f"{record.get(score, math.nan):.2f}"})
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

    def step(self) -> dict[str, float]:
        """One iteration of the algorithm at the curriculum's pack size: its record."""
        if isinstance(self.env, SupportsPackSize):
            self.env.set_pack_size(self.pack_size_now())
        tick = time.perf_counter()
        iteration = self.algorithm.iterate()
        seconds = max(time.perf_counter() - tick, 1e-9)
        self.training_step += 1
        self.env_steps += iteration.env_steps
        finished = concat_episodes(iteration.episodes) if iteration.episodes else None
        summary = self.env.summarize(finished) if finished is not None else {}
        return {
            "update": float(self.training_step),
            "env_steps": float(self.env_steps),
            "max_pack_size": float(self.pack_size_now()[1]),
            "episodes": float(len(finished.env_index)) if finished is not None else 0.0,
            **{k: float(v) for k, v in summary.items()},
            **iteration.stats,
            "env_steps_per_s": iteration.env_steps / seconds,
            "samples_per_s": iteration.samples / seconds,
        }

    # --- checkpoints --------------------------------------------------------------------------
    def save_checkpoint(self, path: str, metadata: dict[str, Any] | None = None) -> bool:
        """Everything a resume needs to continue exactly, in the one checkpoint format
        (models/training/checkpoints.py): the algorithm's networks in the open; its optimizers,
        replay, random states and interaction state, the environment, the loop's counters and
        history and torch's random state in the run's pickled part."""
        checkpoints.write_run(
            Path(path),
            checkpoints.metadata_record(
                self.algorithm.info.name, self.training_step, self.algorithm.dims(), extra=metadata
            ),
            self.algorithm.state_dict(),
            {
                "env": self._picklable_env(),
                "torch_rng": torch.get_rng_state(),
                "counters": {
                    "training_step": self.training_step,
                    "env_steps": self.env_steps,
                    "best_score": self.best_score,
                    "evals_without_improvement": self.evals_without_improvement,
                },
                "history": asdict(self.history),
            },
        )
        return True

    def _picklable_env(self) -> MultiAgentEnv | None:
        """The environment mid-rollout, for an exact resume. The simulator always pickles; another
        env may not (PettingZooVecEnv refuses): then none is saved and a resume starts fresh
        episodes in a new env, the algorithm and the counters still restored exactly."""
        try:
            pickle.dumps(self.env)
        except Exception as exc:  # any pickling failure of third-party objects
            log.info("the environment does not pickle (%s): checkpoint without it", exc)
            return None
        return self.env

    def load_checkpoint(self, path: str | Path, weights_only: bool = False) -> dict[str, Any]:
        """Restore a checkpoint; another algorithm's, or dims that differ from this trainer's,
        are refused with both values named. weights_only restores the networks and nothing of
        the run (and unpickles nothing)."""
        meta, state, run = checkpoints.read_run(
            Path(path), self.algorithm.info.name, self.algorithm.dims(), weights_only
        )
        if weights_only:
            self.algorithm.load_state_dict(state, weights_only=True)
            return meta
        self.algorithm.load_state_dict(state)
        torch.set_rng_state(run["torch_rng"])
        if run["env"] is not None:
            self.env = run["env"]
            self.algorithm.env = self.env
        else:  # the env did not pickle: its episodes cannot continue, start fresh ones
            self.algorithm.forget_episodes()
        counters = run["counters"]
        self.training_step = counters["training_step"]
        self.env_steps = counters["env_steps"]
        self.best_score = counters["best_score"]
        self.evals_without_improvement = counters["evals_without_improvement"]
        self.history = TrainingHistory(**run["history"])
        return meta


def check_model_type(config: Config, settings: TrainingSettings) -> None:
    """The actor's shape must fit what the run's model type answers and is served with."""
    c = config.ctde
    want = ACTION_DIMS[settings.model_type]
    if c.action_dim != want:
        raise ValueError(
            f"a {settings.model_type} actor answers {want} actions: ctde.action_dim must be "
            f"{want}, got {c.action_dim}"
        )
    if settings.model_type in GATEWAY_TYPES and (c.actor.use_gru or c.inference.use_signals):
        raise ValueError(
            "a combat actor decides from the gateway's request alone: ctde.actor.use_gru and "
            "ctde.inference.use_signals must be false"
        )


def mean_of(rows: list[dict[str, float]], key: str) -> float:
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


def _progress_bar(total: int, initial: int, name: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=name.upper(), unit="update")
