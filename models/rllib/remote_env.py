"""The product's own algorithms (MAPPO, QMIX, ...) collecting their rollouts on Ray actors.

    env = RayVecEnv(partial(ContractCombatEnv, max_steps=80), n_envs=64, runners=2, seed=0)
    obs = env.reset()                        # the MultiAgentEnv protocol, as a local env
    obs, result = env.step(actions)          # (64, N) actions: 32 to each runner, in parallel

`RayVecEnv` is a `models.envs.base.MultiAgentEnv` whose E environments are split over K Ray actors
(env runners, one CPU each by default). Each runner holds one environment of its share of the
fights, built in this process by the factory with the runner's own seed and sent to it (so a
runner imports the environment's module, not torch). `step` sends every runner its slice of the
actions at once, waits for all of them, and concatenates their observations and step results field
by field (a subclass's extra fields too; episode rows get their global env_index). An algorithm
does not know it runs remotely: `Trainer` builds one when `training.num_env_runners` > 0 (over the
simulator the settings name, `TrainerEnvFactory`), and MAPPO, IPPO, QMIX, VDN and MADDPG collect
through it unchanged. Evaluation stays in the training process. The runners start at the first
reset or step (an algorithm that never steps the trainer's env, RLlib's, starts none); the cluster
is joined, and its CPUs checked, when the RayVecEnv is built.

Seeds: runner k, generation g (g = 0 at the start, +1 each time it is replaced) draws
`shard_seed(seed, k, g)`: runner 0's first environment uses the run's seed itself, so one runner
plays exactly the fights of the local environment; the others (and replacements) draw independent
seeds from numpy's SeedSequence of (seed, k, g).

A lost runner (its process or node died, `ray.kill`) is replaced at the step that finds it gone:
a new actor with the next generation's seed starts fresh fights for that shard. That step's
result ends the shard's fights as time-limit ends (`done` and `truncated`, zero reward, the last
state the driver saw as their terminal state, no episode rows): every algorithm then starts new
episodes there (recurrent state reset, values bootstrapped from the last state seen); the actions
sent to the lost runner are not applied. The event is logged (WARNING) and counted in `restarts`,
which `summarize` reports as `runner_restarts`, so it reaches the training record (CSV,
TensorBoard) and the job's progress row.

Checkpoints: a RayVecEnv pickles as its runners' environments (fetched from the actors), its
factory and counters; unpickled, it starts new runners holding those environments at its first
use, so a run resumed from a checkpoint continues exactly (tests/test_ray_runners.py). A factory or
environment that does not pickle makes the pickling fail, and the Trainer then saves no
environment (a resume starts fresh episodes).

Measured (`measure_env_runners`; 2-core development machine shared with other work, local Ray of
2 CPUs; MAPPO on the contract simulator, pack actor, n_envs 64, rollout_length 64, 2 updates after
a warm-up, each configuration twice):

| env runners | env steps/s | s per update | of which env.step | env.step per step |
|---:|---:|---:|---:|---:|
| 0 (in process) | 243, 245 | 16.8, 16.7 | 0.44 s | 6.8 ms |
| 1 | 245, 256 | 16.7, 16.0 | 0.79, 0.70 s | 12.4, 11.0 ms |
| 2 | 234, 251 | 17.5, 16.3 | 0.87, 0.93 s | 13.6, 14.6 ms |

MAPPO's update (the policy's forward passes while collecting, PPO's epochs) takes 97% of an update
here, so runners cannot speed it up on this machine; what they cost is Ray's round trip, 4-8 ms per
step of 64 fights (an empty call to every runner: 0.7 ms with one, 1.3 ms with two; the rest is
moving about 0.3 MB of observations and results per step), about 3-5% of the update. Stepping
alone (no training), 512 fights: 22-25 ms in process, 27-30 ms on one runner, 25-28 ms on two: two
cores hold the driver, the runners and Ray's own processes. Starting the runners adds 1-2 s to the
first update. Runners pay where stepping is a large share of an update on machines with cores to
spare: many fights per update, a cluster's nodes.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import logging
import time
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, Protocol, cast

import numpy as np
import ray
from numpy.typing import NDArray
from ray.exceptions import GetTimeoutError, ObjectLostError, RayActorError

from models.config import Config
from models.envs.base import (
    EpisodeStats,
    MultiAgentEnv,
    Observation,
    StepResult,
    SupportsPackSize,
    concat_episodes,
)
from models.rllib.cluster import RayClusterError, connect, require_resources
from models.training.settings import TrainingSettings

log = logging.getLogger("models.rllib.remote_env")

#: Seconds the runners may take to start (placement, worker processes, the first import).
RUNNER_START_TIMEOUT_S = 300.0
#: What a lost runner's actor reports: its process or node is gone, or so are its results.
LOST = (RayActorError, ObjectLostError)


class ShardFactory(Protocol):
    """Builds one runner's environment: `n_envs` environments seeded with `seed`. It runs in this
    process (the driver); what it builds is sent to a runner, so the environment must pickle (the
    simulators do), and a checkpoint pickles the factory too."""

    def __call__(self, *, n_envs: int, seed: int) -> MultiAgentEnv: ...


@dataclasses.dataclass(frozen=True)
class TrainerEnvFactory:
    """The environment `Trainer._make_env` builds for a run's settings (its local branch: the
    simulator `training.environment` names, with the run's scenario, pack sizes and reward
    weight), for one runner's share of the fights."""

    config: Config
    settings: TrainingSettings
    pack_size: tuple[int, int]

    def __call__(self, *, n_envs: int, seed: int) -> MultiAgentEnv:
        from models.training.loop import Trainer

        settings = dataclasses.replace(self.settings, n_envs=n_envs, seed=seed, num_env_runners=0)
        # _make_env reads the trainer's env_factory (None: the simulators) and config, no more.
        shell = SimpleNamespace(env_factory=None, config=self.config)
        return Trainer._make_env(cast(Trainer, shell), settings, self.pack_size)


