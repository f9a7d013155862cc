"""The model zoo's nine model types: one source for the trainer (models/zoo), the registry, the
benchmarks and the database (ml.ask_model runs this module as plpython.zoo_types).

Every zoo model is served through one ONNX signature: input `inputs` (B, input_dim) and output
`outputs` (B, output_dim), float32, B dynamic. What the columns of each mean is `inputs` and
`outputs` below, and docs/model_zoo.md. A model with a recurrent state (`team_coordination`)
takes its state as the last `hidden` columns of `inputs` and returns the new one as the last
`hidden` columns of `outputs`; its width is the registered model's hidden_dim (it depends on the
profile the model was trained at), and the database keeps it per monster (ml.monster_memory).

`answer` says how the database turns a row of outputs into one integer `answer`:
- "argmax" / "argmin": the index of the largest / smallest of the first `answer_width` outputs;
- "none": the outputs are the answer (scores, regressions, a continuous action).
"""

from __future__ import annotations

from dataclasses import dataclass

from plpython.state_contract import ACTIONS

STATE_DIM = 64
#: Moves of movement_ppo, in the order of its outputs, in the monster's own frame (the 64 floats
#: hold distances, not compass directions): N is toward its target (else the nearest player in
#: view; with no enemy in view, the map's +y), E to its right, S away; the game server turns a
#: move into a cell the same way (models/zoo/tasks/movement_env.world_offset) and walks one step.
DIRECTIONS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW", "stay")
#: skill_dqn's outputs: no skill, or the monster's k-th skill (the contract's SKILL_1..3, 5-7).
SKILL_CHOICES = ("none", "skill_1", "skill_2", "skill_3")
#: How many of the monster's skill ids skill_dqn reads (after the 64 floats).
SKILL_SLOTS = 3
#: Skill ids are embedded modulo this many rows (rAthena's ids reach the thousands).
SKILL_VOCAB = 1024
#: threat_assessment reads one (monster, enemy) pair: the monster's 64 floats then these.
ENEMY_FEATURES = (
    "distance",
    "hp_ratio",
    "level",
    "attack",
    "is_ranged",
    "is_healer",
    "targets_this_monster",
    "recent_damage_dealt",
)
#: spatial_vit's local grid: channels x GRID x GRID cells centred on the monster.
GRID = 32
GRID_CHANNELS = ("walkable", "allies", "enemies", "hazards")
PATCH = 8
#: temporal_transformer reads the monster's last TEMPORAL_STEPS states, oldest first.
TEMPORAL_STEPS = 8
#: pattern_recognition reads a fight's last PATTERN_STEPS steps of PATTERN_FEATURES each.
PATTERN_STEPS = 16
PATTERN_FEATURES = 12
TACTICS = ("melee_rush", "kiting", "healer_backed", "focus_fire")
#: The pack actor's signal vector (plpython/signal_encoding.SIGNAL_DIM).
SIGNAL_DIM = 32
PACK_ACTIONS = 7


@dataclass(frozen=True)
class ZooType:
    name: str
    input_dim: int
    """Feature columns of `inputs`, before any recurrent state."""
    output_dim: int
    """Columns of `outputs`, before any recurrent state."""
    answer: str
    answer_width: int
    inputs: str
    outputs: str
    acts: bool
    """Its answer is something a monster does (validated by win rate and action diversity)."""
    recurrent: bool = False


ZOO_TYPES: dict[str, ZooType] = {
    t.name: t
    for t in (
        ZooType(
            "combat_dqn",
            STATE_DIM,
            len(ACTIONS),
            "argmax",
            len(ACTIONS),
            "the state contract's 64 floats",
            "Q-values of the 10 executable actions; answer: the action id 0-9",
            acts=True,
        ),
        ZooType(
            "movement_ppo",
            STATE_DIM,
            len(DIRECTIONS) + 1,
            "argmax",
            len(DIRECTIONS),
            "the state contract's 64 floats",
            "probabilities of the 9 moves (N = toward its target, ..., stay), then the value "
            "(in 100s of reward)",
            acts=True,
        ),
        ZooType(
            "skill_dqn",
            STATE_DIM + SKILL_SLOTS,
            len(SKILL_CHOICES),
            "argmax",
            len(SKILL_CHOICES),
            "the 64 floats, then the ids of the monster's first three skills (0: none)",
            "Q-values of no skill, skill 1, 2, 3; answer k > 0 is the action SKILL_k (4 + k)",
            acts=True,
        ),
        ZooType(
            "threat_assessment",
            STATE_DIM + len(ENEMY_FEATURES),
            2,
            "none",
            0,
            "the monster's 64 floats, then one visible enemy's " + str(len(ENEMY_FEATURES)),
            "the enemy's threat (the ensemble's mean), then its uncertainty (the spread)",
            acts=False,
        ),
        ZooType(
            "team_coordination",
            STATE_DIM + SIGNAL_DIM,
            PACK_ACTIONS,
            "argmax",
            PACK_ACTIONS,
            "the 64 floats, then the pack's 32 signal floats, then the LSTM state",
            "probabilities of the 7 pack actions, then the new LSTM state",
            acts=True,
            recurrent=True,
        ),
        ZooType(
            "spatial_vit",
            len(GRID_CHANNELS) * GRID * GRID,
            (GRID // PATCH) ** 2,
            "argmin",
            (GRID // PATCH) ** 2,
            "a 4 x 32 x 32 grid around the monster (walkable, allies, enemies, hazards), row-major",
            "the danger of each 8 x 8 block (4 x 4, row-major); answer: the safest block",
            acts=False,
        ),
        ZooType(
            "temporal_transformer",
            TEMPORAL_STEPS * STATE_DIM,
            1,
            "none",
            0,
            "the monster's last 8 states of 64 floats, oldest first",
            "the share of its max hp it will lose in the next two seconds",
            acts=False,
        ),
        ZooType(
            "pattern_recognition",
            PATTERN_STEPS * PATTERN_FEATURES,
            len(TACTICS),
            "argmax",
            len(TACTICS),
            "a fight's last 16 steps of 12 features, oldest first",
            "probabilities of the adventurers' tactics (melee_rush, kiting, healer_backed, "
            "focus_fire)",
            acts=False,
        ),
        ZooType(
            "sac",
            STATE_DIM,
            2,
            "none",
            0,
            "the state contract's 64 floats",
            "a movement vector (dx, dy) in [-1, 1]^2 in the monster's frame (+y toward its "
            "target), times its walk step; the deterministic action",
            acts=True,
        ),
    )
}


def zoo_type(name: str) -> ZooType:
    """The ZooType of `name`; KeyError naming the known ones."""
    try:
        return ZOO_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown zoo model type {name!r} (known: {', '.join(ZOO_TYPES)})") from None
