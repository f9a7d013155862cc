"""Per-archetype training parameters of the model zoo: the seed's reward weights, learning rates,
exploration and reward scales, typed. The zoo's tasks read their reward terms from here (each task
says in docs/model_zoo.md which of its terms it can measure on the simulator).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from plpython.state_contract import ARCHETYPES


@dataclass(frozen=True)
class ArchetypeTraining:
    archetype: str
    reward_weights: dict[str, float] = field(default_factory=dict)
    """Reward term -> weight (a per-event bonus for `*_bonus` and `kills`/`deaths`)."""
    learning_rate: float = 3e-4
    exploration: float = 0.1
    reward_scale: float = 1.0
    team_weight: float = 0.5
    """How much of the reward is the pack's rather than the monster's own."""
    optimal_distance: tuple[float, float] | None = None
    """Cells to its target the archetype prefers to keep (mage, ranged), else None."""


ARCHETYPE_TRAINING: dict[str, ArchetypeTraining] = {
    a.archetype: a
    for a in (
        ArchetypeTraining(
            "aggressive",
            {"damage_dealt": 2.0, "kills": 100.0, "damage_taken": -0.5, "deaths": -50.0},
            learning_rate=4e-4,
            exploration=0.1,
            reward_scale=1.5,
        ),
        ArchetypeTraining(
            "defensive",
            {
                "survival": 1.0,
                "damage_blocked": 1.5,
                "allies_protected": 20.0,
                "survival_bonus": 100.0,
            },
            learning_rate=2e-4,
            exploration=0.05,
            reward_scale=1.2,
        ),
        ArchetypeTraining(
            "support",
            {"healing": 2.0, "effective_healing": 4.0, "buffs": 15.0, "allies_died": -50.0},
            team_weight=0.7,
        ),
        ArchetypeTraining(
            "mage",
            {
                "spell_damage": 3.0,
                "spell_kills": 80.0,
                "spell_kill_bonus": 40.0,
                "optimal_distance_bonus": 10.0,
                "mana_efficiency": 0.5,
            },
            learning_rate=3.5e-4,
            exploration=0.12,
            optimal_distance=(5.0, 10.0),
        ),
        ArchetypeTraining(
            "tank",
            {"aggro_count": 15.0, "damage_absorbed": 2.0, "allies_died": -80.0, "survival": 150.0},
            team_weight=0.7,
        ),
        ArchetypeTraining(
            "ranged",
            {
                "sustained_damage": 1.5,
                "optimal_distance_bonus": 15.0,
                "kiting": 8.0,
                "damage_taken": -1.2,
            },
            learning_rate=3e-4,
            exploration=0.1,
            optimal_distance=(7.0, 12.0),
        ),
    )
}
assert tuple(ARCHETYPE_TRAINING) == ARCHETYPES


def archetype_training(archetype: str) -> ArchetypeTraining:
    try:
        return ARCHETYPE_TRAINING[archetype]
    except KeyError:
        raise ValueError(
            f"unknown archetype {archetype!r} (known: {', '.join(ARCHETYPES)})"
        ) from None
