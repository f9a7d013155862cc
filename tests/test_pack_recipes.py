"""The seven pack actions executed through their recipes over the ten primitives
(models/envs/contract_combat/recipes.py): each recipe's effect in the contract simulator on a
hand-built situation against its definition (docs/pack_recipes.md), the single-primitive fallback,
and whole fights in the "pack" action space holding the state contract."""

from __future__ import annotations

import numpy as np
import pytest

from models.envs.base import evaluate_policy
from models.envs.contract_combat.env import ContractCombatEnv
from models.envs.contract_combat.execute import ATTACK, CHANGE_TARGET, MOVE_AWAY, MOVE_CLOSER
from models.envs.contract_combat.recipes import (
    R_CHANGE,
    REASONS,
    leader_and_focus,
    primitive_for,
    scripted_pack_policy,
    single_primitives,
)
from models.envs.contract_combat.units import STUN, WALK_S
from models.envs.pack_combat import rules as R
from models.envs.pack_combat.policies import random_policy
from plpython.state_contract import problems
from tests.test_contract_combat import arena, plain_monster


def pack_arena(n_monsters: int) -> ContractCombatEnv:
    """The contract tests' plain arena, in the pack action space, with no player present yet."""
    env = arena(n_monsters)
    env.action_space, env.n_actions = "pack", R.N_ACTIONS
    u = env.players.units
    u.present[:] = u.alive[:] = False
    return env


def player(env: ContractCombatEnv, k: int, pos: tuple[int, int], cls: int = R.PRIEST) -> None:
    """Player k at pos, harmless (no attack, no heal). A priest with a monster in its range but none
    adjacent stands still (it "attacks" for 0), so the geometry of one step is the monsters'."""
    u, p = env.players.units, env.players
    u.present[0, k] = u.alive[0, k] = True
    u.cls[0, k] = cls
    u.pos[0, k] = pos
    u.max_hp[0, k] = u.hp[0, k] = 20000.0
    u.atk[0, k] = u.heal[0, k] = u.armor[0, k] = 0.0
    u.range[0, k] = 7.0
    p.level[0, k] = 80.0
    p.target[0, k] = -1


def step(env: ContractCombatEnv, *actions: int) -> None:
    a = np.full((1, 5), R.FOCUS_FIRE, np.int64)
    a[0, : len(actions)] = actions
    env.step(a)


def stun(env: ContractCombatEnv, n: int) -> None:
    """Monster n loses this step's action (a bystander that must not move)."""
    env.monsters.status[0, n, STUN] = 3


def test_focus_fire_retargets_to_the_packs_target_and_damages_it() -> None:
    env = pack_arena(2)
    plain_monster(env, 0, pos=(10, 10), target=0, attack_range=5.0)
    plain_monster(env, 1, pos=(4, 4))
    stun(env, 1)
    player(env, 0, pos=(13, 10), cls=R.HUNTER)  # its target, the nearest
    player(env, 1, pos=(10, 14))  # the priest: the leader's attack_target
    m, u = env.monsters, env.players.units
    assert leader_and_focus(m, u)[1][0] == 1
    acting = m.alive.copy()
    # One primitive alone: CHANGE_TARGET reaches the priest (the nearest other enemy in view).
    assert single_primitives(np.full((1, 5), R.FOCUS_FIRE), m, env.players, acting, 24)[0, 0] == (
        CHANGE_TARGET
    )
    hunter_hp, priest_hp = u.hp[0, 0], u.hp[0, 1]
    step(env, R.FOCUS_FIRE)
    assert m.target[0, 0] == 1
    assert u.hp[0, 0] == hunter_hp
    assert priest_hp - u.hp[0, 1] >= 400 * (1 - u.armor[0, 1]) - 1e-9
    # The plain primitive would have struck its own target, the hunter.
    env2 = pack_arena(2)
    env2.action_space, env2.n_actions = "primitives", 10
    plain_monster(env2, 0, pos=(10, 10), target=0, attack_range=5.0)
    plain_monster(env2, 1, pos=(4, 4))
    player(env2, 0, pos=(13, 10), cls=R.HUNTER)
    player(env2, 1, pos=(10, 14))
    env2.step(np.array([[ATTACK, 0, 0, 0, 0]]))
    assert env2.players.units.hp[0, 0] < hunter_hp
    assert env2.monsters.target[0, 0] == 0


