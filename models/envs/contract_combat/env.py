"""ContractCombatEnv: packs of 2-5 monsters against 1-4 players, each monster seeing exactly the
state contract's 64 floats and acting through the game server's ten actions. E fights in lockstep
in numpy; one seeded generator draws everything in fixed shapes, so a seed and an action sequence
give one trajectory. docs/contract_combat.md has the rules.

    env = ContractCombatEnv(n_envs=64, seed=0)
    obs = env.reset()                        # local_obs (E, 5, 64): the contract's floats
    obs, result = env.step(actions)          # actions (E, 5) in [0, 10); auto-reset

With action_space="combat" there is an eleventh action, DEFER (10): the monster does what the
traditional AI does (the gateway's answer 255), so a combat policy learns where to override it.
With action_space="pack" the actions are the seven pack actions, executed through their recipes
over the ten (recipes.py, docs/pack_recipes.md). `step(actions, primitives=...)` lets chosen
monsters execute one of the ten instead in the same step (a game server's traditional AI for a
monster whose answer missed its deadline): primitives (E, 5), -1 where `actions` applies.
`scenario=` names how fights are drawn ("standard", "ambush", ...: scenarios.py).
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
from numpy.typing import NDArray

from config.model_types import DEFER
from models.envs.base import EpisodeStats, Observation, StepResult
from models.envs.contract_combat.encode import encode
from models.envs.contract_combat.enrichment import K as ENRICH_K
from models.envs.contract_combat.enrichment import pack_features
from models.envs.contract_combat.execute import N_ACTIONS, Orders, execute, monster_steps, walk
from models.envs.contract_combat.recipes import leader_and_focus, pack_orders
from models.envs.contract_combat.scenarios import scenario as named_scenario
from models.envs.contract_combat.scenarios import surround
from models.envs.contract_combat.traditional import traditional_actions
from models.envs.contract_combat.units import (
    BLESSING,
    BLESSING_BONUS,
    BLESSING_STEPS,
    BLIND,
    DAMAGE,
    HEAL,
    LOOT_S,
    MAX_PACK,
    MAX_PLAYERS,
    MIN_PACK,
    POISON,
    SILENCE,
    STUN,
    Monsters,
    Players,
    new_monsters,
    new_players,
)
from models.envs.contract_combat.world import (
    MAX_HAZARDS,
    MAX_ITEMS,
    NEAR_RANGE,
    STEP_MS,
    World,
    new_maps,
)
from models.envs.pack_combat import rules as R
from models.envs.pack_combat.combat import adventurer_intents, chebyshev, gather
from models.envs.pack_combat.rewards import (
    DAMAGE_WEIGHT,
    DEATH_PENALTY,
    HEAL_WEIGHT,
    KILL_WEIGHT,
    SURVIVAL_WEIGHT,
)
from models.envs.pack_combat.signals import PackSignals, encode_signal_vectors, pack_signals

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]

VICTORY, DEFEAT, TIMEOUT = 0, 1, 2
#: Actions per action space: the game server's ten primitives; those and DEFER; the pack actions.
#: The combat space's DEFER (config/model_types.py) is its eleventh action: the traditional AI.
ACTION_SPACES = {"primitives": N_ACTIONS, "combat": DEFER + 1, "pack": R.N_ACTIONS}
STATE_DIM, SIGNAL_DIM, GLOBAL_DIM = 64, 32, 64
#: The team's share of the damage it dealt, per party max hp (a dense team term: the pack
#: simulator's formation and support terms have no counterpart here).
TEAM_DAMAGE_WEIGHT = 2.0
#: Damage a monster's attack rolls uniformly between its two attack values; players' rolls vary
#: by this much around their attack (as in the pack simulator).
PLAYER_JITTER = 0.2
#: Statuses a player's hit inflicts on a monster: class -> (status, chance, steps). The wizard's
#: skill units poison.
INFLICT = {
    R.KNIGHT: (STUN, 0.15, 2),
    R.HUNTER: (BLIND, 0.2, 5),
    R.PRIEST: (SILENCE, 0.3, 5),
}
HAZARD_STATUS = (POISON, 0.3, 8)
#: A skill unit lasts this many steps and deals this share of the wizard's attack every step.
HAZARD_STEPS, HAZARD_SHARE = 3, 0.5
#: Poison takes this share of max hp per step and never kills (rAthena's poison stops at 1 hp).
POISON_SHARE = 0.01
#: SP regained per step, share of max sp.
SP_REGEN = 0.005
#: Blind monsters deal this share of their damage (their hits miss).
BLIND_FACTOR = 0.5


class ContractCombatEnv:
    """E contract fights in lockstep (the `MultiAgentEnv` protocol, auto-reset)."""

    score_name = "win_rate"

    def __init__(
        self,
        n_envs: int,
        seed: int = 0,
        pack_size: int | tuple[int, int] = (MIN_PACK, MAX_PACK),
        n_players: int | tuple[int, int] = (1, MAX_PLAYERS),
        max_steps: int = 100,
        team_reward_weight: float = 0.7,
        mask_failing: bool = False,
        action_space: str = "primitives",
        enrich: bool = False,
        scenario: str = "standard",
    ) -> None:
        if n_envs < 1 or max_steps < 1:
            raise ValueError("n_envs and max_steps must be >= 1")
        if not 0.0 <= team_reward_weight <= 1.0:
            raise ValueError(f"team_reward_weight must be in [0, 1], got {team_reward_weight}")
        if action_space not in ACTION_SPACES:
            raise ValueError(
                f"action_space must be one of {', '.join(ACTION_SPACES)}, got {action_space!r}"
            )
        self.n_envs = n_envs
        #: "primitives": the game server's ten actions; "pack": the seven pack actions, each run
        #: through its recipe over the ten (recipes.pack_orders).
        self.action_space = action_space
        self.n_actions = ACTION_SPACES[action_space]
        self.max_steps = max_steps
        self.team_reward_weight = team_reward_weight
        #: False: every action is allowed and may fail, as on the game server. True: actions
        #: known to fail (a skill not usable, no other target, nothing to close in on) are masked.
        self.mask_failing = mask_failing
        #: True: local_obs is (E, 5, 64 + enrichment.K), the contract's 64 floats then the pack
        #: features the database computes from ml.monsters (enrichment.py, docs/enrichment.md);
        #: global_state is padded with K zeros to the same width (ctde.state_dim = 64 + K).
        self.enrich = enrich
        #: The named scenario new fights are drawn from (scenarios.py): its sizes are clipped into
        #: pack_size (as set_pack_size moves it) and n_players at every reset.
        self.scenario = named_scenario(scenario)
        self.set_pack_size(pack_size)
        self.n_players = _size_range(n_players, 1, MAX_PLAYERS, "n_players")
        self._rng = np.random.default_rng(seed)
        E = n_envs
        self.world = World.empty(E)
        self.monsters = Monsters.empty(E)
        self.players = Players.empty(E)
        self.t = np.zeros(E, np.int64)
        self._return = np.zeros(E)
        self._ep = {
            k: np.zeros(E) for k in ("kills", "failed", "actions", "skills", "flees", "deferred")
        }
        #: (local (E, 5, 64), signals (E, 5, 32)) as the last step's timed-out fights ended, else
        #: None.
        self.timeout_obs: tuple[F32, F32] | None = None
        self._reset_envs(np.arange(E))

    def __setstate__(self, state: dict[str, object]) -> None:
        # A run's checkpoint pickles its environment: one written before scenarios existed drew
        # the standard fights, and resumes drawing them.
        state.setdefault("scenario", named_scenario("standard"))
        self.__dict__.update(state)

    def set_pack_size(self, pack_size: int | tuple[int, int]) -> None:
        """Pack sizes drawn at the next resets (the trainer's 2 -> 5 curriculum); a scenario
        with its own pack sizes has them clipped into this range (scenarios.py)."""
        self.pack_size = _size_range(pack_size, MIN_PACK, MAX_PACK, "pack_size")

    # --- episodes -----------------------------------------------------------------------------
    def reset(self) -> Observation:
        self._reset_envs(np.arange(self.n_envs))
        return self._observe()

    def _reset_envs(self, ids: I64) -> None:
        if ids.size == 0:
            return
        k = ids.size
        sc = self.scenario
        world, pack_c, party_c = new_maps(self._rng, k)
        mon = new_monsters(self._rng, k, sc.pack_sizes(self.pack_size), pack_c)
        if sc.ambush_radius is not None:
            # Only the positions move: the pack's spawn centre (where FLEE leads) stays its own.
            mon.pos = surround(self._rng, party_c, mon.present.sum(1), sc.ambush_radius)
        self.world.assign(ids, world)
        self.monsters.assign(ids, mon)
        party = new_players(
            self._rng, k, sc.player_counts(self.n_players), party_c, mon, sc.party_classes
        )
        self.players.assign(ids, party)
        self.t[ids] = 0
        self._return[ids] = 0.0
        for v in self._ep.values():
            v[ids] = 0.0
        self._near_refresh()

    def summarize(self, episodes: EpisodeStats) -> dict[str, float]:
        x = episodes.extra
        if "outcome" not in x:
            raise TypeError("summarize takes this environment's episodes")
        return {
            "win_rate": float((x["outcome"] == VICTORY).mean()),
            "defeat_rate": float((x["outcome"] == DEFEAT).mean()),
            "timeout_rate": float((x["outcome"] == TIMEOUT).mean()),
            "kills": float(x["kills"].mean()),
            "pack_survival": float(x["pack_survival"].mean()),
            "failed_action_rate": float(x["failed_action_rate"].mean()),
            "skills_used": float(x["skills_used"].mean()),
            "deferred_rate": float(x["deferred_rate"].mean()),
            "mean_length": float(episodes.length.mean()),
            "team_return": float(episodes.team_return.mean()),
        }

    # --- one step -----------------------------------------------------------------------------
    def step(
        self, actions: NDArray[np.integer], primitives: NDArray[np.integer] | None = None
    ) -> tuple[Observation, StepResult]:
        """One step of every fight. `primitives` (E, 5), optional: -1 where the monster executes
        `actions`, 0-9 where it executes that primitive instead (in either action space; with
        "pack", those monsters skip their recipe, the others follow theirs)."""
        act = np.asarray(actions)
        E, N, M = self.n_envs, MAX_PACK, MAX_PLAYERS
        if act.shape != (E, N):
            raise ValueError(f"actions must have shape {(E, N)}, got {act.shape}")
        A = self.n_actions
        if not np.issubdtype(act.dtype, np.integer) or act.min() < 0 or act.max() >= A:
            raise ValueError(f"actions must be integers in [0, {A})")
        act = act.astype(np.int64)
        prim = np.full((E, N), -1, np.int64)
        if primitives is not None:
            given = np.asarray(primitives)
            if given.shape != (E, N):
                raise ValueError(f"primitives must have shape {(E, N)}, got {given.shape}")
            if (
                not np.issubdtype(given.dtype, np.integer)
                or given.min() < -1
                or given.max() >= N_ACTIONS
            ):
                raise ValueError(f"primitives must be integers in [-1, {N_ACTIONS})")
            prim = given.astype(np.int64)
        m, p, w, rng = self.monsters, self.players, self.world, self._rng
        u = p.units
        S = w.size
        acting = m.alive.copy()
        # Every draw of the step, in fixed shapes (determinism per seed).
        wander = rng.uniform(-1.0, 1.0, (E, N, 2))
        m_roll = rng.random((E, N))
        p_roll = rng.uniform(1 - PLAYER_JITTER, 1 + PLAYER_JITTER, (E, M))
        status_roll = rng.random((E, N, M + 1))

        override = prim >= 0
        if self.action_space == "combat":
            # DEFER: the traditional AI's primitive, from the world at the step's start (its
            # wandering draw comes from the step's own draws, so a seed still fixes the run).
            deferred = act == DEFER
            act = np.where(deferred, traditional_actions(m, p, acting, m_roll), act)
            self._ep["deferred"] += (deferred & acting).sum(1)
        if self.action_space == "pack":
            orders = pack_orders(act, m, p, acting, wander, S)
            if override.any():
                # Each monster's orders read only the state at the step's start, so the two sets
                # can be computed for everyone and merged per monster.
                own = execute(m, p, np.where(override, prim, 0), acting, wander, S)
                orders = _merge_orders(override, own, orders)
        else:
            orders = execute(m, p, np.where(override, prim, act), acting, wander, S)
        ai = adventurer_intents(
            u, m.as_units(), u.alive.copy(), p.target, np.zeros((E, N), bool), 0, S
        )
        p.target = np.where(u.alive, ai.target, p.target)

        # --- damage and heal, all at once on the state at the start of the step ---
        mean_atk = 0.5 * (m.atk1 + m.atk2)
        boost = (1.0 + BLESSING_BONUS * (m.blessed > 0)) * np.where(
            m.status[..., BLIND] > 0, BLIND_FACTOR, 1.0
        )
        hit = m.atk1 + (m.atk2 - m.atk1) * m_roll
        slot = np.maximum(orders.skill, 0)[..., None]
        kind = np.where(orders.skill >= 0, np.take_along_axis(m.skill_kind, slot, 2)[..., 0], -1)
        power = np.take_along_axis(m.skill_power, slot, 2)[..., 0]
        armor_t = gather(u.armor, orders.target)
        melee = np.where(orders.attacking, hit * boost * (1 - armor_t), 0.0)
        armor_s = gather(u.armor, orders.skill_target)
        skill_dmg = np.where(
            kind == DAMAGE, power * mean_atk * (1 + BLESSING_BONUS * (m.blessed > 0)), 0.0
        ) * (1 - armor_s)
        to_player = np.zeros((E, N, M))
        _add_at(to_player, orders.target, melee)
        _add_at(to_player, orders.skill_target, skill_dmg)
        heal_amt = np.where(kind == HEAL, power * gather(m.max_hp, orders.heal_target), 0.0)
        healed = np.zeros((E, N, N))
        _add_at(healed, orders.heal_target, heal_amt)

        by_player = np.zeros((E, M, N))  # damage player m dealt monster n
        direct = ai.attacking & (u.cls != R.WIZARD)
        dmg = u.atk * p_roll
        armor_m = gather(m.armor, ai.attack)
        _add_at(by_player, np.where(direct, ai.attack, -1), dmg * (1 - armor_m))
        # The wizard's spell is a skill unit on its target's cell: it hurts every monster within a
        # cell for HAZARD_STEPS steps, starting now.
        casts = ai.attacking & (u.cls == R.WIZARD)
        self._place_hazards(casts, ai.attack, u.atk * p_roll)
        haz_live = w.hazard_ttl > 0
        near_haz = (chebyshev(w.hazard_pos, m.pos) <= 1) & haz_live[..., None]  # (E, H, N)
        haz_dmg = near_haz * w.hazard_power[..., None] * (1 - m.armor[:, None, :])
        owner = (w.hazard_owner[..., None] == np.arange(M)).astype(np.float64)  # (E, H, M)
        by_player += np.einsum("ehm,ehn->emn", owner, haz_dmg)
        heal_to_p = np.zeros((E, M, M))
        _add_at(heal_to_p, ai.heal_target, np.where(ai.healing, u.heal, 0.0))

        was_alive, p_was_alive = m.alive.copy(), u.alive.copy()
        got = by_player.sum(1)
        m.hp = np.where(m.alive, np.minimum(m.hp + healed.sum(1), m.max_hp) - got, 0.0)
        u.hp = np.where(
            u.alive, np.minimum(u.hp + heal_to_p.sum(1), u.max_hp) - to_player.sum(1), 0
        )
        m.alive &= m.hp > 0
        u.alive &= u.hp > 0
        # A master's death takes its slaves with it (rAthena's mob_deleteslave).
        master_dead = (m.master >= 0) & ~gather(m.alive, m.master)
        m.alive &= ~master_dead
        m.hp = np.where(m.alive, m.hp, 0.0)
        u.hp = np.maximum(u.hp, 0.0)
        mon_died = was_alive & ~m.alive
        p_died = p_was_alive & ~u.alive

        # Statuses: the hits' and the skill units', then the buffs.
        hit_by = by_player > 0  # (E, M, N)
        self._tick_statuses()
        for cls, (status, chance, steps) in INFLICT.items():
            lands = (
                hit_by
                & (u.cls == cls)[..., None]
                & (status_roll[..., :M] < chance).transpose(0, 2, 1)
            ).any(1)
            m.status[..., status] = np.where(lands & m.alive, steps, m.status[..., status])
        status, chance, steps = HAZARD_STATUS
        poisoned = near_haz.any(1) & (status_roll[..., M] < chance) & m.alive
        m.status[..., status] = np.where(poisoned, steps, m.status[..., status])
        blessing = (kind == BLESSING)[..., None]
        reach = np.take_along_axis(m.skill_range, slot, 2)[..., 0]
        blessed_now = (
            blessing & (chebyshev(m.pos, m.pos) <= reach[..., None]) & m.alive[:, None, :]
        ).any(1)
        m.blessed = np.where(blessed_now & m.alive, BLESSING_STEPS, np.maximum(m.blessed - 1, 0))

        # Skills: SP and cooldown.
        used = orders.skill >= 0
        cost = np.take_along_axis(m.skill_sp, slot, 2)[..., 0]
        m.sp = np.minimum(np.where(used, m.sp - cost, m.sp) + SP_REGEN * m.max_sp, m.max_sp)
        m.skill_cd = np.maximum(m.skill_cd - STEP_MS, 0.0)
        onehot = used[..., None] & (np.arange(m.skill_cd.shape[2]) == slot)
        m.skill_cd = np.where(onehot, m.skill_delay, m.skill_cd)

        # --- movement (the living only) ---
        m_move = orders.moving & m.alive
        new_pos = walk(
            m.pos, orders.goal, np.where(m_move, monster_steps(m), 0), orders.stop, w.walkable
        )
        p_move = ai.moving & u.alive
        p_pos = walk(u.pos, ai.goal, p_move.astype(np.int64), np.zeros((E, M)), w.walkable)
        m.walking = (new_pos != m.pos).any(-1)
        m.pos, u.pos = new_pos, p_pos

        # --- the monsters' bookkeeping ---
        m.attacking = orders.attacking & acting
        m.casting = used & acting
        m.target = orders.target
        m.started_fight |= orders.acquired & ~m.provoked
        hit_any = hit_by.any(1)
        m.provoked |= hit_any
        top = np.where(hit_by, by_player, -1.0).argmax(1)
        m.last_attacker = np.where(hit_any, top, m.last_attacker)
        self._drop_lost_targets()
        # A monster hit without a target turns on its attacker (rAthena's attacked_id reaction).
        m.target = np.where(hit_any & (m.target < 0) & m.alive, m.last_attacker, m.target)
        m.ai_state = np.where(acting, orders.ai_state, m.ai_state)
        self._loot_and_drops(mon_died)
        m.time_alive_ms = m.time_alive_ms + STEP_MS
        self._near_refresh(STEP_MS)
        w.hazard_ttl = np.maximum(w.hazard_ttl - 1, 0)

        # --- outcome and rewards ---
        self.t += 1
        victory = m.alive.any(1) & ~u.alive.any(1)
        defeat = ~m.alive.any(1)
        timeout = ~victory & ~defeat & (self.t >= self.max_steps)
        done = victory | defeat | timeout
        party_max = np.maximum((u.max_hp * u.present).sum(1), 1.0)
        pack_max = np.maximum((m.max_hp * m.present).sum(1), 1.0)
        own_dmg = to_player.sum(2)
        own_heal = np.minimum(
            healed, np.maximum(m.max_hp - (m.hp - healed.sum(1)), 0)[:, None, :]
        ).sum(2)
        survival = np.where(victory, m.alive.sum(1) / np.maximum(m.present.sum(1), 1), 0.0)
        kills = p_died.sum(1)
        team = (
            SURVIVAL_WEIGHT * survival
            + KILL_WEIGHT * kills
            + TEAM_DAMAGE_WEIGHT * own_dmg.sum(1) / party_max
        )
        individual = np.where(
            acting,
            DAMAGE_WEIGHT * own_dmg / party_max[:, None]
            + HEAL_WEIGHT * own_heal / pack_max[:, None]
            - DEATH_PENALTY * mon_died,
            0.0,
        )
        wt = self.team_reward_weight
        agent = np.where(acting, wt * team[:, None] + (1 - wt) * individual, 0.0)
        self._return += team
        ep = self._ep
        ep["kills"] += kills
        ep["failed"] += (orders.failed & acting).sum(1)
        ep["actions"] += acting.sum(1)
        ep["skills"] += used.sum(1)

        terminal = self._global_state()
        terminal_mask = m.present.copy()
        finished = np.nonzero(done)[0]
        outcome = np.where(victory, VICTORY, np.where(defeat, DEFEAT, TIMEOUT))
        episodes = EpisodeStats(
            env_index=finished,
            length=self.t[finished].copy(),
            team_return=self._return[finished].copy(),
            extra={
                "outcome": outcome[finished].astype(np.float64),
                "kills": ep["kills"][finished].copy(),
                "pack_size": m.present[finished].sum(1).astype(np.float64),
                "n_players": u.present[finished].sum(1).astype(np.float64),
                "pack_survival": m.alive[finished].sum(1) / m.present[finished].sum(1),
                "failed_action_rate": ep["failed"][finished]
                / np.maximum(ep["actions"][finished], 1),
                "skills_used": ep["skills"][finished].copy(),
                # Share of the monsters' actions left to the traditional AI (combat space only).
                "deferred_rate": ep["deferred"][finished] / np.maximum(ep["actions"][finished], 1),
            },
        )
        # The contract floats and signals of fights that ran out of time, as they ended (the
        # reset below replaces them): an RLlib episode bootstraps a truncated monster's value from
        # its last observation (models/rllib/env.py).
        self.timeout_obs = (encode(m, self.players, w), self._signals()) if timeout.any() else None
        self._reset_envs(finished)
        result = StepResult(
            team_reward=team.astype(np.float32),
            agent_rewards=agent.astype(np.float32),
            individual_rewards=individual.astype(np.float32),
            done=done,
            truncated=timeout,
            terminal_global_state=terminal,
            terminal_pack_mask=terminal_mask,
            episodes=episodes,
        )
        return self._observe(), result

    # --- rules applied between steps ----------------------------------------------------------
    def _place_hazards(self, casts: B, target: I64, power: F64) -> None:
        """Each casting wizard puts a skill unit on its target's cell, replacing the oldest."""
        w, m = self.world, self.monsters
        for j in range(casts.shape[1]):
            rows = np.nonzero(casts[:, j])[0]
            if rows.size == 0:
                continue
            h = w.hazard_ttl[rows].argmin(1)
            w.hazard_pos[rows, h] = m.pos[rows, target[rows, j]]
            w.hazard_ttl[rows, h] = HAZARD_STEPS
            w.hazard_power[rows, h] = HAZARD_SHARE * power[rows, j]
            w.hazard_owner[rows, h] = j

    def _tick_statuses(self) -> None:
        m = self.monsters
        poisoned = m.status[..., POISON] > 0
        m.hp = np.where(
            poisoned & m.alive,
            np.maximum(m.hp - POISON_SHARE * m.max_hp, np.minimum(m.hp, 1.0)),
            m.hp,
        )
        m.status = np.maximum(m.status - 1, 0)
        m.status = np.where(m.alive[..., None], m.status, 0)

    def _drop_lost_targets(self) -> None:
        """Targets that died or ran beyond the chase range are dropped (rAthena's mob AI)."""
        m, u = self.monsters, self.players.units
        d = np.take_along_axis(chebyshev(m.pos, u.pos), np.maximum(m.target, 0)[..., None], 2)[
            ..., 0
        ]
        lost = (m.target >= 0) & (~gather(u.alive, m.target) | (d > m.chase_range) | ~m.alive)
        m.target = np.where(lost, -1, m.target)
        m.last_attacker = np.where(
            (m.last_attacker >= 0) & ~gather(u.alive, m.last_attacker), -1, m.last_attacker
        )

    def _loot_and_drops(self, died: B) -> None:
        """Looters pick up an item within a cell when they did not fight this step; a dead
        monster drops an item on its cell."""
        w, m = self.world, self.monsters
        d = chebyshev(m.pos, w.item_pos)  # (E, N, I)
        for n in range(m.alive.shape[1]):
            can = m.alive[:, n] & m.looter[:, n] & ~m.attacking[:, n] & ~m.casting[:, n]
            reach = w.item_present & (d[:, n] <= 1) & can[:, None]
            rows = np.nonzero(reach.any(1))[0]
            if rows.size:
                w.item_present[rows, reach[rows].argmax(1)] = False
                m.ai_state[rows, n] = LOOT_S
        for n in range(m.alive.shape[1]):
            rows = np.nonzero(died[:, n] & ~w.item_present.all(1))[0]
            if rows.size:
                free = (~w.item_present[rows]).argmax(1)
                w.item_pos[rows, free] = m.pos[rows, n]
                w.item_present[rows, free] = True

    def _near_refresh(self, elapsed_ms: float = 0.0) -> None:
        """ms since a player was last within NEAR_RANGE: 0 while one is, else it grows."""
        m, u = self.monsters, self.players.units
        near = (u.alive[:, None, :] & (chebyshev(m.pos, u.pos) <= NEAR_RANGE)).any(2)
        m.since_player_ms = np.where(near, 0.0, m.since_player_ms + elapsed_ms)

    # --- observations -------------------------------------------------------------------------
    def _observe(self) -> Observation:
        m = self.monsters
        acting = m.alive.copy()
        local = encode(m, self.players, self.world)
        local[~acting] = 0.0
        if self.enrich:
            leader, _ = leader_and_focus(m, self.players.units)
            local = np.concatenate([local, pack_features(m, leader)], axis=2)
        signals = self._signals()
        signals[~acting] = 0.0
        mask = np.ones((self.n_envs, MAX_PACK, self.n_actions), bool)
        if self.mask_failing and self.action_space != "pack":
            mask = self._failing_mask()
            if self.action_space == "combat":  # DEFER never fails
                mask = np.concatenate([mask, np.ones_like(mask[..., :1])], axis=2)
        elif self.mask_failing:
            # The ally-bound recipes without a living packmate are plain attacks: masked, as the
            # pack simulator masks them.
            alone = m.alive.sum(1) < 2
            for a in (R.HELP_ALLY, R.GROUP_UP, R.PROTECT_WEAK):
                mask[alone, :, a] = False
        mask[~acting] = False
        mask[~acting, 0] = True
        return Observation(
            local_obs=local,
            signals=signals,
            global_state=self._global_state(),
            agent_mask=acting,
            pack_mask=m.present.copy(),
            action_mask=mask,
        )

    def leader_signals(self) -> tuple[PackSignals, I64]:
        """What every pack's leader signals now (the pack simulator's rules), and the player its
        attack_target names: the leader is the master while it lives, else the monster with the
        most max hp; the focus target follows the pack simulator's order (healer first, any
        player under a quarter of its hp first). A game server sends these through SQL."""
        m, u = self.monsters, self.players.units
        leader, focus = leader_and_focus(m, u)
        pack_hp = (m.hp * m.alive).sum(1) / np.maximum((m.max_hp * m.present).sum(1), 1e-9)
        sc = R.Scenario()
        signals = pack_signals(
            leader=leader,
            focus=focus,
            adv_class=u.cls,
            adv_alive=u.alive,
            pack_hp_fraction=pack_hp,
            hp_ratio=m.hp / np.maximum(m.max_hp, 1e-9),
            alive=m.alive,
            retreat_threshold=sc.retreat_threshold,
            help_threshold=sc.help_threshold,
        )
        return signals, focus

    def _signals(self) -> F32:
        """The leaders' signals encoded as the database encodes them."""
        return encode_signal_vectors(self.leader_signals()[0], self.monsters.alive)

    def _failing_mask(self) -> B:
        """Actions that would fail now (the optional mask): a skill action whose slot is not ready
        or unaffordable or silenced, CHANGE_TARGET without another enemy in view, MOVE_CLOSER
        without a target."""
        from models.envs.contract_combat.execute import (
            CHANGE_TARGET,
            MOVE_CLOSER,
            SKILL_1,
            skill_slot,
        )

        m, u = self.monsters, self.players.units
        E, N = m.alive.shape
        mask = np.ones((E, N, N_ACTIONS), bool)
        n_skills = (m.skill_kind >= 0).sum(2)
        for k in range(3):
            slot = np.minimum(skill_slot(np.full((E, N), SKILL_1 + k), n_skills), 2)[..., None]
            ok = np.take_along_axis(m.skill_kind, slot, 2)[..., 0] >= 0
            ok &= np.take_along_axis(m.skill_cd, slot, 2)[..., 0] <= 0
            ok &= np.take_along_axis(m.skill_sp, slot, 2)[..., 0] <= m.sp
            ok &= m.status[..., SILENCE] == 0
            mask[..., SKILL_1 + k] = ok
        d = chebyshev(m.pos, u.pos)
        in_view = u.alive[:, None, :] & (d <= m.view_range[..., None])
        other = in_view & (np.arange(u.alive.shape[1]) != m.target[..., None])
        mask[..., CHANGE_TARGET] = other.any(2)
        mask[..., MOVE_CLOSER] = m.target >= 0
        return mask

    def _global_state(self) -> F32:
        """(E, N, 64) for the critic: the slot's own monster (16), every player (4 x 8), the fight
        (16). Privileged: absolute positions, everyone's hp, the party's classes."""
        m, u, w = self.monsters, self.players.units, self.world
        E, N = m.alive.shape
        M = u.alive.shape[1]
        S = float(w.size - 1)
        g = np.zeros((E, N, GLOBAL_DIM))
        ratio = m.hp / np.maximum(m.max_hp, 1e-9)
        g[..., 0] = m.alive
        g[..., 1] = ratio
        g[..., 2] = m.sp / np.maximum(m.max_sp, 1e-9)
        g[..., 3:5] = m.pos / S
        g[..., 5:11] = np.eye(R.N_ARCHETYPES)[m.arch]
        g[..., 11] = m.master >= 0
        g[..., 12] = (
            (m.master[:, None, :] == np.arange(N)[None, :, None]) & m.alive[:, None, :]
        ).any(2)
        d_t = np.take_along_axis(chebyshev(m.pos, u.pos), np.maximum(m.target, 0)[..., None], 2)[
            ..., 0
        ]
        g[..., 13] = np.where(m.target >= 0, np.minimum(d_t / S, 1.0), 1.0)
        g[..., 14] = (m.status > 0).any(2)
        g[..., 15] = ((m.skill_kind >= 0) & (m.skill_cd <= 0)).sum(2) / 3.0
        feats = np.zeros((E, M, 8))
        feats[..., 0] = u.alive
        feats[..., 1:3] = u.pos / S
        feats[..., 3] = u.hp / np.maximum(u.max_hp, 1e-9)
        feats[..., 4:8] = np.eye(R.N_CLASSES)[u.cls]
        feats *= u.present[..., None]
        g[..., 16:48] = feats.reshape(E, 1, -1)
        fight = np.zeros((E, N, 16))
        fight[..., 0] = (self.t / self.max_steps)[:, None]
        fight[..., 1] = (m.alive.sum(1) / np.maximum(m.present.sum(1), 1))[:, None]
        fight[..., 2] = ((m.hp * m.alive).sum(1) / np.maximum((m.max_hp * m.present).sum(1), 1e-9))[
            :, None
        ]
        fight[..., 3] = (u.alive.sum(1) / np.maximum(u.present.sum(1), 1))[:, None]
        fight[..., 4] = ((u.hp * u.alive).sum(1) / np.maximum((u.max_hp * u.present).sum(1), 1e-9))[
            :, None
        ]
        fight[..., 5:9] = (m.target[..., None] == np.arange(M)) & (m.target >= 0)[..., None]
        fight[..., 9] = (m.present.sum(1) / MAX_PACK)[:, None]
        fight[..., 10] = (u.present.sum(1) / MAX_PLAYERS)[:, None]
        fight[..., 11] = (self._ep["kills"] / MAX_PLAYERS)[:, None]
        fight[..., 12] = w.day[:, None]
        fight[..., 13] = ((w.hazard_ttl > 0).sum(1) / MAX_HAZARDS)[:, None]
        master_alive: B = (m.master >= 0) & gather(m.alive, m.master)
        fight[..., 14] = (master_alive.sum(1) > 0)[:, None]
        fight[..., 15] = (w.item_present.sum(1) / MAX_ITEMS)[:, None]
        g[..., 48:] = fight
        g *= m.present[..., None]
        if self.enrich:
            # The critics read ctde.state_dim wide global states too: zeros pad them to 64 + K, so
            # the critic's information is the same with and without enrichment (it is the actor's
            # input that is measured).
            g = np.concatenate([g, np.zeros((E, N, ENRICH_K))], axis=2)
        return g.astype(np.float32)


def _merge_orders(use_first: B, first: Orders, second: Orders) -> Orders:
    """Per monster, `first`'s orders where `use_first` (E, N), else `second`'s."""
    merged = {}
    for f in fields(Orders):
        a, b = getattr(first, f.name), getattr(second, f.name)
        mask = use_first.reshape(use_first.shape + (1,) * (a.ndim - use_first.ndim))
        merged[f.name] = np.where(mask, a, b)
    return Orders(**merged)


def _add_at(out: F64, index: I64, value: F64) -> None:
    """out[e, k, index[e, k]] += value[e, k] where index >= 0 (out: (E, K, X))."""
    onehot = (index[..., None] == np.arange(out.shape[2])) & (index >= 0)[..., None]
    out += onehot * value[..., None]


def _size_range(value: int | tuple[int, int], lo: int, hi: int, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))
    if not lo <= pair[0] <= pair[1] <= hi:
        raise ValueError(f"{name} must lie within [{lo}, {hi}] with min <= max, got {value!r}")
    return pair