def shard_seed(seed: int, shard: int, generation: int = 0) -> int:
    """The seed of runner `shard`'s environment in its `generation` (0 at the start, +1 for each
    replacement): `seed` itself for runner 0's first, else drawn from SeedSequence((seed, shard,
    generation)) (below 2**31, for environments that take 32-bit seeds)."""
    if shard == 0 and generation == 0:
        return seed
    state = np.random.SeedSequence([seed, shard, generation]).generate_state(1)
    return int(state[0] >> 1)


def shard_bounds(n_envs: int, runners: int) -> list[tuple[int, int]]:
    """[lo, hi) of each runner's environments: E split as evenly as possible, in order."""
    if not 1 <= runners <= n_envs:
        raise ValueError(f"num_env_runners must be in [1, n_envs={n_envs}], got {runners}")
    edges = np.linspace(0, n_envs, runners + 1).round().astype(int)
    return [(int(lo), int(hi)) for lo, hi in itertools.pairwise(edges)]


class EnvRunner:
    """One runner's environment, held in a Ray actor (`ray.remote(EnvRunner)`)."""

    def __init__(self, env: MultiAgentEnv) -> None:
        # Ray hands numpy arrays over read-only (zero-copy from its object store): the
        # environment's state must be its own to step.
        self.env = copy.deepcopy(env)

    def ready(self) -> bool:
        return True

    def reset(self) -> Observation:
        return self.env.reset()

    def step(self, actions: NDArray[np.integer]) -> tuple[Observation, StepResult]:
        return self.env.step(actions)

    def set_pack_size(self, pack_size: int | tuple[int, int]) -> None:
        if isinstance(self.env, SupportsPackSize):
            self.env.set_pack_size(pack_size)

    def get_env(self) -> MultiAgentEnv:
        return self.env


_RemoteRunner: Any = ray.remote(EnvRunner)


