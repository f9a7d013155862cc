"""team_coordination: the pack actor with an LSTM memory (CTDE), one per archetype.

Task. In contract fights (models/envs/contract_combat, action_space "pack": packs of 2-5 monsters
of mixed archetypes against 1-4 players), every monster of the model's archetype picks one of the
7 pack actions (HELP_ALLY, GROUP_UP, SPLIT, FOCUS_FIRE, PROTECT_WEAK, FLANK_LEFT, FLANK_RIGHT)
each step from its 64 contract floats, its pack's 32 signal floats and its LSTM state; the game
server executes the action's recipe (docs/pack_recipes.md). The pack's other monsters play the
traditional AI (models/envs/contract_combat/traditional.py), as they do on a server where only
this archetype's model is deployed.

Reward: the archetype's weighted terms of config/zoo.py measured per monster and step by
models/zoo/tasks/dqn_reward.py (the same measures as the DQN tasks; its docstring lists them and
the one it cannot measure, mana_efficiency), mixed with the pack's mean by the archetype's
team_weight; `reward_scale` multiplies the reported reward. Under pack actions no recipe casts a
damage skill or a blessing, so `spell_*` and `buffs` stay 0 here (the mage's reward is then its
optimal-distance bonus and its pack's share), while the traditional AI does cast them. The
archetype's learning rate is the actor's (times LR_BOOST at the budgeted profiles), its
exploration the PPO entropy coefficient (exploration / 10: 0.01 at the seed's 0.1).

Training: the product's MAPPO (centralized attention critic over the pack's global states,
decentralized actors, recurrent PPO chunks) with the LSTM actor (lstm_actor.py), through the
product's training loop (models/training/loop.py) on `ArchetypeSeats`, until the profile's budget
(or `epochs` updates).

Evaluation: the first fight of each of `num_episodes` held-out environments (seeds from
EVAL_SEED) whose pack holds at least one monster of the archetype; the pack's win rate with the
model deciding (argmax, as served) for those monsters, against the same fights (the same initial
draw; the simulator's one generator lets later rolls differ) with the traditional AI deciding
for every monster; the average per-monster episode reward of the archetype's monsters; the
entropy of the model's answers over the 7 pack actions. `heldout` adds the baseline's reward and
both win rates over all fights (with and without the archetype).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from config.zoo import archetype_training
from models.config import ActorConfig, Config, CriticConfig, CTDEConfig
from models.envs.base import EpisodeStats, Observation, StepResult
from models.envs.contract_combat.env import VICTORY, ContractCombatEnv, _merge_orders
from models.envs.contract_combat.execute import execute
from models.envs.contract_combat.recipes import pack_orders
from models.envs.contract_combat.traditional import traditional_actions
from models.envs.pack_combat import rules as R
from models.training.loop import Trainer
from models.training.settings import TrainingSettings
from models.zoo.base import (
    Checkpoints,
    Evaluation,
    Progress,
    Trained,
    ZooSettings,
    entropy_bits,
)
from models.zoo.tasks.dqn_reward import Before, measure, weighted
from models.zoo.tasks.lstm_actor import LSTMMAPPO, LSTMActor, LSTMServing
from plpython.state_contract import ARCHETYPES
from plpython.zoo_types import PACK_ACTIONS

F32 = NDArray[np.float32]
I64 = NDArray[np.int64]

MODEL_TYPE = "team_coordination"
#: LSTM (units, layers) per profile: the seed's 3 x 256 at full.
SIZES = {"tiny": (32, 1), "small": (64, 2), "full": (256, 3)}
#: Fights stepped together per rollout, steps per rollout, per profile.
N_ENVS = {"tiny": 16, "small": 32, "full": 64}
ROLLOUT = {"tiny": 16, "small": 32, "full": 64}
CRITIC = {"tiny": [64, 64], "small": [128, 128], "full": [512, 512, 256]}
#: Evaluation fights drawn (about half hold a monster of a given archetype), per profile.
EVAL_FIGHTS = {"tiny": 64, "small": 160, "full": 512}
EVAL_SEED = 1_000_000
#: PPO epochs (MAPPO's 4) and minibatches per update.
PPO_EPOCHS, MINIBATCHES = 4, 2
#: The archetype's learning rate times this, per profile: the seed's rate at full size; the
#: budgeted profiles get 10-20 updates, too few to move a policy at the seed's rate (measured).
LR_BOOST = {"tiny": 5.0, "small": 5.0, "full": 1.0}
MAX_STEPS = 80
#: Share of the training budget kept for the loop's start and the update under way at its end.
BUDGET_MARGIN = 0.1


class ArchetypeSeats:
    """Contract fights (pack actions) where the monsters of one archetype are the agents and the
    rest of each pack plays the traditional AI; rewards are the archetype's (module docstring).

    `baseline=True`: the archetype's monsters play the traditional AI too (the actions passed
    are ignored); rewards and outcomes are measured the same way, for the comparison.
    A `MultiAgentEnv`: agent_mask marks the living monsters of the archetype.
    """

    score_name = "win_rate"

    def __init__(self, n_envs: int, seed: int, archetype: str, baseline: bool = False) -> None:
        self.env = ContractCombatEnv(n_envs, seed=seed, max_steps=MAX_STEPS, action_space="pack")
        self.n_envs = n_envs
        self.archetype = archetype
        self.arch_index = ARCHETYPES.index(archetype)
        self.baseline = baseline
        # The traditional AI's wandering draws: its own generator, so both runs draw the same.
        self._rolls = np.random.default_rng(seed + 1)
        self._return = np.zeros((n_envs, 5))
        self._obs: Observation | None = None

    @property
    def seats(self) -> NDArray[np.bool_]:
        """(E, 5) the monsters of the archetype in each fight (alive or not)."""
        m = self.env.monsters
        seats: NDArray[np.bool_] = (m.arch == self.arch_index) & m.present
        return seats

    def _seat(self, obs: Observation) -> Observation:
        acting = obs.agent_mask & self.seats
        mask = obs.action_mask.copy()
        mask[~acting] = False
        mask[~acting, 0] = True
        obs = replace(
            obs,
            agent_mask=acting,
            local_obs=np.where(acting[..., None], obs.local_obs, 0.0).astype(np.float32),
            action_mask=mask,
        )
        self._obs = obs
        return obs

    def reset(self) -> Observation:
        self._return[:] = 0.0
        return self._seat(self.env.reset())

    def summarize(self, episodes: EpisodeStats) -> dict[str, float]:
        return {
            **self.env.summarize(episodes),
            "archetype_return": float(episodes.extra["archetype_return"].mean()),
        }

    def step(self, actions: NDArray[np.integer]) -> tuple[Observation, StepResult]:
        env, m, p = self.env, self.env.monsters, self.env.players
        if self._obs is None:
            self.reset()
        acting = m.alive.copy()
        seats = self.seats
        act = np.where(seats & acting, np.asarray(actions), R.FOCUS_FIRE).astype(np.int64)
        others = acting & (~seats | self.baseline)
        traditional = traditional_actions(m, p, acting, self._rolls.random(acting.shape))
        primitives = np.where(others, traditional, -1)
        # The orders the step will execute (the recipes' and the traditional AI's) for the
        # reward's measures; random walks' goals do not enter them, hence no wandering draws.
        still = np.zeros((*acting.shape, 2))
        orders = pack_orders(act, m, p, acting, still, env.world.size)
        if others.any():
            own = execute(m, p, np.where(others, primitives, 0), acting, still, env.world.size)
            orders = _merge_orders(others, own, orders)
        before = Before.of(m, p, orders)
        obs, result = env.step(act, primitives=primitives)
        terms = measure(before, orders, result, env.world.size)
        reward = weighted(terms, self.archetype, before.present)
        reward = np.where(seats & acting, reward, 0.0)
        self._return += reward
        ended = result.episodes
        rows = ended.env_index
        counted = np.maximum(seats[rows].sum(1), 1)
        per_monster: NDArray[np.float64] = (self._return[rows] * seats[rows]).sum(1) / counted
        self._return[rows] = 0.0
        seated = np.asarray(seats[rows].any(1), dtype=np.float64)
        episodes = EpisodeStats(
            env_index=rows,
            length=ended.length,
            team_return=per_monster,
            extra={
                **ended.extra,
                "archetype_return": per_monster,
                "seated": seated,
            },
        )
        team = (reward.sum(1) / np.maximum((seats & acting).sum(1), 1)).astype(np.float32)
        result = replace(
            result,
            team_reward=team,
            agent_rewards=reward.astype(np.float32),
            individual_rewards=reward.astype(np.float32),
            episodes=episodes,
        )
        return self._seat(obs), result


def training_config(archetype: str, profile: str, lr: float | None, units: int) -> Config:
    """The ctde section for the zoo's pack actor: the archetype's learning rate and exploration,
    no dropout (the rollout's policy is the one updated), the profile's critic."""
    arch = archetype_training(archetype)
    return Config(
        ctde=CTDEConfig(
            critic=CriticConfig(
                hidden_dims=CRITIC[profile], learning_rate=3e-4 * LR_BOOST[profile], dropout=0.0
            ),
            actor=ActorConfig(
                hidden_dim=units,
                learning_rate=arch.learning_rate * LR_BOOST[profile] if lr is None else lr,
                use_gru=True,
                dropout=0.0,
            ),
            entropy_coef=arch.exploration / 10.0,
            n_epochs=PPO_EPOCHS,
            team_reward_weight=arch.team_weight,
        )
    )


@dataclass
class TeamCoordinationTask:
    model_type: str = MODEL_TYPE

    def build(self, archetype: str, profile: str) -> nn.Module:
        archetype_training(archetype)  # ValueError naming the known archetypes
        units, layers = SIZES[profile]
        return LSTMServing(LSTMActor(units=units, layers=layers)).eval()

    def collect(self, archetype: str, settings: ZooSettings) -> dict[str, np.ndarray]:
        return {}  # learns by acting

    def train(
        self,
        archetype: str,
        settings: ZooSettings,
        data: dict[str, np.ndarray],
        init: nn.Module | None,
        checkpoints: Checkpoints,
    ) -> Trained:
        torch.manual_seed(settings.seed)
        profile = settings.profile
        units, layers = SIZES[profile]
        if isinstance(init, LSTMServing):  # transfer: the source's sizes
            units, layers = init.actor.units, init.actor.layers
        config = training_config(archetype, profile, settings.lr, units)
        run = TrainingSettings(
            n_envs=settings.pick(settings.batch_size, N_ENVS),
            rollout_length=ROLLOUT[profile],
            total_updates=settings.epochs or 1_000_000,
            time_budget_s=settings.budget_s * (1.0 - BUDGET_MARGIN),
            minibatches=MINIBATCHES,
            chunk_length=8,
            max_steps=MAX_STEPS,
            eval_every=0,
            checkpoint_every=1_000_000,
            seed=settings.seed,
        )
        trainer = Trainer(
            LSTMMAPPO.with_layers(layers),
            config,
            run,
            env_factory=lambda s: ArchetypeSeats(s.n_envs, s.seed, archetype),
            device=settings.device,
        )
        actor = trainer.algorithm.actor
        assert isinstance(actor, LSTMActor)
        if isinstance(init, LSTMServing):
            actor.load_state_dict(init.actor.state_dict())
        serving = LSTMServing(actor)
        bar = Progress(f"{archetype}/{MODEL_TYPE}", settings.progress)
        started = time.perf_counter()
        algorithm: Any = trainer.algorithm

        def progress(update: int, record: dict[str, float]) -> None:
            bar(
                time.perf_counter() - started,
                run.time_budget_s,
                reward=record.get("team_return", float("nan")),
            )
            if settings.checkpoint_every and update % settings.checkpoint_every == 0:
                checkpoints.step(update, serving, algorithm.actor_opt)

        history = trainer.train(progress=progress)
        seconds = time.perf_counter() - started
        actor.eval()
        serving = LSTMServing(actor.cpu()).eval()
        keys = ("team_return", "win_rate", "entropy", "critic_loss")
        return Trained(
            module=serving,
            hidden_dim=actor.hidden_dim,
            history={k: [r.get(k, float("nan")) for r in history.updates] for k in keys},
            samples=int(sum(r.get("num_agent_steps_sampled", 0.0) for r in history.updates)),
            seconds=seconds,
            notes={
                "updates": len(history.updates),
                "env_steps": trainer.env_steps,
                "lstm_units": units,
                "lstm_layers": layers,
                "seats": "the archetype's monsters; the rest of each pack: traditional AI",
            },
        )

    def evaluate(self, archetype: str, module: nn.Module, settings: ZooSettings) -> Evaluation:
        fights = settings.pick(settings.num_episodes, EVAL_FIGHTS)
        seed = EVAL_SEED + ARCHETYPES.index(archetype)
        model = play(module, ArchetypeSeats(fights, seed, archetype))
        baseline = play(None, ArchetypeSeats(fights, seed, archetype, baseline=True))
        seated = model.seated
        scale = archetype_training(archetype).reward_scale
        return Evaluation(
            episodes=int(seated.sum()),
            win_rate=float(model.wins[seated].mean()),
            baseline_win_rate=float(baseline.wins[seated].mean()),
            avg_episode_reward=float(model.returns[seated].mean() * scale),
            reward_scale=(
                f"the {archetype} reward of config/zoo.py per monster of the archetype per fight "
                f"(x{scale:g}); 1 unit = 1% of the party's max hp dealt at weight 1"
            ),
            action_entropy_bits=max(0.0, entropy_bits(model.answers, PACK_ACTIONS)),  # not -0.0
            action_count=PACK_ACTIONS,
            heldout={
                "baseline_avg_episode_reward": float(baseline.returns[seated].mean() * scale),
                "win_rate_all_fights": float(model.wins.mean()),
                "baseline_win_rate_all_fights": float(baseline.wins.mean()),
            },
        )

    def example_inputs(self, archetype: str, n: int, seed: int) -> np.ndarray:
        """The 64 contract floats and the 32 signal floats of the archetype's monsters as the
        traditional AI's fights go on (without the LSTM state)."""
        env = ArchetypeSeats(max(n // 4, 8), seed, archetype, baseline=True)
        obs = env.reset()
        rows: list[F32] = []
        while sum(len(r) for r in rows) < n:
            acting = obs.agent_mask
            rows.append(np.concatenate([obs.local_obs[acting], obs.signals[acting]], axis=1))
            obs, _ = env.step(np.zeros(acting.shape, np.int64))
        return np.concatenate(rows)[:n].astype(np.float32)


@dataclass
class Played:
    wins: NDArray[np.bool_]  # (E,) the first fight of each environment was won
    returns: NDArray[np.float64]  # (E,) its per-monster archetype return
    seated: NDArray[np.bool_]  # (E,) its pack held a monster of the archetype
    answers: I64  # every answer the model gave (empty for the baseline)


def play(module: nn.Module | None, env: ArchetypeSeats) -> Played:
    """The first fight of every environment, the archetype's monsters answered by the serving
    module (argmax of its probabilities, each monster carrying its LSTM state), or by the
    traditional AI when module is None (a baseline env)."""
    E, N = env.n_envs, 5
    obs = env.reset()
    hidden_dim = int(getattr(module, "hidden_dim", 0))
    hidden = np.zeros((E, N, hidden_dim), np.float32)
    wins = np.zeros(E, bool)
    returns = np.zeros(E)
    seated = np.zeros(E, bool)
    seen = np.zeros(E, bool)
    answers: list[I64] = []
    while not seen.all():
        actions = np.zeros((E, N), np.int64)
        acting = obs.agent_mask
        if module is not None and acting.any():
            inputs = np.concatenate(
                [obs.local_obs[acting], obs.signals[acting], hidden[acting]], axis=1
            )
            with torch.no_grad():
                out = module(torch.as_tensor(inputs)).numpy()
            actions[acting] = out[:, :PACK_ACTIONS].argmax(1)
            hidden[acting] = out[:, PACK_ACTIONS:]
            answers.append(actions[acting])
        obs, result = env.step(actions)
        ep = result.episodes
        first = ~seen[ep.env_index]
        idx = ep.env_index[first]
        wins[idx] = ep.extra["outcome"][first] == VICTORY
        returns[idx] = ep.extra["archetype_return"][first]
        seated[idx] = ep.extra["seated"][first] > 0
        seen[idx] = True
        hidden[ep.env_index] = 0.0  # a new fight: fresh memories
    return Played(wins, returns, seated, np.concatenate(answers) if answers else np.zeros(0, int))


TASK = TeamCoordinationTask()

__all__ = ["TASK", "ArchetypeSeats", "TeamCoordinationTask", "play"]