def test_help_ally_turns_on_the_attacker_of_the_hurt_ally() -> None:
    env = pack_arena(3)
    plain_monster(env, 0, pos=(10, 10), target=0, attack_range=5.0)
    plain_monster(env, 1, pos=(6, 12), hp=1000.0)  # hurt, attacked by player 1
    plain_monster(env, 2, pos=(4, 4), hp=4000.0)
    stun(env, 1)
    stun(env, 2)
    player(env, 0, pos=(12, 10))  # the nearest to the helper, its target
    player(env, 1, pos=(9, 14), cls=R.HUNTER)
    env.players.target[0, 1] = 1
    u = env.players.units
    before = u.hp[0, 1]
    step(env, R.HELP_ALLY)
    assert env.monsters.target[0, 0] == 1
    assert u.hp[0, 1] < before


def test_group_up_walks_toward_the_packs_centre() -> None:
    env = pack_arena(3)
    plain_monster(env, 0, pos=(15, 5))
    plain_monster(env, 1, pos=(5, 5))
    plain_monster(env, 2, pos=(7, 5))
    stun(env, 1)
    stun(env, 2)
    player(env, 0, pos=(22, 22))  # out of everyone's view
    m = env.monsters
    centre = np.round(m.pos[0, :3].mean(0))
    before = np.abs(m.pos[0, 0] - centre).max()
    step(env, R.GROUP_UP)
    assert np.abs(m.pos[0, 0] - centre).max() == before - 2  # walk speed 150: two cells a step
    assert m.ai_state[0, 0] == WALK_S
    # Ahead of the pack with its target beyond it, the one-primitive fallback walks away from it.
    m.target[0, 0] = 0
    m.pos[0, 0] = (15, 5)
    env.players.units.pos[0, 0] = (20, 5)
    got = single_primitives(np.full((1, 5), R.GROUP_UP), m, env.players, m.alive.copy(), 24)
    assert got[0, 0] == MOVE_AWAY


def test_split_picks_an_enemy_no_packmate_targets() -> None:
    env = pack_arena(2)
    plain_monster(env, 0, pos=(10, 10), attack_range=5.0)
    plain_monster(env, 1, pos=(8, 8), target=0)
    stun(env, 1)
    player(env, 0, pos=(12, 10))  # nearest to monster 0, but monster 1's target
    player(env, 1, pos=(10, 14))
    u = env.players.units
    before = u.hp[0, 1]
    step(env, R.SPLIT)
    assert env.monsters.target[0, 0] == 1
    assert u.hp[0, 1] < before
    assert env.monsters.started_fight[0, 0]  # it picked the target itself


def test_protect_weak_ends_beside_the_weakest_facing_its_attacker() -> None:
    env = pack_arena(3)
    plain_monster(env, 0, pos=(12, 13))
    plain_monster(env, 1, pos=(10, 10), hp=2000.0)  # the ward: hurt and attacked
    plain_monster(env, 2, pos=(4, 4), max_hp=3000.0, hp=3000.0)  # frailer, but not attacked
    stun(env, 1)
    stun(env, 2)
    player(env, 0, pos=(10, 16))
    env.players.target[0, 0] = 1
    m = env.monsters
    assert np.abs(m.pos[0, 0] - m.pos[0, 1]).max() > 1
    step(env, R.PROTECT_WEAK)
    assert np.abs(m.pos[0, 0] - m.pos[0, 1]).max() <= 1
    assert m.target[0, 0] == 0


