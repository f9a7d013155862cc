"""Recorded experience: ml.record_experience refuses every bad batch with its SQLSTATE and writes
nothing; a valid batch round-trips through the offline loader exactly, and so do pack episodes
turned into transitions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import errors

from config.model_types import ACTION_DIMS, COMBAT, PACK_COORDINATION
from models.offline.dataset import (
    OfflineDataset,
    episode_transitions,
    float4_rows,
    load_offline_dataset,
)
from tests.ctde_helpers import make_episode
from tests.test_pack_episodes import RECORD, record_args

RECORD_EXPERIENCE = (
    "SELECT ml.record_experience(%s::integer[], %s, %s, %s::real[], %s::smallint[], %s::real[], "
    "%s::real[], %s::boolean[])"
)
ARGUMENTS = ("monster_ids", "archetype", "model_type", "states", "actions", "rewards",
             "next_states", "dones")  # fmt: skip


def experience_args(
    dataset: OfflineDataset, archetype: str = "tank", model_type: str = COMBAT, first_id: int = 1
) -> dict[str, Any]:
    """ml.record_experience's arguments for a dataset's transitions, as a game server sends them
    (one monster id per transition)."""
    n = len(dataset)
    return {
        "monster_ids": list(range(first_id, first_id + n)),
        "archetype": archetype,
        "model_type": model_type,
        "states": dataset.states.tolist(),
        "actions": dataset.actions.tolist(),
        "rewards": dataset.rewards.tolist(),
        "next_states": dataset.next_states.tolist(),
        "dones": dataset.dones.tolist(),
    }


def experience_params(args: dict[str, Any]) -> list[Any]:
    """RECORD_EXPERIENCE's bind parameters, in the function's order."""
    return [args[name] for name in ARGUMENTS]


def record_experience(conn: psycopg.Connection[Any], args: dict[str, Any]) -> int:
    row = conn.execute(RECORD_EXPERIENCE, experience_params(args)).fetchone()
    assert row is not None
    return int(row[0])


def random_dataset(n: int = 5, seed: int = 0, n_actions: int = 11) -> OfflineDataset:
    rng = np.random.default_rng(seed)
    return OfflineDataset(
        rng.standard_normal((n, 64), dtype=np.float32),
        rng.integers(0, n_actions, n),
        rng.uniform(-2, 12, n).astype(np.float32),
        rng.standard_normal((n, 64), dtype=np.float32),
        rng.random(n) < 0.3,
    )


def stored_rows(admin: psycopg.Connection[Any]) -> int:
    row = admin.execute("SELECT count(*) FROM ml.ml_experience_replay").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def game(game_url: str) -> Any:
    with psycopg.connect(game_url, autocommit=True) as conn:
        yield conn


# --- a valid batch ------------------------------------------------------------------------------


def test_a_recorded_batch_round_trips_through_the_loader(
    game: psycopg.Connection[Any], worker_url: str
) -> None:
    dataset = random_dataset(40, seed=1)
    assert record_experience(game, experience_args(dataset)) == 40
    # Other archetypes and model types are not this job's.
    record_experience(game, experience_args(random_dataset(3, seed=2), archetype="mage"))
    pack = random_dataset(4, seed=3, n_actions=7)
    record_experience(game, experience_args(pack, model_type=PACK_COORDINATION))

    loaded = load_offline_dataset(worker_url, "tank", COMBAT, max_transitions=1000)
    assert loaded.sources == {"experience": 40}
    order = np.arange(40)[::-1]  # newest first: one call's rows by id, descending
    np.testing.assert_array_equal(loaded.states, dataset.states[order])
    np.testing.assert_array_equal(loaded.next_states, dataset.next_states[order])
    np.testing.assert_array_equal(loaded.actions, dataset.actions[order])
    np.testing.assert_array_equal(loaded.rewards, dataset.rewards[order])
    np.testing.assert_array_equal(loaded.dones, dataset.dones[order])
    assert loaded.states.dtype == np.float32
    assert loaded.actions.dtype == np.int64

    newest = load_offline_dataset(worker_url, "tank", COMBAT, max_transitions=5)
    np.testing.assert_array_equal(newest.actions, dataset.actions[::-1][:5])
    packs = load_offline_dataset(worker_url, "tank", PACK_COORDINATION, 100, max_episodes=10)
    np.testing.assert_array_equal(packs.actions, pack.actions[::-1])
    assert len(load_offline_dataset(worker_url, "support", COMBAT, 100)) == 0


def test_the_game_role_records_only_through_the_function(
    game: psycopg.Connection[Any], admin: psycopg.Connection[Any]
) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        game.execute(
            "INSERT INTO ml.ml_experience_replay (monster_id, archetype, state, action, reward) "
            "VALUES (1, 'tank', '{0}', 1, 1)"
        )
    with pytest.raises(errors.InsufficientPrivilege):
        game.execute("SELECT * FROM ml.ml_experience_replay")
    assert admin.execute(
        "SELECT has_table_privilege('ml_user', 'ml.ml_experience_replay', "
        "'INSERT, UPDATE, DELETE, SELECT')"
    ).fetchone() == (False,)


@pytest.mark.parametrize("model_type", sorted(ACTION_DIMS))
def test_each_model_type_takes_exactly_its_actions(
    game: psycopg.Connection[Any], model_type: str
) -> None:
    # The function's action ranges are config/model_types.py's.
    top = ACTION_DIMS[model_type] - 1
    args = experience_args(random_dataset(2), model_type=model_type)
    args["actions"] = [0, top]
    assert record_experience(game, args) == 2
    args["actions"] = [0, top + 1]
    with pytest.raises(errors.InvalidParameterValue, match=f"a {model_type} action is 0-{top}"):
        record_experience(game, args)


# --- every bad input: its SQLSTATE, nothing written ----------------------------------------------

STATE = [0.5] * 64
NAN, INF = float("nan"), float("inf")


def rows_with(value: Any, row: int = 1, n: int = 3) -> list[list[Any]]:
    """n states of 64 floats, row `row` with `value` in its first element."""
    return [[value, *STATE[1:]] if i == row else list(STATE) for i in range(n)]


Change = Callable[[dict[str, Any]], None]

#: name: (change to a valid 3-row combat batch, SQLSTATE, message)
BAD_CALLS: dict[str, tuple[Change, str, str]] = {
    "actions-two-dimensional": (
        lambda a: a.update(actions=[[0, 1, 2]]),
        "ML008",
        "actions must be a 1-dimensional array",
    ),
    "states-flat": (
        lambda a: a.update(states=STATE * 3),
        "ML008",
        "states must be a 2-dimensional array",
    ),
    "empty": (
        lambda a: a.update(monster_ids=[], actions=[], rewards=[], dones=[], states=None),
        "ML005",
        "monster_ids is empty",
    ),
    "lengths-differ": (
        lambda a: a.update(rewards=[0.0, 1.0]),
        "ML005",
        "rewards has 2 rows, monster_ids 3",
    ),
    "states-rows-differ": (
        lambda a: a.update(next_states=[list(STATE) for _ in range(2)]),
        "ML005",
        "next_states has 2 rows",
    ),
    "state-width": (
        lambda a: a.update(states=[STATE[:63] for _ in range(3)]),
        "ML004",
        r"must be 3 x 64, got \[1:3\]\[1:63\]",
    ),
    "archetype-null": (
        lambda a: a.update(archetype=None),
        "22004",
        "archetype must not be NULL",
    ),
    "model-type-null": (
        lambda a: a.update(model_type=None),
        "22004",
        "model_type must not be NULL",
    ),
    "archetype": (
        lambda a: a.update(archetype="boss" * 100),
        "22P02",
        r"unknown archetype 'bossbossboss.*\(400 characters\)'",
    ),
    "model-type": (
        lambda a: a.update(model_type="dragon"),
        "22P02",
        "unknown model type 'dragon'",
    ),
    "null-monster-id": (
        lambda a: a.update(monster_ids=[1, None, 3]),
        "22004",
        r"monster_ids\[2\] is NULL",
    ),
    "null-action": (
        lambda a: a.update(actions=[1, 2, None]),
        "22004",
        r"actions\[3\] is NULL",
    ),
    "null-reward": (
        lambda a: a.update(rewards=[None, 0.0, 0.0]),
        "22004",
        r"rewards\[1\] is NULL",
    ),
    "null-done": (
        lambda a: a.update(dones=[False, None, True]),
        "22004",
        r"dones\[2\] is NULL",
    ),
    "null-in-state": (
        lambda a: a.update(states=rows_with(None)),
        "ML004",
        r"states\[2\] must be 64 finite numbers, holds NULL",
    ),
    "nan-state": (
        lambda a: a.update(states=rows_with(NAN, row=2)),
        "ML004",
        r"states\[3\] must be 64 finite numbers, holds NaN",
    ),
    "infinite-next-state": (
        lambda a: a.update(next_states=rows_with(-INF, row=0)),
        "ML004",
        r"next_states\[1\] must be 64 finite numbers, holds -Infinity",
    ),
    "monster-id": (
        lambda a: a.update(monster_ids=[1, 2, 0]),
        "ML003",
        r"monster_ids\[3\] is 0",
    ),
    "action-above": (
        lambda a: a.update(actions=[0, 11, 1]),
        "22023",
        r"actions\[2\] is 11: a combat action is 0-10",
    ),
    "action-negative": (
        lambda a: a.update(actions=[-1, 0, 1]),
        "22023",
        r"actions\[1\] is -1",
    ),
    "pack-action": (
        lambda a: a.update(model_type=PACK_COORDINATION, actions=[7, 0, 0]),
        "22023",
        r"actions\[1\] is 7: a pack_coordination action is 0-6",
    ),
    "nan-reward": (
        lambda a: a.update(rewards=[0.0, NAN, 0.0]),
        "22023",
        r"rewards\[2\] is NaN: a reward must be finite and within \[-1000, 1000\]",
    ),
    "infinite-reward": (
        lambda a: a.update(rewards=[0.0, 0.0, -INF]),
        "22023",
        r"rewards\[3\] is -Infinity",
    ),
    "implausible-reward": (
        lambda a: a.update(rewards=[1000.5, 0.0, 0.0]),
        "22023",
        r"rewards\[1\] is 1000.5",
    ),
}


@pytest.mark.parametrize(("change", "sqlstate", "message"), BAD_CALLS.values(), ids=BAD_CALLS)
def test_a_bad_batch_is_refused_with_its_sqlstate_and_writes_nothing(
    game: psycopg.Connection[Any],
    admin: psycopg.Connection[Any],
    change: Change,
    sqlstate: str,
    message: str,
) -> None:
    args = experience_args(random_dataset(3))
    args["actions"] = [0, 1, 2]
    change(args)
    with pytest.raises(psycopg.Error, match=message) as refused:
        record_experience(game, args)
    assert refused.value.sqlstate == sqlstate
    assert stored_rows(admin) == 0
    assert record_experience(game, experience_args(random_dataset(3))) == 3


def test_the_row_cap_is_checked_first_and_read_from_the_config(
    game: psycopg.Connection[Any], admin: psycopg.Connection[Any]
) -> None:
    default = admin.execute(
        "SELECT value FROM ml.config WHERE key = 'limits.experience_rows'"
    ).fetchone()
    assert default == (4096,)
    admin.execute("UPDATE ml.config SET value = '4' WHERE key = 'limits.experience_rows'")
    five = experience_args(random_dataset(5))
    with pytest.raises(psycopg.Error, match=r"monster_ids holds 5 values.*at most 4 rows") as over:
        record_experience(game, five)
    assert over.value.sqlstate == "ML009"
    # Before any other check: states over 4 x 64 values and also of the wrong shape.
    four = experience_args(random_dataset(4))
    four["states"] = four["states"] + [list(STATE)]
    four["archetype"] = "boss"
    with pytest.raises(psycopg.Error, match=r"states holds 320 values.*at most 4 rows") as first:
        record_experience(game, four)
    assert first.value.sqlstate == "ML009"
    assert stored_rows(admin) == 0
    assert record_experience(game, experience_args(random_dataset(4))) == 4


def test_the_reward_bound_is_read_from_the_config(
    game: psycopg.Connection[Any], admin: psycopg.Connection[Any]
) -> None:
    args = experience_args(random_dataset(2))
    args["rewards"] = [0.0, 20.0]
    admin.execute("UPDATE ml.config SET value = '10' WHERE key = 'limits.experience_reward'")
    with pytest.raises(errors.InvalidParameterValue, match=r"within \[-10, 10\]"):
        record_experience(game, args)
    admin.execute("UPDATE ml.config SET value = '100' WHERE key = 'limits.experience_reward'")
    assert record_experience(game, args) == 2


# --- the loader ---------------------------------------------------------------------------------


def test_invalid_stored_rows_are_logged_and_skipped(
    admin: psycopg.Connection[Any], worker_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # ml_worker may insert into the table directly: whatever is there is checked again.
    insert = (
        "INSERT INTO ml.ml_experience_replay (monster_id, archetype, model_type, state, action, "
        "reward, next_state, done) VALUES (%s, 'tank', 'combat', %s::real[], %s, %s, %s::real[], "
        "%s) RETURNING id"
    )
    cases = {
        "good": (STATE, 3, 1.0, STATE, False),
        "good-done-without-next": (STATE, 3, 1.0, None, True),
        "short": (STATE[:10], 3, 1.0, STATE, False),
        "nan": (rows_with(NAN)[1], 3, 1.0, STATE, False),
        "no-next": (STATE, 3, 1.0, None, False),
        "action": (STATE, 11, 1.0, STATE, False),
        "reward": (STATE, 3, INF, STATE, False),
    }
    ids = {}
    for i, (name, values) in enumerate(cases.items(), 1):
        row = admin.execute(insert, (i, *values)).fetchone()
        assert row is not None
        ids[name] = row[0]
    with caplog.at_level(logging.WARNING, logger="models.offline.dataset"):
        loaded = load_offline_dataset(worker_url, "tank", COMBAT, 100)
    assert len(loaded) == 2
    assert loaded.dones.tolist() == [True, False]  # newest first
    np.testing.assert_array_equal(loaded.next_states[0], STATE)  # its own state stands in
    for name in ("short", "nan", "no-next", "action", "reward"):
        assert f"skipping recorded transition id={ids[name]}:" in caplog.text
    assert "next_state is not 64 finite floats" in caplog.text


def test_array_send_bytes_are_read_exactly(admin: psycopg.Connection[Any]) -> None:
    values = np.array([[0.1, -2.5e38, 1e-45, 7.0], [1.0, 2.0, 3.0, 4.0]], np.float32)
    blobs = [
        admin.execute("SELECT array_send(%s::real[])", (row.tolist(),)).fetchone()[0]  # type: ignore[index]
        for row in values
    ]
    blobs += [admin.execute("SELECT array_send('{1,2,3}'::real[])").fetchone()[0], None]  # type: ignore[index]
    out, valid = float4_rows(blobs, 4)
    assert valid.tolist() == [True, True, False, False]
    np.testing.assert_array_equal(out[:2], values)


def test_pack_episodes_become_transitions_with_their_pack_actions(
    game: psycopg.Connection[Any], worker_url: str
) -> None:
    won = make_episode(pack_id=1, n_agents=3, steps=4, seed=1)
    won.local_obs[2:, 1] = 0.0  # monster 1 died after step 1: recorded as zeros
    timed_out = make_episode(pack_id=2, n_agents=2, steps=3, seed=2, outcome="timeout")
    for episode in (won, timed_out):
        game.execute(RECORD, record_args(episode))
    loaded = load_offline_dataset(
        worker_url, "mage", PACK_COORDINATION, 100, max_episodes=10, team_reward_weight=0.7
    )
    assert loaded.sources == {"experience": 0, "episodes": 10 + 4}
    expected = OfflineDataset.concat(
        [episode_transitions(e, 0.7) for e in (timed_out, won)]  # newest first
    )
    for name in ("states", "actions", "rewards", "next_states", "dones"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(expected, name))

    t = episode_transitions(won, 0.7)
    # 4 steps x 3 monsters, less monster 1's two dead steps; it is done at its last living step.
    assert len(t) == 10
    rows = [(s, i) for s in range(4) for i in range(3) if not (i == 1 and s >= 2)]
    k = rows.index((1, 1))
    assert t.dones[k]
    assert t.actions[k] == won.actions[1, 1]
    k = rows.index((1, 0))
    np.testing.assert_array_equal(t.next_states[k], won.local_obs[2, 0])
    assert not t.dones[k]
    assert t.rewards[k] == pytest.approx(
        0.7 * won.team_rewards[1] + 0.3 * won.individual_rewards[1, 0], rel=1e-6
    )
    assert t.dones[-2:].all()  # the fight's last step ends every living monster
    # A timed-out fight's last step has no next state: left out.
    assert len(episode_transitions(timed_out, 0.7)) == 2 * 2
    # For the combat model type the episodes (pack actions) are not read.
    assert len(load_offline_dataset(worker_url, "mage", COMBAT, 100, max_episodes=10)) == 0
