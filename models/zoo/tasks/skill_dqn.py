"""skill_dqn: whether a monster of the archetype uses a skill this step, and which.

- Input: the state contract's 64 floats, then the ids of the monster's first three skills
  (0: empty slot; dqn_skills.py maps the simulator's skills to rAthena's ids).
- Output: 4 Q-values: no skill, skill 1, 2, 3. An empty slot's Q-value is RULED_OUT, so the
  argmax never names it. Answer k > 0: the game server executes SKILL_k (action 4 + k), which
  uses the monster's k-th skill or fails (cooling down, SP short, silenced, nobody in range) and
  the tick is lost, as the executor does. Answer 0 ("none"): the monster does what the
  traditional AI does with its skills left out: exactly traditional.py's decision for a monster
  without skills (engage -> ATTACK, else a random walk or IDLE), on the same random draw.
  So the traditional AI itself is "none" whenever it casts nothing, and SKILL_k whenever it casts
  its k-th skill (its demonstrations).
- Training: as combat_dqn (Double DQN, prioritized replay seeded with the traditional AI's play,
  epsilon from config/zoo.py, the archetype's reward), over the 4 choices.
- Network: each skill id embedded modulo SKILL_VOCAB (padding 0), concatenated with the 64
  floats, an MLP; the ids are cast to int64 inside forward (one float input when served).
- The tank has no skills: its only answer is "none", which is the traditional AI.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import NDArray
from torch import nn

from models.envs.contract_combat.execute import SKILL_1, SKILL_3
from models.envs.contract_combat.traditional import traditional_actions
from models.envs.contract_combat.units import NO_SKILL
from models.zoo.tasks.dqn_arena import Arena
from models.zoo.tasks.dqn_networks import SkillQNetwork
from models.zoo.tasks.dqn_skills import skill_ids
from models.zoo.tasks.dqn_task import DQNTask
from plpython.zoo_types import SKILL_CHOICES, SKILL_SLOTS, STATE_DIM

F32 = NDArray[np.float32]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]

HIDDEN = {"full": [512, 512, 256, 256, 128], "small": [128, 128], "tiny": [64, 64]}
EMBED = {"full": 32, "small": 8, "tiny": 4}
DROPOUT = {"full": 0.2, "small": 0.0, "tiny": 0.0}


def without_skills(arena: Arena) -> I64:
    """The traditional AI's action for monsters with no skills, on the step's own draw."""
    env = arena.env
    m = env.monsters
    bare = dataclasses.replace(m, skill_kind=np.full_like(m.skill_kind, NO_SKILL))
    return traditional_actions(bare, env.players, arena.obs.agent_mask, arena.roll)


class SkillChooser:
    n_choices = len(SKILL_CHOICES)

    def extra(self, arena: Arena) -> F32:
        return skill_ids(arena.env.monsters).astype(np.float32)

    def primitives(self, arena: Arena, choices: I64, traditional: I64) -> I64:
        out: I64 = np.where(choices == 0, without_skills(arena), SKILL_1 - 1 + choices)
        return out

    def demonstrated(self, arena: Arena, traditional: I64) -> I64:
        casts = (traditional >= SKILL_1) & (traditional <= SKILL_3)
        out: I64 = np.where(casts, traditional - SKILL_1 + 1, 0)
        return out

    def valid(self, inputs: F32) -> B:
        ids = inputs[:, STATE_DIM : STATE_DIM + SKILL_SLOTS]
        return np.concatenate([np.ones((len(inputs), 1), bool), ids > 0.5], axis=1)


class SkillDQN(DQNTask):
    model_type = "skill_dqn"
    n_choices = len(SKILL_CHOICES)

    def chooser(self) -> SkillChooser:
        return SkillChooser()

    def network(self, profile: str) -> nn.Module:
        return SkillQNetwork(HIDDEN[profile], EMBED[profile], DROPOUT[profile])


TASK = SkillDQN()
