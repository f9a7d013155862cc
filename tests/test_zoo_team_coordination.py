"""team_coordination: the LSTM pack actor's cell, state layout and serving signature, its MAPPO
hook, the archetype's seats in the contract fights, and that a tiny training learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from config.zoo import archetype_training
from models.algorithms.mappo import MAPPO
from models.envs.contract_combat.env import VICTORY
from models.envs.contract_combat.traditional import TraditionalPolicy
from models.networks.ctde import DecentralizedActor
from models.training.settings import TrainingSettings
from models.zoo.base import NoCheckpoints, ZooSettings
from models.zoo.tasks.lstm_actor import LSTMMAPPO, GateLSTMCell, LSTMActor, LSTMServing
from models.zoo.tasks.team_coordination import (
    EVAL_SEED,
    TASK,
    ArchetypeSeats,
    play,
    training_config,
)
from plpython.state_contract import ARCHETYPES
from plpython.zoo_types import PACK_ACTIONS, ZOO_TYPES

SPEC = ZOO_TYPES["team_coordination"]


def test_gate_cell_is_pytorchs_lstm_cell() -> None:
    torch.manual_seed(0)
    cell, reference = GateLSTMCell(5, 4), torch.nn.LSTMCell(5, 4)
    w = cell.gates.weight.detach()
    with torch.no_grad():
        reference.weight_ih.copy_(w[:, :5])
        reference.weight_hh.copy_(w[:, 5:])
        reference.bias_ih.copy_(cell.gates.bias)
        reference.bias_hh.zero_()
    x, h, c = torch.randn(3, 5), torch.randn(3, 4), torch.randn(3, 4)
    got = cell(x, h, c)
    want = reference(x, (h, c))
    torch.testing.assert_close(got[0], want[0])
    torch.testing.assert_close(got[1], want[1])


def test_serving_signature_and_state_layout() -> None:
    torch.manual_seed(0)
    actor = LSTMActor(units=8, layers=3).eval()
    serving = LSTMServing(actor).eval()
    assert actor.hidden_dim == serving.hidden_dim == 2 * 3 * 8
    rng = np.random.default_rng(0)
    state, signals = torch.rand(4, SPEC.input_dim - 32), torch.rand(4, 32)
    hidden = torch.as_tensor(rng.uniform(-1, 1, (4, actor.hidden_dim)), dtype=torch.float32)
    with torch.no_grad():
        out = serving(torch.cat([state, signals, hidden], dim=1))
        # The same step by hand: layer k reads h_k (column block k) and c_k (block 3 + k).
        blocks = torch.split(hidden, 8, dim=1)
        x = actor.state_encoder(state)
        hs, cs = [], []
        for k, cell in enumerate(actor.cells):
            x, c = cell(x, blocks[k], blocks[3 + k])
            hs.append(x)
            cs.append(c)
        probs = torch.softmax(actor.decision(torch.cat([x, actor.signal_encoder(signals)], 1)), 1)
    assert out.shape == (4, SPEC.output_dim + actor.hidden_dim)
    torch.testing.assert_close(out[:, :PACK_ACTIONS], probs)
    torch.testing.assert_close(out[:, PACK_ACTIONS:], torch.cat(hs + cs, dim=1))
    torch.testing.assert_close(out[:, :PACK_ACTIONS].sum(1), torch.ones(4))


def test_full_size_is_the_seeds() -> None:
    module = TASK.build("tank", "full")
    assert isinstance(module, LSTMServing)
    assert (module.actor.layers, module.actor.units, module.hidden_dim) == (3, 256, 1536)


def _algorithm(cls: type[MAPPO]) -> MAPPO:
    config = training_config("aggressive", "tiny", None, 16)
    settings = TrainingSettings(n_envs=2, rollout_length=4, chunk_length=2)
    return cls(config, settings, ArchetypeSeats(2, 0, "aggressive"))


def test_mappo_hook_builds_the_gru_actor_unless_overridden() -> None:
    assert type(_algorithm(MAPPO).actor) is DecentralizedActor
    algorithm = _algorithm(LSTMMAPPO.with_layers(2))
    actor = algorithm.actor
    assert isinstance(actor, LSTMActor)
    assert (actor.layers, actor.units, actor.hidden_dim) == (2, 16, 64)
    iteration = algorithm.iterate()  # MAPPO's rollout and update carry the LSTM state
    assert iteration.env_steps == 8


def test_seats_are_the_archetypes_living_monsters() -> None:
    env = ArchetypeSeats(16, 3, "mage")
    obs = env.reset()
    m = env.env.monsters
    assert (obs.agent_mask == ((m.arch == 3) & m.alive)).all()
    assert not obs.local_obs[~obs.agent_mask].any()
    assert obs.action_mask[~obs.agent_mask].sum(1).max() == 1
    assert obs.action_mask[~obs.agent_mask][:, 0].all()


def _run(env: ArchetypeSeats, actions: int, steps: int) -> tuple[np.ndarray, list[float]]:
    env.reset()
    rewards, returns = [], []
    for _ in range(steps):
        _, result = env.step(np.full((env.n_envs, 5), actions))
        rewards.append(result.agent_rewards)
        returns += list(result.episodes.team_return)
    return np.stack(rewards), returns


def test_baseline_ignores_the_actions() -> None:
    a = _run(ArchetypeSeats(8, 5, "tank", baseline=True), 0, 30)
    b = _run(ArchetypeSeats(8, 5, "tank", baseline=True), 6, 30)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]


def test_fights_without_the_archetype_are_the_traditional_ais() -> None:
    """The rest of the pack plays the traditional AI with the baseline's draws: where no monster
    of the archetype is present, the model's fight and the baseline's are the same fight (until
    a fight ends somewhere: the simulator's one generator then draws a new fight first)."""
    model, baseline = ArchetypeSeats(32, 7, "support"), ArchetypeSeats(32, 7, "support", True)
    model.reset()
    baseline.reset()
    unseated = ~model.seats.any(1)
    assert unseated.any()
    steps = 0
    while True:
        _, result = model.step(np.full((32, 5), 2))
        _, expected = baseline.step(np.zeros((32, 5), np.int64))
        if len(result.episodes.env_index) or len(expected.episodes.env_index):
            break
        np.testing.assert_array_equal(
            result.terminal_global_state[unseated], expected.terminal_global_state[unseated]
        )
        steps += 1
    assert steps >= 5


def test_baseline_is_the_traditional_ai_alone() -> None:
    """With baseline=True the fights are the primitives env's under TraditionalPolicy: the same
    win rate over the same seeds."""
    from models.envs.base import evaluate_policy
    from models.envs.contract_combat.env import ContractCombatEnv

    env = ArchetypeSeats(8, 11, "ranged", baseline=True)
    wins = []
    env.reset()
    seen = np.zeros(8, bool)
    while not seen.all():
        _, result = env.step(np.zeros((8, 5), np.int64))
        ep = result.episodes
        first = ~seen[ep.env_index]
        wins += list(ep.extra["outcome"][first] == VICTORY)
        seen[ep.env_index[first]] = True
    plain = ContractCombatEnv(8, seed=11, max_steps=env.env.max_steps)
    policy = TraditionalPolicy(plain, seed=12)
    assert evaluate_policy(policy, plain)["win_rate"] == pytest.approx(np.mean(wins))


def test_episode_return_is_the_seated_monsters_mean() -> None:
    env = ArchetypeSeats(8, 2, "aggressive")
    env.reset()
    total = np.zeros((8, 5))
    checked = 0
    for _ in range(80):
        seats = env.seats.copy()
        _, result = env.step(np.full((8, 5), 3))
        total += result.agent_rewards
        ep = result.episodes
        for row, value in zip(ep.env_index, ep.extra["archetype_return"], strict=True):
            if seats[row].any():
                assert value == pytest.approx(total[row][seats[row]].mean(), rel=1e-4, abs=1e-3)
                checked += 1
            total[row] = 0.0
    assert checked > 0


def test_example_inputs_are_seated_contract_rows() -> None:
    x = TASK.example_inputs("defensive", 40, 0)
    assert x.shape == (40, SPEC.input_dim)
    assert np.isfinite(x).all()
    assert (x[:, :64].any(1)).all()  # living monsters' floats, not padding


def test_tiny_training_beats_the_untrained_actor() -> None:
    """Three PPO updates on the tank's reward move the actor off its untrained answers: more
    reward on held-out fights than the same network before training."""
    settings = ZooSettings(profile="tiny", seed=0, epochs=3, num_episodes=32)
    torch.manual_seed(0)  # train() seeds torch with settings.seed: the same initial network
    untrained = TASK.build("tank", "tiny")
    trained = TASK.train("tank", settings, {}, None, NoCheckpoints())
    assert trained.hidden_dim == 2 * 32
    assert 1 <= trained.notes["updates"] <= 3
    after = TASK.evaluate("tank", trained.module, settings)
    before = play(untrained, ArchetypeSeats(32, EVAL_SEED + ARCHETYPES.index("tank"), "tank"))
    assert after.episodes == before.seated.sum() > 0
    assert after.avg_episode_reward is not None
    scale = archetype_training("tank").reward_scale
    assert after.avg_episode_reward > before.returns[before.seated].mean() * scale
    assert after.action_count == PACK_ACTIONS
    assert 0.0 <= (after.action_entropy_bits or 0.0) <= np.log2(PACK_ACTIONS)
