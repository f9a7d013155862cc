"""The contract simulator as an RLlib multi-agent environment, and RLlib's policies as served
actors: no Ray cluster needed (tests/test_rllib.py trains on one)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch

from config.model_types import COMBAT, PACK_COORDINATION
from models.export.onnx import export_actor
from models.rllib.actor import RLlibActor
from models.rllib.env import ContractPackEnv
from models.rllib.spaces import action_count, observation_width, spaces


def test_agents_live_as_their_monsters_and_ids_never_return() -> None:
    """An agent is in the dicts while its monster lives; death terminates it with its reward; an
    ended fight's monsters leave and its next fight's enter under new ids; no id comes back."""
    env = ContractPackEnv({"fights": 6, "seed": 3, "model_type": COMBAT, "horizon": 500})
    obs, _ = env.reset()
    live = set(obs)
    gone: set[str] = set()
    rng = np.random.default_rng(0)
    deaths = ends = 0
    for _ in range(300):
        actions = {a: int(rng.integers(action_count(COMBAT))) for a in live}
        obs, rewards, terminated, truncated, _ = env.step(actions)
        assert set(rewards) == live  # every agent that acted gets its reward
        done = {a for a in live if terminated[a] or truncated[a]}
        for agent in done:
            assert obs[agent].shape == (observation_width(COMBAT),)  # a final observation
        deaths += sum(terminated[a] for a in done)
        ends += sum(truncated[a] for a in done)
        entering = set(obs) - live
        assert entering.isdisjoint(gone)  # ids are never reused
        gone |= done
        live = (live - done) | entering
        assert live == {a for a in obs if a not in done}
    assert deaths > 0
    assert not terminated["__all__"]


def test_the_window_truncates_every_fighting_monster_with_its_observation() -> None:
    env = ContractPackEnv({"fights": 4, "seed": 1, "model_type": PACK_COORDINATION, "horizon": 3})
    obs, _ = env.reset()
    for _ in range(3):
        obs, _, terminated, truncated, _ = env.step({a: 0 for a in obs if "__" not in a})
    assert truncated["__all__"]
    fighting = [a for a in truncated if a != "__all__" and not terminated[a]]
    assert fighting
    assert all(truncated[a] for a in fighting)
    assert all(obs[a].shape == (observation_width(PACK_COORDINATION),) for a in fighting)
    # The next RLlib episode goes on with the same fights under new ids.
    again, _ = env.reset()
    assert again
    assert not set(again) & set(truncated)


def test_observations_are_the_contract_floats_then_the_signals() -> None:
    env = ContractPackEnv({"fights": 3, "seed": 2, "model_type": PACK_COORDINATION})
    obs, _ = env.reset()
    sim_obs = env._obs
    assert sim_obs is not None
    for agent, x in obs.items():
        fight, _, slot = (int(p) for p in agent.split(":"))
        assert np.array_equal(x[:64], sim_obs.local_obs[fight, slot])
        assert np.array_equal(x[64:], sim_obs.signals[fight, slot])


def test_finished_fights_are_reported_once() -> None:
    env = ContractPackEnv({"fights": 8, "seed": 5, "model_type": COMBAT, "max_steps": 20})
    obs, _ = env.reset()
    for _ in range(60):
        obs, *_ = env.step({a: 10 for a in obs})  # DEFER: the traditional AI fights
    episodes = env.take_finished()
    assert episodes is not None
    assert len(episodes.env_index) >= 8
    assert env.take_finished() is None


def test_unknown_env_config_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="figths"):
        ContractPackEnv({"figths": 4})


def default_module(algorithm: str, model_type: str) -> Any:
    """RLlib's default torch module of `algorithm` for one monster's spaces, untrained."""
    from ray.rllib.algorithms.appo import APPOConfig
    from ray.rllib.algorithms.dqn import DQNConfig
    from ray.rllib.algorithms.impala import IMPALAConfig
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.algorithms.sac import SACConfig

    configs = {
        "ppo": PPOConfig,
        "appo": APPOConfig,
        "impala": IMPALAConfig,
        "dqn": DQNConfig,
        "sac": SACConfig,
    }
    config = configs[algorithm]()
    config.rl_module(model_config={"fcnet_hiddens": [32, 32], "head_fcnet_hiddens": []})
    spec = config.get_default_rl_module_spec()
    spec.observation_space, spec.action_space = spaces(model_type)
    spec.model_config = config.model_config
    torch.manual_seed(0)
    return spec.build()


def module_logits(algorithm: str, module: Any, obs: torch.Tensor) -> torch.Tensor:
    """What RLlib itself computes from `obs`: the action distribution's inputs, or Q-values."""
    with torch.no_grad():
        if algorithm == "dqn":
            return module.compute_q_values({"obs": obs})["qf_preds"]  # type: ignore[no-any-return]
        return module.forward_inference({"obs": obs})["action_dist_inputs"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("algorithm", ["ppo", "appo", "impala", "dqn", "sac"])
@pytest.mark.parametrize("model_type", [PACK_COORDINATION, COMBAT])
def test_the_served_actor_computes_what_rllib_computes(algorithm: str, model_type: str) -> None:
    module = default_module(algorithm, model_type)
    actor = RLlibActor.from_module(
        module, action_dim=action_count(model_type), use_signals=model_type != COMBAT
    )
    obs = torch.randn(33, observation_width(model_type))
    state, signals = obs[:, :64], obs[:, 64:] if model_type != COMBAT else torch.zeros(33, 32)
    logits, hidden = actor.logits(state, signals)
    assert hidden is None
    assert torch.allclose(logits, module_logits(algorithm, module, obs), atol=1e-6)


def test_an_rllib_policy_exports_through_the_verified_exporter() -> None:
    """FP32 parity, FP16 and INT8 agreement as for the product's actor, and the worker's inputs:
    the combat policy keeps a `signals` input it ignores."""
    for model_type in (PACK_COORDINATION, COMBAT):
        module = default_module("ppo", model_type)
        actor = RLlibActor.from_module(
            module, action_dim=action_count(model_type), use_signals=model_type != COMBAT
        )
        exported = export_actor(actor, agreement_samples=512)
        exported.check_thresholds()
        session = ort.InferenceSession(exported.onnx_fp32, providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == ["state", "signals"]
        assert [o.name for o in session.get_outputs()] == ["action_probs"]
        assert exported.hidden_dim == 0
        assert exported.action_dim == action_count(model_type)