@pytest.mark.parametrize("action", [R.FLANK_LEFT, R.FLANK_RIGHT])
def test_flank_ends_on_the_targets_side_and_strikes(action: int) -> None:
    # The pack stands south of the target (y grows north): its left is west (x < 10).
    env = pack_arena(2)
    plain_monster(env, 0, pos=(10, 8))
    plain_monster(env, 1, pos=(10, 4))
    stun(env, 1)
    player(env, 0, pos=(10, 10))
    m, u = env.monsters, env.players.units
    step(env, action)  # walk speed 150, two cells: one aside and up, one up beside it
    side = m.pos[0, 0, 0] - u.pos[0, 0, 0]
    assert side < 0 if action == R.FLANK_LEFT else side > 0
    assert np.abs(m.pos[0, 0] - u.pos[0, 0]).max() <= 1
    before = u.hp[0, 0]
    stun(env, 1)
    step(env, action)
    assert m.attacking[0, 0]
    assert u.hp[0, 0] < before


def test_primitive_for_reads_the_situation() -> None:
    from models.envs.contract_combat.recipes import Situation

    def one(**kw: int) -> Situation:
        base = dict(
            has_target=True, attack_reaches=False, change_reaches=False, enemy=True,
            own_in_range=True, heal_action=-1, placed=False, toward=MOVE_CLOSER,
        )  # fmt: skip
        base.update(kw)
        arrays = {k: np.array([v]) for k, v in base.items()}
        return Situation(**arrays)

    got, why = primitive_for(np.array([R.FOCUS_FIRE]), one(change_reaches=True))
    assert (got[0], why[0]) == (CHANGE_TARGET, R_CHANGE)
    assert "CHANGE_TARGET" in REASONS[why[0]]
    assert primitive_for(np.array([R.FOCUS_FIRE]), one(attack_reaches=True))[0][0] == ATTACK
    assert primitive_for(np.array([R.HELP_ALLY]), one(heal_action=5))[0][0] == 5
    assert primitive_for(np.array([R.PROTECT_WEAK]), one())[0][0] == MOVE_CLOSER
    assert primitive_for(np.array([R.GROUP_UP]), one(placed=True, own_in_range=False))[0][0] == 0
    assert primitive_for(np.array([R.SPLIT]), one(has_target=False, enemy=False))[0][0] == 4


# --- whole fights ---------------------------------------------------------------------------------


def test_random_pack_actions_keep_the_state_contract() -> None:
    env = ContractCombatEnv(8, seed=4, action_space="pack")
    obs = env.reset()
    assert obs.action_mask.shape == (8, 5, 7)
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(120):
        obs, _ = env.step(random_policy(obs, rng))
        for e, n in zip(*np.nonzero(obs.agent_mask), strict=True):
            assert problems(obs.local_obs[e, n].tolist()) == [], (e, n)
            checked += 1
    assert checked > 1000
    with pytest.raises(ValueError, match="integers in"):
        env.step(np.full((8, 5), R.N_ACTIONS))
    with pytest.raises(ValueError, match="action_space"):
        ContractCombatEnv(1, action_space="macro")


def test_the_scripted_pack_policy_beats_random_pack_actions() -> None:
    rng = np.random.default_rng(0)
    rand = evaluate_policy(
        lambda o: random_policy(o, rng), ContractCombatEnv(100, seed=77, action_space="pack")
    )
    env = ContractCombatEnv(100, seed=77, action_space="pack")
    scripted = evaluate_policy(scripted_pack_policy, env)
    assert scripted["episodes"] == rand["episodes"] == 100
    assert scripted["win_rate"] > rand["win_rate"]


def test_a_lone_monster_may_not_ask_for_the_ally_bound_recipes_when_failures_are_masked() -> None:
    env = pack_arena(2)
    player(env, 0, pos=(20, 20))
    env.monsters.alive[0, 1] = False
    assert env._observe().action_mask[0, 0].all()  # by default nothing is masked
    env.mask_failing = True
    mask = env._observe().action_mask[0, 0]
    assert not mask[[R.HELP_ALLY, R.GROUP_UP, R.PROTECT_WEAK]].any()
    assert mask[[R.SPLIT, R.FOCUS_FIRE, R.FLANK_LEFT, R.FLANK_RIGHT]].all()
