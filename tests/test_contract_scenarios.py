"""Named scenarios of the contract simulator: "standard" draws exactly what the simulator drew
before scenarios existed, every scenario's defining property holds over many drawn fights (at the
first reset and at the auto-resets of play), sizes combine with the curriculum by clipping, unknown
names are refused (by the env and by TrainingSettings), the trainer builds its env with the job's
scenario, and `python -m models.training.scenarios` prints its table."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.envs.base import evaluate_policy
from models.envs.contract_combat.env import VICTORY, ContractCombatEnv
from models.envs.contract_combat.scenarios import SCENARIOS, Scenario, ring
from models.envs.contract_combat.traditional import TraditionalPolicy
from models.envs.contract_combat.units import new_monsters, new_players
from models.envs.contract_combat.world import new_maps
from models.envs.pack_combat import rules as R
from models.envs.pack_combat.combat import chebyshev
from models.training.loop import Trainer
from models.training.scenarios import main
from models.training.settings import TrainingSettings
from tests.ctde_helpers import tiny_contract_trainer

MANY = 1500  # fights drawn at once for a property


def trajectory(**options: object) -> tuple[int, int, int, int, float]:
    """Finished fights, victories, their summed length and kills, and the monsters' hp left,
    after 120 steps of 16 fights played by the traditional AI."""
    env = ContractCombatEnv(16, seed=7, max_steps=40, **options)  # type: ignore[arg-type]
    policy = TraditionalPolicy(env, seed=3)
    obs = env.reset()
    n = wins = length = kills = 0
    for _ in range(120):
        obs, result = env.step(policy(obs))
        ep = result.episodes
        n += len(ep.env_index)
        wins += int((ep.extra["outcome"] == VICTORY).sum())
        length += int(ep.length.sum())
        kills += int(ep.extra["kills"].sum())
    return n, wins, length, kills, float(env.monsters.hp.sum())


def test_standard_plays_the_trajectory_from_before_scenarios() -> None:
    # Recorded with the simulator as it was before scenarios were added (git HEAD at the time):
    # a change here means the standard draws changed, which only a deliberate change of the
    # simulator's rules may do.
    before = (53, 17, 1683, 40)
    default = trajectory()
    assert default[:4] == before
    assert default[4] == pytest.approx(230243.78, abs=0.01)
    assert trajectory(scenario="standard") == default


def test_standard_draws_the_fights_of_the_plain_recipe() -> None:
    env = ContractCombatEnv(64, seed=11, scenario="standard")
    rng = np.random.default_rng(11)
    world, pack_c, party_c = new_maps(rng, 64)
    mon = new_monsters(rng, 64, (2, 5), pack_c)
    party = new_players(rng, 64, (1, 4), party_c, mon)
    np.testing.assert_array_equal(env.world.cell, world.cell)
    for name in ("pos", "spawn", "arch", "max_hp", "present", "skill_cd"):
        np.testing.assert_array_equal(getattr(env.monsters, name), getattr(mon, name))
    for name in ("pos", "cls", "max_hp", "atk", "present"):
        np.testing.assert_array_equal(getattr(env.players.units, name), getattr(party.units, name))


def drawn(scenario: str, **options: object) -> ContractCombatEnv:
    return ContractCombatEnv(MANY, seed=3, scenario=scenario, **options)  # type: ignore[arg-type]


def sizes(env: ContractCombatEnv) -> tuple[set[int], set[int]]:
    return (
        set(env.monsters.present.sum(1).tolist()),
        set(env.players.units.present.sum(1).tolist()),
    )


def gaps(env: ContractCombatEnv) -> np.ndarray:
    """(E, N, M) Chebyshev distances between present monsters and present players (nan else)."""
    m, u = env.monsters, env.players.units
    d = chebyshev(m.pos, u.pos).astype(np.float64)
    return np.where(m.present[..., None] & u.present[:, None, :], d, np.nan)


def test_standard_and_lone_adventurer_sizes() -> None:
    assert sizes(drawn("standard")) == ({2, 3, 4, 5}, {1, 2, 3, 4})
    assert sizes(drawn("lone_adventurer")) == ({2, 3, 4, 5}, {1})


def test_outnumbered_is_a_small_pack_against_a_big_party() -> None:
    assert sizes(drawn("outnumbered")) == ({2, 3}, {3, 4})


def test_healer_party_always_has_a_priest() -> None:
    env = drawn("healer_party")
    u = env.players.units
    assert ((u.cls == R.PRIEST) & u.present).any(1).all()
    assert sizes(env)[1] == {2, 3, 4}
    # Clipped to one player by the env's range, the forced priest is that player (the standard
    # compositions of one are a knight or a hunter).
    lone = drawn("healer_party", n_players=1)
    assert (lone.players.units.cls[:, 0] == R.PRIEST).all()
    assert (drawn("lone_adventurer").players.units.cls[:, 0] != R.PRIEST).all()


def test_ambush_surrounds_the_party() -> None:
    env = drawn("ambush")
    m = env.monsters
    d = gaps(env)
    # Every monster starts within the ring's radius + the party's spread of every player, where
    # the standard draw keeps them across the map.
    assert np.nanmax(d) <= 3 + 2
    assert np.nanmin(gaps(drawn("standard"))) >= 7
    # On walkable cells of the map, never on a player's cell, each on its own cell.
    e, n = np.nonzero(m.present)
    x, y = m.pos[e, n, 0].astype(int), m.pos[e, n, 1].astype(int)
    assert env.world.walkable[e, x, y].all()
    assert np.nanmin(d) >= 1
    for size in (2, 3, 4, 5):
        rows = m.present.sum(1) == size
        cells = m.pos[rows][:, :size]
        same = (cells[:, :, None, :] == cells[:, None, :, :]).all(3)
        assert same.sum() == rows.sum() * size  # only the diagonal
    # Their spawn centre stays home, across the map (FLEE leads there).
    home = chebyshev(m.spawn, m.pos)
    assert home[m.present].min() >= 7


def test_properties_hold_at_the_auto_resets_of_play() -> None:
    for name, players in (("lone_adventurer", {1}), ("outnumbered", {3, 4})):
        env = ContractCombatEnv(64, seed=5, max_steps=30, scenario=name)
        policy = TraditionalPolicy(env, seed=5)
        obs = env.reset()
        seen: list[np.ndarray] = []
        for _ in range(90):
            obs, result = env.step(policy(obs))
            seen.append(result.episodes.extra["n_players"])
        counts = np.concatenate(seen)
        assert counts.size >= 128
        assert set(counts.astype(int).tolist()) == players


def test_scenario_sizes_are_clipped_into_the_curriculum() -> None:
    out = SCENARIOS["outnumbered"]
    assert out.pack_sizes((2, 5)) == (2, 3)
    assert out.pack_sizes((2, 2)) == (2, 2)
    assert out.pack_sizes((3, 5)) == (3, 3)
    assert out.pack_sizes((4, 5)) == (4, 4)
    assert SCENARIOS["standard"].pack_sizes((2, 4)) == (2, 4)
    env = ContractCombatEnv(200, seed=1, scenario="outnumbered")
    env.set_pack_size(2)  # the trainer's curriculum, packs of 2 first
    env.reset()
    assert sizes(env)[0] == {2}
    env.set_pack_size((2, 5))
    env.reset()
    assert sizes(env)[0] == {2, 3}


def test_unknown_or_malformed_scenarios_are_refused() -> None:
    known = r"\(known: standard, lone_adventurer, outnumbered, healer_party, ambush\)"
    with pytest.raises(ValueError, match=r"unknown scenario 'siege' " + known):
        ContractCombatEnv(2, scenario="siege")
    with pytest.raises(ValueError, match="pack_size"):
        Scenario("x", "", pack_size=(1, 3))
    with pytest.raises(ValueError, match="ambush_radius"):
        Scenario("x", "", ambush_radius=4)
    with pytest.raises(ValueError, match="party_classes"):
        Scenario("x", "", party_classes=(R.PRIEST, R.PRIEST))


def test_a_pickled_env_keeps_its_scenario_and_an_older_one_draws_standard() -> None:
    env = ContractCombatEnv(4, seed=0, scenario="ambush")
    assert pickle.loads(pickle.dumps(env)).scenario.name == "ambush"
    # A checkpoint's env pickled before scenarios existed has no `scenario` attribute.
    state = {k: v for k, v in env.__dict__.items() if k != "scenario"}
    older = ContractCombatEnv.__new__(ContractCombatEnv)
    older.__setstate__(state)
    assert older.scenario.name == "standard"
    older.reset()


def test_ring_goes_around_once() -> None:
    cells = ring(3)
    assert len({tuple(c) for c in cells.tolist()}) == 24
    assert (np.abs(cells).max(1) == 3).all()
    assert (np.abs(np.diff(cells, axis=0)).max(1) == 1).all()  # neighbours, in order


def test_training_settings_validate_the_scenario_per_environment() -> None:
    assert TrainingSettings(scenario="ambush").scenario == "ambush"
    assert TrainingSettings(environment="pack", scenario="standard").scenario == "standard"
    with pytest.raises(ValueError, match=r"training\.scenario must be one of standard, lone_"):
        TrainingSettings(scenario="siege")
    with pytest.raises(ValueError, match="one of standard on the 'pack' environment"):
        TrainingSettings(environment="pack", scenario="ambush")


def test_the_trainer_draws_the_jobs_scenario() -> None:
    settings = TrainingSettings(n_envs=8, scenario="lone_adventurer")
    trainer = Trainer("mappo", None, settings)
    for env in (trainer.env, trainer.make_env(8, settings.eval_seed)):
        assert isinstance(env, ContractCombatEnv)
        assert env.scenario.name == "lone_adventurer"
        assert sizes(env)[1] == {1}


def table_rows(text: str) -> dict[str, list[str]]:
    lines = text.strip().splitlines()
    assert lines[0].startswith("win rate on held-out fights")
    return {line.split()[0]: line.split() for line in lines[3:]}


def test_cli_prints_every_scenario_with_a_checkpoints_actor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint = tmp_path / "best.pt"
    tiny_contract_trainer({"action_dim": 7}, action_space="pack").save_checkpoint(str(checkpoint))
    main(["--scenario", "all", "--episodes", "4", "--checkpoint", str(checkpoint)])
    out = capsys.readouterr().out
    header = out.splitlines()[1].split()
    assert header[:5] == ["scenario", "episodes", "traditional", "AI", "pack_coordination"]
    rows = table_rows(out)
    assert list(rows) == list(SCENARIOS)
    for cells in rows.values():
        assert cells[1] == "4"
        assert all(c.endswith("%") and 0 <= float(c[:-1]) <= 100 for c in cells[2:4])
    with pytest.raises(SystemExit):
        main(["--episodes", "2", "--model-type", "combat", "--checkpoint", str(checkpoint)])
    assert "answers 7 actions but a combat model answers 11" in capsys.readouterr().err


def test_cli_runs_as_a_module() -> None:
    command = ["-m", "models.training.scenarios", "--scenario", "ambush", "--episodes", "3"]
    done = subprocess.run(
        [sys.executable, *command, "--seed", "9"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    rows = table_rows(done.stdout)
    assert list(rows) == ["ambush"]
    # The same fights played here give the same figure.
    env = ContractCombatEnv(3, seed=9, max_steps=100, scenario="ambush")
    wins = evaluate_policy(TraditionalPolicy(env, seed=9), env)["win_rate"]
    assert rows["ambush"][2] == f"{wins:.1%}"
