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
        stop early after `early_stopping_patience` evaluations without a better score, or after
        `success_streak` consecutive evaluations at `success_threshold`

The run directory (`checkpoint_dir`):

    training_progress.csv          the seed's columns first (SEED_COLUMNS), then every record key
    tensorboard/
    latest.pt, best.pt             the newest checkpoint and the best evaluation's
    checkpoints/checkpoint_<env steps>/checkpoint.pt     every checkpoint_every (keep_checkpoints)
    checkpoints/best_reward_<env steps>/checkpoint.pt    the best evaluation (only the newest)

`train(resume_from=...)` resumes from any of them (a file or a directory). Ctrl+C ends the update
under way, saves (latest.pt and a checkpoint_<env steps>/) and raises KeyboardInterrupt.

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
import os
import pickle
import shutil
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from config.model_types import ACTION_DIMS, COMBAT, GATEWAY_TYPES
from models.algorithms.base import Algorithm, Iteration
from models.algorithms.registry import algorithm_class
from models.config import Config, config_from_dict, default_config
from models.envs.base import (
    EpisodeStats,
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

#: The seed's progress columns, first in every update record and in training_progress.csv:
#: timesteps_total (env steps so far), episode_reward_mean/min/max and episode_len_mean (the team
#: return and length of the episodes that finished in the update), num_env_steps_sampled and
#: num_agent_steps_sampled (the update's own), win_rate (NaN unless the env scores wins) and
#: streak (consecutive evaluations at training.success_threshold).
SEED_COLUMNS = (
    "timesteps_total",
    "episode_reward_mean",
    "episode_reward_min",
    "episode_reward_max",
    "episode_len_mean",
    "num_env_steps_sampled",
    "num_agent_steps_sampled",
    "win_rate",
    "streak",
)
LATEST = "latest.pt"
BEST = "best.pt"
CHECKPOINTS = "checkpoints"
CHECKPOINT_FILE = "checkpoint.pt"
PERIODIC_PREFIX = "checkpoint_"
BEST_PREFIX = "best_reward_"
PROGRESS_CSV = "training_progress.csv"


@dataclass
class TrainingHistory:
    """Per-update and per-evaluation records (also written to training_progress.csv)."""

    updates: list[dict[str, float]] = field(default_factory=list)
    evaluations: list[dict[str, float]] = field(default_factory=list)
    stop_reason: str = ""
    """Why the last `train` ended: "total_updates", "time_budget", "patience", "success_streak"
    or "interrupted" ("" while it runs)."""


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
        # An algorithm with env runners of its own (RLlib's) samples there: the trainer's env
        # stays in this process, for summaries and the curriculum.
        env_settings = self.settings
        if cls.info.own_env_runners:
            env_settings = dataclasses.replace(self.settings, num_env_runners=0)
        self.env = self._make_env(env_settings, self.pack_size_now())
        self.algorithm = cls(config, self.settings, self.env, hyperparameters, n_agents, device)
        # The best evaluation score (a return may be negative, hence -inf).
        self.best_score = -math.inf
        self.evals_without_improvement = 0
        # Consecutive evaluations whose score reached settings.success_threshold.
        self.success_streak = 0
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
        if settings.num_env_runners > 0:
            # The same simulator stepped on Ray actors (models/rllib/remote_env.py); the cluster
            # is joined now, so one that cannot be used fails here with its reason.
            from models.rllib.remote_env import RayVecEnv, TrainerEnvFactory

            return RayVecEnv(
                TrainerEnvFactory(self.config, settings, pack_size),
                settings.n_envs,
                settings.num_env_runners,
                settings.seed,
                address=settings.ray_address or None,
                pack_size=pack_size,
            )
        if settings.environment == "contract":
            return ContractCombatEnv(
                settings.n_envs,
                seed=settings.seed,
                pack_size=pack_size,
                max_steps=settings.max_steps,
                team_reward_weight=self.config.ctde.team_reward_weight,
                action_space="combat" if settings.model_type == COMBAT else "pack",
                scenario=settings.scenario,
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
        """A fresh environment of the run's kind at the full pack sizes, stepped in this process
        whatever training.num_env_runners says (evaluation, export)."""
        settings = dataclasses.replace(self.settings, n_envs=n_envs, seed=seed, num_env_runners=0)
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
        threshold = self.settings.success_threshold
        if threshold:
            self.success_streak = self.success_streak + 1 if score >= sign * threshold else 0
        self.history.evaluations.append(
            {"update": float(self.training_step), **record, "streak": float(self.success_streak)}
        )
        if score > self.best_score:
            self.best_score = score
            self.evals_without_improvement = 0
            if directory is not None:
                best = directory / BEST
                self.save_checkpoint(str(best), {"eval": record})
                kept = _place(best, directory / CHECKPOINTS / f"{BEST_PREFIX}{self.env_steps}")
                _prune(directory / CHECKPOINTS, BEST_PREFIX, 1, kept)
        else:
            self.evals_without_improvement += 1
        return record

    # --- the loop -----------------------------------------------------------------------------
    def train(
        self,
        checkpoint_dir: str | Path | None = None,
        progress: ProgressCallback | None = None,
        show_progress_bar: bool = False,
        resume_from: str | Path | None = None,
    ) -> TrainingHistory:
        """Train until total_updates, the time budget or early stopping (patience, or a streak of
        successful evaluations); ends with the best evaluated weights loaded.

        Resumes from `resume_from` when given (a checkpoint file, a checkpoints/checkpoint_<env
        steps>/ or best_reward_<env steps>/ directory, or a run directory: its latest.pt), else
        from checkpoint_dir/latest.pt when it exists. training_progress.csv is rewritten from the
        restored history, so it never holds updates the resumed run has not done.

        Ctrl+C (SIGINT, in the main thread) lets the update under way finish, saves latest.pt and
        a checkpoint_<env steps>/ and raises KeyboardInterrupt; a second Ctrl+C interrupts at
        once. A KeyboardInterrupt raised between updates (by `progress`) saves the same way; one
        raised inside an update saves nothing (the run's state is torn there): the last
        checkpoint stands."""
        s = self.settings
        directory = Path(checkpoint_dir) if checkpoint_dir is not None else None
        source = resolve_checkpoint(resume_from) if resume_from is not None else None
        if source is None and directory is not None and (directory / LATEST).exists():
            source = directory / LATEST
        if source is not None:
            self.load_checkpoint(source)
            log.info("resumed from %s at update %d", source, self.training_step)
        self.history.stop_reason = ""
        writer = None
        csv_log = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            csv_log = ProgressLog(directory / PROGRESS_CSV, self.history.updates)
            writer = _tensorboard(directory / "tensorboard")
        bar = (
            _progress_bar(s.total_updates, self.training_step, self.algorithm.info.name)
            if show_progress_bar
            else None
        )
        started = time.perf_counter()
        stop = "total_updates"
        torn = False  # inside an update: nothing consistent to save
        sigint = DeferredSigint()
        try:
            with sigint:
                while self.training_step < s.total_updates:
                    if s.time_budget_s and time.perf_counter() - started > s.time_budget_s:
                        log.info(
                            "time budget of %.0fs spent at update %d",
                            s.time_budget_s,
                            self.training_step,
                        )
                        stop = "time_budget"
                        break
                    torn = True
                    record = self.step()
                    if s.eval_every and self.training_step % s.eval_every == 0:
                        record.update(self._evaluate_and_keep_best(directory))
                    record["streak"] = float(self.success_streak)
                    self.history.updates.append(record)
                    torn = False
                    if directory is not None:
                        assert csv_log is not None
                        csv_log.append(record, self.history.updates)
                        if writer is not None:
                            for key, value in record.items():
                                if not math.isnan(value):
                                    writer.add_scalar(key, value, self.training_step)
                        if self.training_step % s.checkpoint_every == 0:
                            self._save_run(directory)
                    if bar is not None:
                        bar.update(1)
                        score = self.env.score_name
                        bar.set_postfix({score: f"{record.get(score, math.nan):.2f}"})
                    if progress is not None:
                        progress(self.training_step, record)
                    if sigint.requested:
                        raise KeyboardInterrupt
                    if (
                        s.early_stopping_patience
                        and self.evals_without_improvement >= s.early_stopping_patience
                    ):
                        log.info(
                            "early stop: %d evaluations without improvement",
                            s.early_stopping_patience,
                        )
                        stop = "patience"
                        break
                    if s.success_streak and self.success_streak >= s.success_streak:
                        log.info(
                            "early stop: %d consecutive evaluations with %s at %g (update %d)",
                            self.success_streak,
                            self.env.score_name,
                            s.success_threshold,
                            self.training_step,
                        )
                        stop = "success_streak"
                        break
        except KeyboardInterrupt:
            self.history.stop_reason = "interrupted"
            if directory is not None and not torn:
                self._save_run(directory)
                log.warning(
                    "interrupted: saved update %d in %s (resume_from=%s)",
                    self.training_step,
                    directory,
                    directory / LATEST,
                )
            elif directory is not None:
                log.warning(
                    "interrupted in the middle of an update after update %d: nothing saved, "
                    "the last checkpoint stands",
                    self.training_step,
                )
            raise
        finally:
            if bar is not None:
                bar.close()
            if writer is not None:
                writer.close()
        self.history.stop_reason = stop
        if directory is not None:
            self._save_run(directory)
            if (directory / BEST).exists():
                self.load_checkpoint(directory / BEST, weights_only=True)
        return self.history

    def step(self) -> dict[str, float]:
        """One iteration of the algorithm at the curriculum's pack size: its record, the seed's
        columns first (SEED_COLUMNS; `streak` as it stood before this update's evaluation)."""
        if isinstance(self.env, SupportsPackSize):
            self.env.set_pack_size(self.pack_size_now())
        tick = time.perf_counter()
        iteration = self.algorithm.iterate()
        seconds = max(time.perf_counter() - tick, 1e-9)
        self.training_step += 1
        self.env_steps += iteration.env_steps
        finished = concat_episodes(iteration.episodes) if iteration.episodes else None
        summary = self.env.summarize(finished) if finished is not None else {}
        measured = {**{k: float(v) for k, v in summary.items()}, **iteration.stats}
        return {
            **seed_columns(finished, measured, self.env_steps, iteration, self.success_streak),
            "update": float(self.training_step),
            "env_steps": float(self.env_steps),
            "max_pack_size": float(self.pack_size_now()[1]),
            "episodes": float(len(finished.env_index)) if finished is not None else 0.0,
            **measured,
            "env_steps_per_s": iteration.env_steps / seconds,
            "samples_per_s": iteration.samples / seconds,
        }

    # --- checkpoints --------------------------------------------------------------------------
    def _save_run(self, directory: Path) -> None:
        """latest.pt, and the same file as checkpoints/checkpoint_<env steps>/checkpoint.pt (a hard
        link where the file system has them: no second write); the oldest such directories
        pruned to settings.keep_checkpoints."""
        latest = directory / LATEST
        self.save_checkpoint(str(latest))
        kept = _place(latest, directory / CHECKPOINTS / f"{PERIODIC_PREFIX}{self.env_steps}")
        _prune(directory / CHECKPOINTS, PERIODIC_PREFIX, self.settings.keep_checkpoints, kept)

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
                    "success_streak": self.success_streak,
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
        self.success_streak = counters.get("success_streak", 0)  # absent before it was kept
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


def seed_columns(
    finished: EpisodeStats | None,
    measured: dict[str, float],
    timesteps_total: int,
    iteration: Iteration,
    streak: int,
) -> dict[str, float]:
    """The SEED_COLUMNS of one update. The episodes' figures (episode_reward_*, episode_len_mean)
    come from the episodes that finished in it when the loop saw them, else from what the
    algorithm measured itself (`measured`: the env's summary merged with the iteration's stats;
    an RLlib-backed algorithm reports the env's summary keys there: team_return,
    team_return_min, team_return_max, mean_length, win_rate); NaN for what neither says."""
    nan = math.nan
    if finished is not None and len(finished.team_return):
        returns = np.asarray(finished.team_return, dtype=np.float64)
        reward = [float(returns.mean()), float(returns.min()), float(returns.max())]
        length = float(np.mean(finished.length))
    else:
        keys = ("team_return", "team_return_min", "team_return_max")
        reward = [measured.get(k, nan) for k in keys]
        length = measured.get("mean_length", nan)
    return {
        "timesteps_total": float(timesteps_total),
        "episode_reward_mean": reward[0],
        "episode_reward_min": reward[1],
        "episode_reward_max": reward[2],
        "episode_len_mean": length,
        "num_env_steps_sampled": float(iteration.env_steps),
        "num_agent_steps_sampled": float(iteration.samples),
        "win_rate": measured.get("win_rate", nan),
        "streak": float(streak),
    }


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint file `path` names: the file itself, the checkpoint.pt of a
    checkpoints/checkpoint_<env steps>/ or best_reward_<env steps>/ directory, or a run
    directory's latest.pt."""
    p = Path(path)
    if p.is_file():
        return p
    for candidate in (p / CHECKPOINT_FILE, p / LATEST):
        if candidate.is_file():
            return candidate
    raise checkpoints.CheckpointError(
        f"{p}: no checkpoint there (a checkpoint file, a checkpoint_<steps>/ or "
        "best_reward_<steps>/ directory, or a run directory with latest.pt)"
    )


def checkpoint_dirs(root: Path, prefix: str) -> list[tuple[int, Path]]:
    """The (env steps, path) of root's <prefix><env steps>/ directories, oldest first."""
    found = []
    for path in root.glob(f"{prefix}*") if root.is_dir() else ():
        steps = path.name.removeprefix(prefix)
        if path.is_dir() and steps.isdigit():
            found.append((int(steps), path))
    return sorted(found)


def _place(source: Path, directory: Path) -> Path:
    """`source` as directory/checkpoint.pt: hard-linked (the file is written once; a later save
    replaces `source` by a new file and leaves this one), copied where links are refused."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / CHECKPOINT_FILE
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        os.link(source, partial)
    except OSError:
        shutil.copyfile(source, partial)
    partial.replace(target)
    return directory


def _prune(root: Path, prefix: str, keep: int, current: Path) -> None:
    """Remove all but the newest `keep` (by env steps; 0: keep all) <prefix>*/ directories, never
    `current`, the one just written."""
    if not keep:
        return
    for _, path in checkpoint_dirs(root, prefix)[:-keep]:
        if path != current:
            shutil.rmtree(path, ignore_errors=True)


class ProgressLog:
    """training_progress.csv: the seed's columns first (SEED_COLUMNS), then every other key of the
    records in the order it first appeared. A record with a key the header lacks (the first
    evaluation's eval_*) rewrites the file with the wider header from all the records; a key a
    row lacks is an empty cell."""

    def __init__(self, path: Path, rows: Sequence[dict[str, float]]) -> None:
        self.path = path
        self.columns: list[str] = []
        self.rewrite(rows)

    def rewrite(self, rows: Sequence[dict[str, float]]) -> None:
        columns = dict.fromkeys(SEED_COLUMNS)
        for row in rows:
            columns.update(dict.fromkeys(row))
        self.columns = list(columns)
        partial = self.path.with_name(self.path.name + ".partial")
        with partial.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
        partial.replace(self.path)

    def append(self, record: dict[str, float], rows: Sequence[dict[str, float]]) -> None:
        """Add `record` (the last of `rows`, all the records so far)."""
        if not set(record) <= set(self.columns):
            self.rewrite(rows)
            return
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.columns, restval="").writerow(record)


class DeferredSigint:
    """While entered in the main thread with Python's own SIGINT handler in place: the first
    Ctrl+C is only noted (`requested`; the loop saves after the update under way), a second one
    raises KeyboardInterrupt at once. Elsewhere (another thread, another handler) it does
    nothing."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> DeferredSigint:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("Ctrl+C: saving after this update (Ctrl+C again stops at once, unsaved)")

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


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
