"""Pack-combat simulator: packs of 2-5 monsters against 1-4 scripted adventurers, E fights at once.

The situation the product serves, without a game server: each monster picks one of the seven pack
actions from its 64-float local observation and its 32-float signal vector (encoded by the
database's own `plpython.signal_encoding`); a centralized critic sees the privileged global state.
All E environments advance in lockstep in numpy. One seeded generator drives every random draw, in
fixed shapes, so a seed and an action sequence give one trajectory. Rules, observation layout and
reward terms: docs/simulator.md. Scripted policies and evaluation:
models/envs/pack_combat/policies.py.

    env = PackCombatEnv(n_envs=256, pack_size=(2, 5), n_adventurers=(1, 4), seed=0)
    obs = env.reset()
    obs, result = env.step(nearest_attack_policy(obs))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from models.envs.base import EpisodeStats, Observation, StepResult
from models.envs.pack_combat import rules as R
from models.envs.pack_combat.combat import (
    Units,
    adventurer_intents,
    monster_intents,
    move_toward,
    resolve_hits,
)
from models.envs.pack_combat.observe import EnvView, global_state, local_observation
from models.envs.pack_combat.rewards import RewardTerms, heal_credit, heal_received, reward_terms
from models.envs.pack_combat.signals import PackSignals, encode_signal_vectors, pack_signals
from models.envs.pack_combat.spawn import sample_encounters

VICTORY, DEFEAT, TIMEOUT = 0, 1, 2
OUTCOMES = ("victory", "defeat", "timeout")
#: The leader switches focus to any adventurer under this hp fraction ("finish the weakest").
FINISH_BELOW = 0.25

FloatArray = NDArray[np.float32]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]


@dataclass(kw_only=True)
class PackEpisodeStats(EpisodeStats):
    """The fights that ended this step (K rows, K may be 0): the generic rows and the pack's."""

    outcome: IntArray  # (K,) VICTORY / DEFEAT / TIMEOUT
    pack_size: IntArray  # (K,)
    n_adventurers: IntArray  # (K,)
    kills: IntArray  # (K,) adventurers killed
    coordinated_kills: IntArray  # (K,) kills with 2+ distinct monsters hitting within the window
    pack_survival: NDArray[np.float64]  # (K,) living monsters / pack size at the end
    coordination_score: NDArray[np.float64]  # (K,) share of hits on a target a packmate also hit
    flank_rate: NDArray[np.float64]  # (K,) share of hits that landed with the flank bonus

    @property
    def wins(self) -> int:
        return int((self.outcome == VICTORY).sum())


@dataclass(kw_only=True)
class PackStepResult(StepResult):
    """A step of the pack fights: its reward terms and the pack's episode rows."""

    terms: RewardTerms  # the team reward's four terms, for logging
    episodes: PackEpisodeStats