class RayVecEnv:
    """E environments over K Ray actors, as one MultiAgentEnv (see the module's docstring)."""

    def __init__(
        self,
        factory: ShardFactory,
        n_envs: int,
        runners: int,
        seed: int = 0,
        *,
        address: str | None = None,
        cpus_per_runner: float = 1.0,
        pack_size: int | tuple[int, int] | None = None,
    ) -> None:
        self.factory = factory
        self.n_envs = n_envs
        self.seed = seed
        #: The Ray cluster to run on (models/rllib/cluster.connect: None is RAGNAROK_RAY_ADDRESS,
        #: else a local Ray), joined now so that a cluster that cannot be used fails at once.
        self.address = address
        self.cpus_per_runner = cpus_per_runner
        self.bounds = shard_bounds(n_envs, runners)
        #: Replacements of lost runners so far (summarize's `runner_restarts`).
        self.restarts = 0
        self._generations = [0] * runners
        self._pack_size = pack_size
        connect(address)
        require_resources(cpus=cpus_per_runner * runners, gpus=0.0)
        # One environment in this process for what needs no fights: its summary of episodes, its
        # score's name and settings (max_steps, action_kind, ...), read through __getattr__.
        self._prototype = factory(n_envs=1, seed=seed)
        if pack_size is not None and isinstance(self._prototype, SupportsPackSize):
            self._prototype.set_pack_size(pack_size)
        self.score_name: str = self._prototype.score_name
        self._actors: list[Any] | None = None
        self._envs: list[MultiAgentEnv] | None = None  # from a checkpoint, for the new runners
        self._last_obs: Observation | None = None
        self._template: StepResult | None = None

    @property
    def runners(self) -> int:
        return len(self.bounds)

    @property
    def actors(self) -> list[Any]:
        """The runners' actor handles, in shard order (started now if they were not)."""
        return list(self._runners())

    @property
    def pack_size(self) -> Any:
        """The pack sizes the runners draw at their next resets (as the environment has it)."""
        return getattr(self._prototype, "pack_size", self._pack_size)

    def __getattr__(self, name: str) -> Any:
        """The environment's settings (max_steps, action_kind, score_higher_is_better, ...), read
        from the local prototype; its per-fight state lives in the runners and is not offered."""
        if name.startswith("_") or "_prototype" not in self.__dict__:
            raise AttributeError(name)
        value = getattr(self._prototype, name)
        if callable(value) or isinstance(value, np.ndarray):
            raise AttributeError(
                f"RayVecEnv offers the environment's settings, not {name!r} (its fights live in "
                "the env runners)"
            )
        return value

    # --- runners ------------------------------------------------------------------------------
    def _start(self, shard: int, env: MultiAgentEnv | None = None) -> Any:
        """A runner holding `env`, else a new environment of the shard's generation."""
        if env is None:
            lo, hi = self.bounds[shard]
            env = self.factory(
                n_envs=hi - lo, seed=shard_seed(self.seed, shard, self._generations[shard])
            )
            if self._pack_size is not None and isinstance(env, SupportsPackSize):
                env.set_pack_size(self._pack_size)
        return _RemoteRunner.options(num_cpus=self.cpus_per_runner).remote(env)

    def _wait_ready(self, actors: Sequence[Any]) -> None:
        try:
            ray.get([a.ready.remote() for a in actors], timeout=RUNNER_START_TIMEOUT_S)
        except GetTimeoutError:
            raise RayClusterError(
                f"{len(actors)} env runner(s) of {self.cpus_per_runner:g} CPU did not start "
                f"within {RUNNER_START_TIMEOUT_S:g}s; the cluster has "
                f"{ray.available_resources().get('CPU', 0.0):g} CPUs free of "
                f"{ray.cluster_resources().get('CPU', 0.0):g}"
            ) from None

    def _runners(self) -> list[Any]:
        """The actors, started at first use (or from a checkpoint's environments)."""
        if self._actors is None:
            connect(self.address)
            envs: Sequence[MultiAgentEnv | None] = self._envs or [None] * self.runners
            actors = [self._start(k, env) for k, env in enumerate(envs)]
            self._wait_ready(actors)
            self._actors, self._envs = actors, None
        return self._actors

    def _replace(self, shard: int, error: BaseException) -> Any:
        """A new actor for a lost runner: fresh fights from the next generation's seed."""
        actors = self._runners()
        try:
            ray.kill(actors[shard])
        except Exception:  # already gone: nothing to end
            log.debug("runner %d was already gone", shard)
        self._generations[shard] += 1
        self.restarts += 1
        lo, hi = self.bounds[shard]
        log.warning(
            "env runner %d (environments %d-%d) was lost (%s): a new one starts fresh episodes "
            "there (%d restart(s) so far)",
            shard,
            lo,
            hi - 1,
            type(error).__name__,
            self.restarts,
        )
        actors[shard] = self._start(shard)
        self._wait_ready([actors[shard]])
        return actors[shard]

    def _gather(self, call: str, args: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Call `call` on every runner at once; None where the runner was lost (replaced)."""
        actors = self._runners()
        refs = [getattr(a, call).remote(*arg) for a, arg in zip(actors, args, strict=True)]
        out: list[Any] = []
        for shard, ref in enumerate(refs):
            try:
                out.append(ray.get(ref))
            except LOST as exc:
                self._replace(shard, exc)
                out.append(None)
        return out

    def close(self) -> None:
        """End the runners now (they also end when this object is garbage-collected); a later
        call starts new ones from the factory."""
        for actor in self._actors or []:
            ray.kill(actor)
        self._actors = None

    # --- the MultiAgentEnv protocol -----------------------------------------------------------
    def reset(self) -> Observation:
        parts = self._gather("reset", [()] * self.runners)
        for shard, part in enumerate(parts):
            if part is None:  # lost and replaced: its new runner's first observation
                parts[shard] = ray.get(self._runners()[shard].reset.remote())
        self._last_obs = cast(Observation, _concat(parts))
        return self._last_obs

    def step(self, actions: NDArray[np.integer]) -> tuple[Observation, StepResult]:
        actions = np.asarray(actions)
        if actions.shape[0] != self.n_envs:
            raise ValueError(f"actions must have {self.n_envs} rows, got {actions.shape}")
        parts = self._gather("step", [(actions[lo:hi],) for lo, hi in self.bounds])
        answered = [p for p in parts if p is not None]
        if self._template is None and answered:  # shapes and types only: no rows kept
            self._template = cast(StepResult, _blank(answered[0][1], 0))
        obs_parts: list[Observation] = []
        results: list[StepResult] = []
        for shard, part in enumerate(parts):
            lo = self.bounds[shard][0]
            if part is None:
                obs_parts.append(ray.get(self._runners()[shard].reset.remote()))
                results.append(self._ended(shard))
                continue
            obs, result = part
            obs_parts.append(obs)
            episodes = dataclasses.replace(
                result.episodes, env_index=result.episodes.env_index + lo
            )
            results.append(dataclasses.replace(result, episodes=episodes))
        self._last_obs = cast(Observation, _concat(obs_parts))
        return self._last_obs, cast(StepResult, _concat(results))

    def _ended(self, shard: int) -> StepResult:
        """A lost runner's step: its fights end as at a time limit, at the last state seen."""
        if self._template is None:
            raise RayClusterError("every env runner was lost before its first step")
        lo, hi = self.bounds[shard]
        blank = cast(StepResult, _blank(self._template, hi - lo))
        blank.done[:] = True
        blank.truncated[:] = True
        if self._last_obs is not None:
            blank.terminal_global_state = self._last_obs.global_state[lo:hi].copy()
            blank.terminal_pack_mask = self._last_obs.pack_mask[lo:hi].copy()
        return blank

    def set_pack_size(self, pack_size: int | tuple[int, int]) -> None:
        """Pack sizes drawn at the next resets, on every runner (the 2 -> 5 curriculum)."""
        self._pack_size = pack_size
        if isinstance(self._prototype, SupportsPackSize):
            self._prototype.set_pack_size(pack_size)
        if self._actors is not None:
            self._gather("set_pack_size", [(pack_size,)] * self.runners)

    def summarize(self, episodes: EpisodeStats) -> dict[str, float]:
        """The environment's own summary, and `runner_restarts`: lost runners replaced so far."""
        return {**self._prototype.summarize(episodes), "runner_restarts": float(self.restarts)}

    # --- checkpoints --------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k != "_actors"}
        state["_actors"] = None
        if self._actors is not None:
            try:
                state["_envs"] = ray.get([a.get_env.remote() for a in self._actors])
            except Exception as exc:  # an environment that does not pickle, a lost runner
                raise TypeError(
                    f"RayVecEnv: its runners' environments do not pickle ({exc})"
                ) from exc
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


def _concat(parts: Sequence[Any]) -> Any:
    """Parts of E split over the runners as one: arrays concatenated on their first axis, episode
    rows appended, nested dataclasses (a subclass's extra fields) and dicts field by field."""
    first = parts[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(parts)
    if isinstance(first, EpisodeStats):
        return concat_episodes(parts)
    if dataclasses.is_dataclass(first) and not isinstance(first, type):
        values = {
            f.name: _concat([getattr(p, f.name) for p in parts])
            for f in dataclasses.fields(first)
            if f.init
        }
        return type(first)(**values)
    if isinstance(first, dict):
        return {k: _concat([p[k] for p in parts]) for k in first}
    if all(p == first for p in parts):
        return first
    raise TypeError(f"cannot join the runners' {type(first).__name__} values {parts!r}")


def _blank(template: Any, n: int) -> Any:
    """`template` for n environments, all zeros (episode rows: none)."""
    if isinstance(template, np.ndarray):
        return np.zeros((n, *template.shape[1:]), template.dtype)
    if isinstance(template, EpisodeStats):
        none = np.zeros(len(template.env_index), bool)
        columns = {
            f.name: getattr(template, f.name)[none]
            for f in dataclasses.fields(template)
            if f.init and f.name != "extra"
        }
        extra = {k: v[none] for k, v in template.extra.items()}
        return type(template)(**columns, extra=extra)
    if dataclasses.is_dataclass(template) and not isinstance(template, type):
        values = {
            f.name: _blank(getattr(template, f.name), n)
            for f in dataclasses.fields(template)
            if f.init
        }
        return type(template)(**values)
    if isinstance(template, dict):
        return {k: _blank(v, n) for k, v in template.items()}
    return template


# --- measurement ----------------------------------------------------------------------------
def measure_env_runners(
    runners: int,
    n_envs: int = 64,
    rollout_length: int = 64,
    updates: int = 4,
    algorithm: str = "mappo",
    address: str | None = None,
) -> dict[str, float]:
    """Env steps per second of `algorithm` training on the contract simulator with `runners` env
    runners (0: in this process), over `updates` updates after a first one (the warm-up, which
    starts the runners: `first_update_s`); with runners, the cost of Ray's round trip per step
    (`_round_trip`). Starts (or reuses) Ray through models.rllib.cluster.connect."""
    from models.training.loop import Trainer

    settings = TrainingSettings(
        n_envs=n_envs,
        rollout_length=rollout_length,
        total_updates=updates + 1,
        eval_every=0,
        num_env_runners=runners,
        ray_address=address or "",
    )
    trainer = Trainer(algorithm, settings=settings)
    timed = _TimedSteps(trainer.env)
    trainer.algorithm.env = cast(MultiAgentEnv, timed)
    started = time.perf_counter()
    trainer.step()  # warm-up: the runners start
    first = time.perf_counter() - started
    timed.seconds = 0.0
    started = time.perf_counter()
    for _ in range(updates):
        trainer.step()
    seconds = time.perf_counter() - started
    env_steps = updates * rollout_length * n_envs
    out = {
        "runners": float(runners),
        "env_steps_per_s": env_steps / seconds,
        "seconds_per_update": seconds / updates,
        "env_step_seconds_per_update": timed.seconds / updates,
        "first_update_s": first,
    }
    if isinstance(trainer.env, RayVecEnv):
        out.update(_round_trip(trainer.env, steps=rollout_length))
        trainer.env.close()
    return out


class _TimedSteps:
    """An environment whose `step` adds its seconds to `seconds` (everything else forwarded)."""

    def __init__(self, env: MultiAgentEnv) -> None:
        self.env = env
        self.seconds = 0.0

    def step(self, actions: NDArray[np.integer]) -> tuple[Observation, StepResult]:
        tick = time.perf_counter()
        try:
            return self.env.step(actions)
        finally:
            self.seconds += time.perf_counter() - tick

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)


def _round_trip(env: RayVecEnv, steps: int) -> dict[str, float]:
    """Milliseconds: an empty call to every runner at once (Ray's round trip alone); a step of
    `env`; the same fights stepped in this process (the runners' environments built here from the
    same seeds), with the same actions."""
    local = [
        env.factory(n_envs=hi - lo, seed=shard_seed(env.seed, k))
        for k, (lo, hi) in enumerate(env.bounds)
    ]
    actors = env._runners()
    tick = time.perf_counter()
    for _ in range(steps):
        ray.get([a.ready.remote() for a in actors])
    empty_s = time.perf_counter() - tick
    rng = np.random.default_rng(0)
    obs = env.reset()
    for shard in local:
        shard.reset()
    remote_s = local_s = 0.0
    for _ in range(steps):
        actions = _random_actions(obs, rng)
        tick = time.perf_counter()
        obs, _ = env.step(actions)
        remote_s += time.perf_counter() - tick
        tick = time.perf_counter()
        for shard, (lo, hi) in zip(local, env.bounds, strict=True):
            shard.step(actions[lo:hi])
        local_s += time.perf_counter() - tick
    return {
        "empty_call_ms": 1e3 * empty_s / steps,
        "ray_step_ms": 1e3 * remote_s / steps,
        "local_step_ms": 1e3 * local_s / steps,
    }


def _random_actions(obs: Observation, rng: np.random.Generator) -> NDArray[np.int64]:
    """A valid action per slot, uniformly among its allowed ones."""
    scores = rng.random(obs.action_mask.shape) * obs.action_mask
    return np.asarray(scores.argmax(axis=2), dtype=np.int64)


__all__ = [
    "EnvRunner",
    "RayVecEnv",
    "ShardFactory",
    "TrainerEnvFactory",
    "measure_env_runners",
    "shard_bounds",
    "shard_seed",
]
