"""Where training runs (models/rllib/cluster.py) and the in-house algorithms' rollouts on Ray
actors (models/rllib/remote_env.py), on one local Ray started once for the module.

The local Ray is started as on a fresh CI machine: an empty HOME (no ~/.ray/auth_token yet, Ray
2.60's token authentication creates it). Everything it starts listens and connects on 127.0.0.1;
Ray's dashboard process probes the cloud's metadata addresses once at start-up (usage-statistics
module, even with usage statistics off); `connect` starts a local Ray with its processes' HTTP
proxy on a closed loopback port, so no connection leaves the machine's loopback.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import pickle
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import ray

from models.envs.base import EpisodeStats, Observation, StepResult, SupportsPackSize
from models.envs.contract_combat.env import ContractCombatEnv
from models.rllib.cluster import (
    ADDRESS_ENV,
    PROBE_TIMEOUT_S,
    ClusterInfo,
    RayClusterError,
    connect,
    require_resources,
)
from models.rllib.remote_env import (
    LOST,
    RayVecEnv,
    TrainerEnvFactory,
    _random_actions,
    shard_bounds,
    shard_seed,
)
from models.training.loop import Trainer
from models.training.settings import TrainingSettings

# What an operator's shell may carry that would point this module's Ray elsewhere.
_RAY_ENV = ("RAY_ADDRESS", ADDRESS_ENV, "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


@pytest.fixture(scope="module")
def fresh_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def cluster(fresh_home: Path) -> Iterator[ClusterInfo]:
    """One local Ray of 2 CPUs for the module, started through `connect` (ray.shutdown after;
    the environment as it was after that)."""
    assert not ray.is_initialized(), "another test left Ray running"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(fresh_home))
        for var in _RAY_ENV:
            mp.delenv(var, raising=False)
        info = connect(num_cpus=2)
        try:
            yield info
        finally:
            ray.shutdown()
            forget_auth_token()


def forget_auth_token() -> None:
    """Ray keeps the token it read in the process (its C++ token loader): with HOME back, the next
    local Ray of this process (another test module's) must read the token of that HOME, not this
    module's fresh one, or its own GCS refuses it (InvalidAuthToken)."""
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


@pytest.fixture
def runners(cluster: ClusterInfo) -> Iterator[list[RayVecEnv]]:
    """The RayVecEnvs a test made, their runners ended after it even when it fails (a failed
    test's runners would otherwise hold the cluster's 2 CPUs while pytest keeps its frame)."""
    made: list[RayVecEnv] = []
    yield made
    for env in made:
        env.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- cluster.py ---------------------------------------------------------------------------------
def test_connect_starts_a_local_ray_once(cluster: ClusterInfo, fresh_home: Path) -> None:
    assert cluster.local
    assert not cluster.reused
    assert cluster.address.startswith("127.0.0.1:")
    assert (cluster.nodes, cluster.cpus, cluster.gpus) == (1, 2.0, 0.0)
    assert cluster.startup_s > 0
    assert cluster.driver_memory_mb > 0
    # A fresh machine: token authentication on, its token created in the (empty) home.
    assert (fresh_home / ".ray" / "auth_token").stat().st_size > 0
    again = connect()
    assert again.reused
    assert again.startup_s == 0.0
    assert (again.address, again.local, again.cpus) == (cluster.address, True, 2.0)


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_unreachable_cluster_fails_at_once(
    cluster: ClusterInfo, scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = f"{scheme}127.0.0.1:{closed_port()}"
    started = time.perf_counter()
    with pytest.raises(RayClusterError, match="cannot be reached") as caught:
        connect(address)
    assert address in str(caught.value)
    # From the environment variable, as a job without training.ray_address reads it.
    monkeypatch.setenv(ADDRESS_ENV, address)
    with pytest.raises(RayClusterError) as caught:
        connect()
    assert address in str(caught.value)
    # A training run names its cluster in training.ray_address: it fails as it is built.
    settings = TrainingSettings(n_envs=4, num_env_runners=1, ray_address=address)
    with pytest.raises(RayClusterError, match="cannot be reached"):
        Trainer("mappo", settings=settings)
    assert time.perf_counter() - started < 3 * PROBE_TIMEOUT_S
    with pytest.raises(RayClusterError, match="not host:port"):
        connect("127.0.0.1")


def test_require_resources_names_what_is_missing(cluster: ClusterInfo) -> None:
    require_resources(cpus=2, gpus=0)
    with pytest.raises(RayClusterError) as caught:
        require_resources(cpus=1, gpus=1)
    message = str(caught.value)
    assert "asks for 1 CPUs and 1 GPUs" in message
    assert "has 2 CPUs and 0 GPUs" in message
    assert "short of 1 GPUs (it has 0)" in message
    with pytest.raises(RayClusterError, match="short of 3 CPUs"):
        require_resources(cpus=3, gpus=0)


# --- remote_env.py ------------------------------------------------------------------------------
def test_settings_and_splits() -> None:
    assert TrainingSettings().num_env_runners == 0
    assert TrainingSettings().ray_address == ""
    with pytest.raises(ValueError, match="num_env_runners"):
        TrainingSettings(num_env_runners=-1)
    assert shard_bounds(64, 2) == [(0, 32), (32, 64)]
    assert shard_bounds(5, 2) == [(0, 2), (2, 5)]
    with pytest.raises(ValueError, match="num_env_runners"):
        shard_bounds(2, 3)
    assert shard_seed(7, 0) == 7
    seeds = {shard_seed(7, k, g) for k in range(3) for g in range(3)}
    assert len(seeds) == 9
    assert max(seeds) < 2**31


def assert_same(remote: Any, local: Any, path: str = "") -> None:
    """Field by field, arrays exactly (a subclass's extra fields included)."""
    assert type(remote) is type(local), path
    if isinstance(local, np.ndarray):
        np.testing.assert_array_equal(remote, local, err_msg=path)
        assert remote.dtype == local.dtype, path
    elif dataclasses.is_dataclass(local):
        for f in dataclasses.fields(local):
            assert_same(getattr(remote, f.name), getattr(local, f.name), f"{path}.{f.name}")
    elif isinstance(local, dict):
        assert remote.keys() == local.keys(), path
        for k in local:
            assert_same(remote[k], local[k], f"{path}[{k}]")
    else:
        assert remote == local, path


def joined(parts: list[Any], offsets: list[int]) -> Any:
    """The local shards' observations or results as one (episode rows shifted by hand)."""
    first = parts[0]
    if isinstance(first, EpisodeStats):
        rows = [
            dataclasses.replace(p, env_index=p.env_index + o)
            for p, o in zip(parts, offsets, strict=True)
        ]
        return type(first)(
            **{
                f.name: np.concatenate([getattr(p, f.name) for p in rows])
                for f in dataclasses.fields(first)
                if f.name != "extra"
            },
            extra={k: np.concatenate([p.extra[k] for p in rows]) for k in first.extra},
        )
    if isinstance(first, np.ndarray):
        return np.concatenate(parts)
    return type(first)(
        **{
            f.name: joined([getattr(p, f.name) for p in parts], offsets)
            for f in dataclasses.fields(first)
        }
    )


def test_runners_play_the_trainers_fights(runners: list[RayVecEnv]) -> None:
    """Two runners step exactly what the trainer's own environment steps from the shards' seeds:
    observations, rewards, ends and episode rows, through auto-resets and a pack-size change."""
    settings = TrainingSettings(n_envs=7, max_steps=6, seed=11, eval_every=0)
    trainer = Trainer("mappo", settings=settings)
    pack = (2, 5)
    bounds = shard_bounds(7, 2)
    local = [
        trainer._make_env(
            dataclasses.replace(settings, n_envs=hi - lo, seed=shard_seed(11, k)), pack
        )
        for k, (lo, hi) in enumerate(bounds)
    ]
    remote = RayVecEnv(
        TrainerEnvFactory(trainer.config, dataclasses.replace(settings, num_env_runners=2), pack),
        7,
        2,
        seed=11,
        pack_size=pack,
    )
    runners.append(remote)
    offsets = [lo for lo, _ in bounds]
    obs = remote.reset()
    assert_same(obs, joined([env.reset() for env in local], offsets))
    rng = np.random.default_rng(0)
    finished = 0
    for t in range(16):
        if t == 8:  # the curriculum's call, forwarded to every runner
            remote.set_pack_size((2, 2))
            for env in local:
                assert isinstance(env, SupportsPackSize)
                env.set_pack_size((2, 2))
        actions = _random_actions(obs, rng)
        obs, result = remote.step(actions)
        steps = [env.step(actions[lo:hi]) for env, (lo, hi) in zip(local, bounds, strict=True)]
        assert_same(obs, joined([o for o, _ in steps], offsets), f"step {t}")
        assert_same(result, joined([r for _, r in steps], offsets), f"step {t}")
        finished += len(result.episodes.env_index)
    assert finished >= 7  # every fight ended at least once (time limit 6)
    assert obs.pack_mask.sum(axis=1).max() == 2
    assert remote.pack_size == (2, 2)
    assert remote.max_steps == 6
    assert remote.restarts == 0
    summary = remote.summarize(result.episodes) if len(result.episodes.env_index) else {}
    assert summary == {} or summary["runner_restarts"] == 0.0


def test_mappo_trains_and_resumes_through_runners(runners: list[RayVecEnv], tmp_path: Path) -> None:
    """MAPPO through the Trainer with 2 env runners; its checkpoint holds the runners' fights, so
    a trainer resumed from it takes exactly the next update of the one that wrote it."""
    settings = TrainingSettings(
        n_envs=8,
        rollout_length=8,
        total_updates=2,
        max_steps=10,
        eval_every=0,
        checkpoint_every=1,
        num_env_runners=2,
    )
    first = Trainer("mappo", settings=settings)
    assert isinstance(first.env, RayVecEnv)
    runners.append(first.env)
    assert first.env.runners == 2
    history = first.train(tmp_path)
    assert len(history.updates) == 2
    assert first.env_steps == 2 * 8 * 8
    assert all(np.isfinite(r["policy_loss"]) for r in history.updates if "policy_loss" in r)
    ahead = first.step()
    first.env.close()  # its runners' CPUs, for the resumed trainer's

    resumed = Trainer("mappo", settings=settings)
    resumed.load_checkpoint(tmp_path / "latest.pt")
    assert isinstance(resumed.env, RayVecEnv)
    runners.append(resumed.env)
    assert resumed.env is not first.env
    again = resumed.step()
    timing = {"env_steps_per_s", "samples_per_s"}
    assert {k: v for k, v in again.items() if k not in timing} == {
        k: v for k, v in ahead.items() if k not in timing
    }
    # Evaluation plays in this process.
    assert not isinstance(resumed.make_env(4, 99), RayVecEnv)


def _kill(actor: Any) -> None:
    """Kill a runner and wait until it is gone: `ray.kill` only sends the order, and a call
    submitted right after it may still be answered by the dying actor."""
    ray.kill(actor)
    for _ in range(600):
        try:
            ray.get(actor.ready.remote(), timeout=10)
        except LOST:
            return
        time.sleep(0.05)
    raise AssertionError("the killed runner still answers after 30 s")


def test_a_killed_runner_is_replaced_and_counted(
    runners: list[RayVecEnv], caplog: pytest.LogCaptureFixture
) -> None:
    factory = functools.partial(ContractCombatEnv, max_steps=10)
    env = RayVecEnv(factory, 6, 2, seed=5)
    runners.append(env)
    survivor = factory(n_envs=3, seed=shard_seed(5, 1))
    rng = np.random.default_rng(1)
    obs = env.reset()
    survivor.reset()
    for _ in range(2):
        actions = _random_actions(obs, rng)
        obs, _ = env.step(actions)
        survivor.step(actions[3:])
    _kill(env.actors[0])
    actions = _random_actions(obs, rng)
    before = obs
    with caplog.at_level(logging.WARNING, logger="models.rllib.remote_env"):
        obs, result = env.step(actions)
    assert env.restarts == 1
    assert any(
        "env runner 0" in r.getMessage() and "lost" in r.getMessage() for r in caplog.records
    )
    # The lost shard's fights ended as at a time limit, at the last state the driver saw ...
    assert result.done[:3].all()
    assert result.truncated[:3].all()
    assert not result.agent_rewards[:3].any()
    assert not (result.episodes.env_index < 3).any()
    np.testing.assert_array_equal(result.terminal_global_state[:3], before.global_state[:3])
    # ... and go on from a new runner's fresh fights (the next generation's seed) ...
    fresh = factory(n_envs=3, seed=shard_seed(5, 0, 1)).reset()
    assert_same(_rows(obs, 0, 3), fresh)
    # ... while the other runner's fights went on untouched.
    kept, kept_result = survivor.step(actions[3:])
    assert_same(_rows(obs, 3, 6), kept)
    np.testing.assert_array_equal(result.agent_rewards[3:], kept_result.agent_rewards)
    obs, result = env.step(_random_actions(obs, rng))  # and the env goes on
    assert result.done.shape == (6,)
    assert env.restarts == 1
    # The count reaches the training record (and the job's progress row) through summarize.
    extra = ("outcome", "kills", "pack_survival", "failed_action_rate", "skills_used")
    episodes = EpisodeStats(
        env_index=np.zeros(1, np.int64),
        length=np.ones(1, np.int64),
        team_return=np.ones(1),
        extra={k: np.zeros(1) for k in (*extra, "deferred_rate")},
    )
    assert env.summarize(episodes)["runner_restarts"] == 1.0


def _rows(obs: Observation, lo: int, hi: int) -> Observation:
    return Observation(**{f.name: getattr(obs, f.name)[lo:hi] for f in dataclasses.fields(obs)})


def test_an_env_that_cannot_pickle_is_refused(cluster: ClusterInfo) -> None:
    """A factory that does not pickle makes the checkpoint leave the environment out (the
    trainer's rule for such envs: a resume then starts fresh episodes)."""

    def factory(*, n_envs: int, seed: int) -> ContractCombatEnv:
        return ContractCombatEnv(n_envs, seed=seed)

    env = RayVecEnv(factory, 4, 2)  # its runners start at first use: none here
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        pickle.dumps(env)


def test_step_result_types_survive(runners: list[RayVecEnv]) -> None:
    """A subclass's extra fields come back (the pack simulator's PackStepResult)."""
    from models.envs.pack_combat.simulator import PackCombatEnv, PackStepResult

    env = RayVecEnv(functools.partial(PackCombatEnv, max_steps=5), 4, 2, seed=3)
    runners.append(env)
    obs = env.reset()
    _, result = env.step(_random_actions(obs, np.random.default_rng(0)))
    assert isinstance(result, PackStepResult)
    assert isinstance(result, StepResult)
    assert result.terms.team.shape == (4,)