class PackCombatEnv:
    """E pack fights in lockstep. `step` auto-resets finished environments unless told not to;
    without auto-reset a finished environment stays frozen (agent_mask all False, zero rewards)
    until `reset` names it."""

    def __init__(
        self,
        n_envs: int,
        pack_size: int | tuple[int, int] = (R.MIN_PACK, R.MAX_PACK),
        n_adventurers: int | tuple[int, int] = (1, R.MAX_ADV),
        seed: int = 0,
        max_steps: int = 80,
        scenario: str | R.Scenario = "standard",
        team_reward_weight: float = 0.7,
        auto_reset: bool = True,
    ) -> None:
        if n_envs < 1:
            raise ValueError(f"n_envs must be >= 1, got {n_envs}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        if not 0.0 <= team_reward_weight <= 1.0:
            raise ValueError(f"team_reward_weight must be in [0, 1], got {team_reward_weight}")
        if isinstance(scenario, str):
            if scenario not in R.SCENARIOS:
                known = ", ".join(R.SCENARIOS)
                raise ValueError(f"unknown scenario {scenario!r} (known: {known})")
            scenario = R.SCENARIOS[scenario]
        self.scenario = scenario
        self.n_envs = n_envs
        self.max_steps = max_steps
        self.team_reward_weight = team_reward_weight
        self.auto_reset = auto_reset
        self.set_pack_size(pack_size)
        self.n_adventurers = _size_range(n_adventurers, 1, R.MAX_ADV, "n_adventurers")
        self._rng = np.random.default_rng(seed)
        E, N, M = n_envs, R.MAX_PACK, R.MAX_ADV
        self.mon = Units.empty(E, N)
        self.adv = Units.empty(E, M)
        self.adv_target = np.full((E, M), -1, np.int64)  # each adventurer's current target
        self.mon_aim = np.full((E, N), -1, np.int64)  # the adventurer each monster is aiming at
        self.t = np.zeros(E, np.int64)
        self.focus = np.full(E, -1, np.int64)  # the leader's attack_target, an adventurer slot
        self.leader = np.full(E, -1, np.int64)
        self.last_hit = np.full((E, N, M), _NEVER, np.int64)  # tick monster n last hit adv m
        self.done = np.zeros(E, bool)
        self._ep_return = np.zeros(E)
        self._ep = {
            name: np.zeros(E, np.int64)
            for name in ("kills", "coordinated_kills", "attacks", "shared", "flanked")
        }
        self._signals: PackSignals | None = None
        self._reset_envs(np.arange(E))

    score_name = "win_rate"

    def summarize(self, episodes: EpisodeStats) -> dict[str, float]:
        """Outcome shares and the pack's means over finished fights (the evaluator's summary)."""
        if not isinstance(episodes, PackEpisodeStats):
            raise TypeError(f"summarize takes this simulator's episodes, got {type(episodes)}")
        return {
            "win_rate": float((episodes.outcome == VICTORY).mean()),
            "defeat_rate": float((episodes.outcome == DEFEAT).mean()),
            "timeout_rate": float((episodes.outcome == TIMEOUT).mean()),
            "coordinated_kills": float(episodes.coordinated_kills.mean()),
            "pack_survival": float(episodes.pack_survival.mean()),
            "coordination_score": float(episodes.coordination_score.mean()),
            "flank_rate": float(episodes.flank_rate.mean()),
            "mean_length": float(episodes.length.mean()),
            "team_return": float(episodes.team_return.mean()),
        }

    def set_pack_size(self, pack_size: int | tuple[int, int]) -> None:
        """Pack sizes drawn at the next resets (a curriculum 2 -> 5 changes this between rounds)."""
        self.pack_size = _size_range(pack_size, R.MIN_PACK, R.MAX_PACK, "pack_size")

    @property
    def signals(self) -> PackSignals:
        """The signals behind the current observation (diagnostics, `signal_dicts`)."""
        assert self._signals is not None
        return self._signals

    # --- episode lifecycle --------------------------------------------------------------------

    def reset(self, env_ids: NDArray[np.integer] | None = None) -> Observation:
        """New episodes in `env_ids` (all by default); returns the observation of every env."""
        ids = np.arange(self.n_envs) if env_ids is None else np.asarray(env_ids, np.int64)
        self._reset_envs(ids)
        return self._observe()

    def _reset_envs(self, ids: IntArray) -> None:
        if ids.size == 0:
            return
        enc = sample_encounters(
            self._rng, ids.size, self.pack_size, self.n_adventurers, self.scenario
        )
        self.mon.load(ids, enc.mon_stats, enc.mon_arch, enc.mon_present, enc.mon_pos)
        self.adv.load(ids, enc.adv_stats, enc.adv_class, enc.adv_present, enc.adv_pos)
        self.adv_target[ids] = -1
        self.mon_aim[ids] = -1
        self.t[ids] = 0
        self.last_hit[ids] = _NEVER
        self.done[ids] = False
        self._ep_return[ids] = 0.0
        for counter in self._ep.values():
            counter[ids] = 0
        self._update_command()

    # --- one tick -----------------------------------------------------------------------------

    def step(self, actions: NDArray[np.integer]) -> tuple[Observation, PackStepResult]:
        """Apply (E, N) pack actions in [0, 7); actions of slots that do not act are ignored."""
        act = np.asarray(actions)
        E, N, M = self.n_envs, R.MAX_PACK, R.MAX_ADV
        if act.shape != (E, N):
            raise ValueError(f"actions must have shape {(E, N)}, got {act.shape}")
        if not np.issubdtype(act.dtype, np.integer) or act.min() < 0 or act.max() >= R.N_ACTIONS:
            raise ValueError(f"actions must be integers in [0, {R.N_ACTIONS})")
        act = act.astype(np.int64)
        mon, adv, sc = self.mon, self.adv, self.scenario
        live = ~self.done
        acting = mon.alive & live[:, None]
        adv_acting = adv.alive & live[:, None]

        # Intents are decided on the state at the start of the tick and resolved simultaneously.
        mi = monster_intents(
            mon=mon,
            adv=adv,
            actions=act,
            acting=acting,
            focus=self.focus,
            leader=self.leader,
            adv_target=self.adv_target,
            aim=self.mon_aim,
            map_size=sc.map_size,
        )
        ai = adventurer_intents(
            adv, mon, adv_acting, self.adv_target, mi.provoking, sc.provoke_range, sc.map_size
        )
        self.mon_aim = np.where(acting, mi.target, self.mon_aim)
        self.adv_target = np.where(adv_acting, ai.target, self.adv_target)
        jitter = sc.damage_jitter
        mon_roll = self._rng.uniform(1 - jitter, 1 + jitter, (E, N))
        adv_roll = self._rng.uniform(1 - jitter, 1 + jitter, (E, M))
        hits = resolve_hits(mon, adv, mi, ai, mon_roll, adv_roll, sc.flank_bonus, sc.splash_radius)
        heal_to_mon = heal_received(mi.heal_target, mi.healing, mon.heal, N)
        heal_to_adv = heal_received(ai.heal_target, ai.healing, adv.heal, M)

        # Support effectiveness: heal landing on packmates under half hp, and hits by HELP_ALLY or
        # PROTECT_WEAK monsters on adventurers who are attacking such a packmate.
        landed_heal = np.minimum(heal_to_mon, mon.max_hp - mon.hp) * mon.alive
        low = mon.alive & (mon.hp < 0.5 * mon.max_hp)
        useful_heal = landed_heal * low
        threatens_low = np.take_along_axis(low, np.maximum(self.adv_target, 0), 1)
        threatens_low &= (self.adv_target >= 0) & adv.alive
        rescuer = (act == R.HELP_ALLY) | (act == R.PROTECT_WEAK)
        rescue_damage = (hits.by_monsters * threatens_low[:, None, :]).sum(2) * rescuer

        # Heal and damage land together; a unit at 0 hp or less dies and does not move.
        was_alive = mon.alive.copy()
        adv_was_alive = adv.alive.copy()
        mon.hp = np.where(
            mon.alive, np.minimum(mon.hp + heal_to_mon, mon.max_hp) - hits.by_adventurers.sum(1), 0
        )
        adv.hp = np.where(
            adv.alive, np.minimum(adv.hp + heal_to_adv, adv.max_hp) - hits.by_monsters.sum(1), 0
        )
        mon.alive &= mon.hp > 0
        adv.alive &= adv.hp > 0
        mon.hp = np.maximum(mon.hp, 0.0)
        adv.hp = np.maximum(adv.hp, 0.0)
        mon_died = was_alive & ~mon.alive
        adv_died = adv_was_alive & ~adv.alive
        mon_moves = (mi.moving & mon.alive)[:, :, None]
        mon.pos = np.where(
            mon_moves, move_toward(mon.pos, mi.goal, mon.speed, sc.map_size), mon.pos
        )
        adv_moves = (ai.moving & adv.alive)[:, :, None]
        adv.pos = np.where(
            adv_moves, move_toward(adv.pos, ai.goal, adv.speed, sc.map_size), adv.pos
        )

        # A kill is coordinated when 2+ distinct monsters hit the victim in the last kill_window
        # ticks (this one included).
        self.last_hit = np.where(hits.by_monsters > 0, self.t[:, None, None], self.last_hit)
        recent = self.last_hit > (self.t[:, None, None] - sc.kill_window)
        coordinated = (adv_died & (recent.sum(1) >= 2)).sum(1)
        m_onehot = hits.by_monsters > 0
        shared = (m_onehot & (m_onehot.sum(1) >= 2)[:, None, :]).any(2)
        self._ep["attacks"] += mi.attacking.sum(1)
        self._ep["shared"] += shared.sum(1)
        self._ep["flanked"] += (m_onehot & hits.flanked[:, None, :]).any(2).sum(1)
        self._ep["kills"] += adv_died.sum(1)
        self._ep["coordinated_kills"] += coordinated

        self.t = self.t + live
        victory = live & mon.alive.any(1) & ~adv.alive.any(1)
        defeat = live & ~mon.alive.any(1)
        timeout = live & ~victory & ~defeat & (self.t >= self.max_steps)
        done = victory | defeat | timeout

        terms = reward_terms(
            victory=victory,
            mon=mon,
            coordinated_kills=coordinated,
            useful_heal=useful_heal,
            rescue_damage=rescue_damage,
            own_damage=hits.by_monsters.sum(2),
            own_heal=heal_credit(mi.heal_target, mi.healing, landed_heal, N),
            died=mon_died,
            party_max_hp=(adv.max_hp * adv.present).sum(1),
            max_steps=self.max_steps,
        )
        team = np.where(live, terms.team, 0.0)
        individual = np.where(acting, terms.individual, 0.0)
        w = self.team_reward_weight
        agent_rewards = np.where(acting, w * team[:, None] + (1 - w) * individual, 0.0)
        self._ep_return += team

        self.done |= done
        self._update_command()
        terminal_state = global_state(self._env_view())
        terminal_mask = mon.present.copy()
        finished = np.nonzero(done)[0]
        episodes = self._episode_stats(finished, victory, defeat)
        if self.auto_reset:
            self._reset_envs(finished)
        result = PackStepResult(
            team_reward=team.astype(np.float32),
            agent_rewards=agent_rewards.astype(np.float32),
            individual_rewards=individual.astype(np.float32),
            done=done,
            truncated=timeout,
            terminal_global_state=terminal_state,
            terminal_pack_mask=terminal_mask,
            terms=terms,
            episodes=episodes,
        )
        reused = terminal_state if self.auto_reset else None
        return self._observe(reused, finished), result

    def _episode_stats(
        self, finished: IntArray, victory: BoolArray, defeat: BoolArray
    ) -> PackEpisodeStats:
        mon, ep = self.mon, self._ep
        attacks = np.maximum(ep["attacks"][finished], 1)
        return PackEpisodeStats(
            env_index=finished,
            outcome=np.where(victory, VICTORY, np.where(defeat, DEFEAT, TIMEOUT))[finished],
            length=self.t[finished].copy(),
            pack_size=mon.present[finished].sum(1),
            n_adventurers=self.adv.present[finished].sum(1),
            kills=ep["kills"][finished].copy(),
            coordinated_kills=ep["coordinated_kills"][finished].copy(),
            pack_survival=mon.alive[finished].sum(1) / mon.present[finished].sum(1),
            coordination_score=ep["shared"][finished] / attacks,
            flank_rate=ep["flanked"][finished] / attacks,
            team_return=self._ep_return[finished].copy(),
        )

    # --- leader rules and observations --------------------------------------------------------

    def _update_command(self) -> None:
        """Leader and focus target for the next decision, and the signals the leader sends."""
        mon, adv, N = self.mon, self.adv, R.MAX_PACK
        # Leader: the living monster with the most max hp (tanks lead), lowest slot on ties.
        score = np.where(mon.alive, mon.max_hp - 1e-3 * np.arange(N), -np.inf)
        self.leader = np.where(mon.alive.any(1), score.argmax(1), -1)
        # Focus: finish an adventurer under FINISH_BELOW hp, else the class order (healer first),
        # the most hurt within a class.
        ratio = adv.hp / np.maximum(adv.max_hp, 1e-9)
        by_class = R.CLASS_FOCUS_PRIORITY[adv.cls] + 0.5 * (1.0 - ratio)
        prio = np.where(ratio < FINISH_BELOW, 10.0 + (1.0 - ratio), by_class)
        prio = np.where(adv.alive, prio, -np.inf)
        self.focus = np.where(adv.alive.any(1) & (self.leader >= 0), prio.argmax(1), -1)
        pack_hp = (mon.hp * mon.alive).sum(1) / np.maximum((mon.max_hp * mon.present).sum(1), 1e-9)
        self._signals = pack_signals(
            leader=self.leader,
            focus=self.focus,
            adv_class=adv.cls,
            adv_alive=adv.alive,
            pack_hp_fraction=pack_hp,
            hp_ratio=mon.hp / np.maximum(mon.max_hp, 1e-9),
            alive=mon.alive,
            retreat_threshold=self.scenario.retreat_threshold,
            help_threshold=self.scenario.help_threshold,
        )

    def _env_view(self) -> EnvView:
        return EnvView(
            mon=self.mon,
            adv=self.adv,
            adv_target=self.adv_target,
            focus=self.focus,
            leader=self.leader,
            t=self.t,
            max_steps=self.max_steps,
            map_size=self.scenario.map_size,
            kills=self._ep["kills"],
            coordinated_kills=self._ep["coordinated_kills"],
            retreat=self.signals.retreat,
        )

    def _observe(
        self, global_now: FloatArray | None = None, changed: IntArray | None = None
    ) -> Observation:
        """The observation of every env; `global_now` is a global state already computed for all
        envs but those in `changed` (the ones reset since), which saves recomputing it."""
        view = self._env_view()
        acting = self.mon.alive & ~self.done[:, None]
        signals = encode_signal_vectors(self.signals, self.mon.alive)
        signals[~acting] = 0.0
        local = local_observation(view)
        local[~acting] = 0.0
        if global_now is None or changed is None:
            g = global_state(view)
        else:
            g = global_now.copy()
            if changed.size:
                g[changed] = global_state(view.take(changed))
        action_mask = np.ones((self.n_envs, R.MAX_PACK, R.N_ACTIONS), bool)
        # Ally-bound actions need a living packmate. A slot that does not act allows only action 0
        # (SMAC's convention), so a masked softmax never meets an empty row.
        lone = acting & (self.mon.alive.sum(1) == 1)[:, None]
        for a in (R.HELP_ALLY, R.GROUP_UP, R.PROTECT_WEAK):
            action_mask[:, :, a] &= ~lone
        action_mask[~acting] = False
        action_mask[~acting, 0] = True
        return Observation(
            local_obs=local,
            signals=signals,
            global_state=g,
            agent_mask=acting,
            pack_mask=self.mon.present.copy(),
            action_mask=action_mask,
        )


_NEVER = -(10**6)


def _size_range(value: int | tuple[int, int], lo: int, hi: int, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))
    if not lo <= pair[0] <= pair[1] <= hi:
        raise ValueError(f"{name} must lie within [{lo}, {hi}] with min <= max, got {value!r}")
    return pair
