"""combat_dqn: which of the game server's ten actions a monster of the archetype takes.

- Input: the state contract's 64 floats of one monster (plpython/zoo_types.py).
- Output: 10 Q-values over the executable actions (plpython.state_contract.ACTIONS, ids 0-9);
  the answer is the argmax, an action id the game server executes as it executes the legacy
  gateway's answer (the monster's AI does nothing else that tick).
- Training: Double DQN with prioritized replay (models/zoo/trainers/dqn.py), gamma 0.99, in the
  contract simulator with the ten primitives: the model decides for the living monsters of its
  archetype, the traditional AI (traditional.py) for every other monster. The replay starts with
  the traditional AI's own transitions for those monsters (demonstrations, with DQfD's
  large-margin loss), so a short training starts from its choices; then epsilon-greedy play with
  epsilon = config/zoo.py's exploration. Reward: the archetype's weights on what the simulator
  measures (dqn_reward.py), team-mixed by the archetype's team weight.
- Sizes: full = the seed's [1024, 1024, 512, 512, 256, 256, 128, 128, 64, 64], dropout 0.2, lr
  1e-4, batch 256; small = [256, 256, 128], no dropout, the archetype's lr, batch 128; tiny =
  [64, 64].
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from torch import nn

from models.zoo.tasks.dqn_arena import Arena
from models.zoo.tasks.dqn_networks import QNetwork
from models.zoo.tasks.dqn_task import DQNTask
from plpython.state_contract import ACTIONS

F32 = NDArray[np.float32]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]

HIDDEN = {
    "full": [1024, 1024, 512, 512, 256, 256, 128, 128, 64, 64],
    "small": [256, 256, 128],
    "tiny": [64, 64],
}
DROPOUT = {"full": 0.2, "small": 0.0, "tiny": 0.0}


class ActionChooser:
    """The choice is the action id itself."""

    n_choices = len(ACTIONS)

    def extra(self, arena: Arena) -> F32:
        e, n = arena.shape
        return np.zeros((e, n, 0), np.float32)

    def primitives(self, arena: Arena, choices: I64, traditional: I64) -> I64:
        return choices

    def demonstrated(self, arena: Arena, traditional: I64) -> I64:
        return traditional.copy()

    def valid(self, inputs: F32) -> B:
        return np.ones((len(inputs), self.n_choices), bool)


class CombatDQN(DQNTask):
    model_type = "combat_dqn"
    n_choices = len(ACTIONS)

    def chooser(self) -> ActionChooser:
        return ActionChooser()

    def network(self, profile: str) -> nn.Module:
        return QNetwork(HIDDEN[profile], self.n_choices, DROPOUT[profile])


TASK = CombatDQN()
