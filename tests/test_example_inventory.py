"""The multi-warehouse inventory example (examples/inventory.py): its cost accounting, its
reference policies and its command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from examples.inventory import (
    UNIT,
    BaseStockPolicy,
    InventoryEnv,
    RandomPolicy,
)
from models.envs.base import MultiAgentEnv, evaluate_policy

ROOT = Path(__file__).resolve().parent.parent


def test_one_scripted_day_costs_what_the_rules_say() -> None:
    env = InventoryEnv(1, seed=0, episode_days=1)
    assert isinstance(env, MultiAgentEnv)
    env.reset()
    env.stock[0] = [2.0, 0.0, 5.0, 1.0, 3.0]
    env.pipeline[0] = [[0.5, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [2.0, 0.0]]
    actions = np.zeros((1, 5, 2))
    actions[0, :, 0] = [1.0, 0.0, 0.5, 0.0, 0.0]  # orders: 3, 0, 1.5, 0, 0 units
    actions[0, :, 1] = [0.0, 0.0, 0.5, 0.0, 1.0]  # transfers: 1 unit, and 2 asked of 3 in stock
    demand = np.array([[1.0, 2.0, 3.0, 0.0, 4.0]])
    _, result = env.advance(actions, demand)

    # By hand, per warehouse: stock - transfer, then demand; unmet at $10, shipped at $0.50,
    # end-of-day stock held at $0.10.
    #   0: 2 - 0 = 2, demand 1 -> 1 left        ship 3     -> 1.50 + 0.10        = 1.60
    #   1: 0, demand 2 -> 2 unmet                           -> 20.00             = 20.00
    #   2: 5 - 1 = 4, demand 3 -> 1 left        ship 1.5+1 -> 1.25 + 0.10        = 1.35
    #   3: 1, demand 0 -> 1 left                            -> 0.10              = 0.10
    #   4: 3 - 2 = 1, demand 4 -> 3 unmet       ship 2     -> 30.00 + 1.00       = 31.00
    costs = env.last_costs
    np.testing.assert_allclose(costs.stockout[0], [0.0, 20.0, 0.0, 0.0, 30.0])
    np.testing.assert_allclose(costs.shipping[0], [1.5, 0.0, 1.25, 0.0, 1.0])
    np.testing.assert_allclose(costs.holding[0], [0.1, 0.0, 0.1, 0.1, 0.0])
    total = 1.60 + 20.0 + 1.35 + 0.10 + 31.0
    np.testing.assert_allclose(result.team_reward, [-total / 10], rtol=1e-6)
    np.testing.assert_allclose(result.agent_rewards[0], np.full(5, -total / 10), rtol=1e-6)

    # Overnight: the orders due (0.5, 1, 0, 0, 2) and the transfers (4 -> 0: 2, 2 -> 3: 1)
    # arrive; today's orders are one day from arriving.
    assert result.done.all()
    assert not result.truncated.any()  # the period's end is a termination
    terminal = result.terminal_global_state[0].astype(np.float64) * UNIT
    np.testing.assert_allclose(terminal[:, 0], [3.5, 1.0, 1.0, 2.0, 2.0], rtol=1e-6)
    np.testing.assert_allclose(terminal[:, 1], [3.0, 0.0, 1.5, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(terminal[:, 3], [2.0, 0.0, 0.0, 1.0, 0.0], rtol=1e-6)

    # The one-day episode: its cost in dollars and 2 stockout warehouse-days of 5.
    summary = env.summarize(result.episodes)
    assert summary["cost"] == pytest.approx(total)
    assert summary["stockout_rate"] == pytest.approx(40.0)


def test_refuses_actions_outside_the_unit_box() -> None:
    env = InventoryEnv(2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        env.step(np.full((2, 5, 2), 1.5))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((2, 5)))


def test_base_stock_beats_random_decisions() -> None:
    base = evaluate_policy(BaseStockPolicy(), InventoryEnv(64, seed=7))
    random = evaluate_policy(RandomPolicy(0), InventoryEnv(64, seed=7))
    assert base["episodes"] == 64
    assert base["cost"] < random["cost"]
    assert 0.0 <= base["stockout_rate"] <= 100.0


def test_the_command_prints_the_before_after_table() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "examples.inventory", "--episodes", "16", "--seed", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,  # a hang guard, not a speed requirement
        check=False,
    )
    assert out.returncode == 0, out.stderr
    for line in (
        "random decisions (before)",
        "MADDPG untrained (before)",
        "base-stock heuristic",
        "MADDPG after 16 episodes",
        "cost $/episode",
    ):
        assert line in out.stdout, out.stdout
    rows = [row for row in out.stdout.splitlines() if row.startswith("| ") and "%" in row]
    assert len(rows) == 4
