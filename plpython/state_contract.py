"""The 64-float state contract: what each float of a monster's state means.

The game server this product serves (the rAthena map-server fork with the ML monster gateway)
fills each monster's state as 64 floats in six groups and executes ten actions. This module is the
contract as data, and the one source of it: the database reads it (`ml.explain_state`,
`ml.state_contract_violations`, through ml.plpython_modules) and Python imports it (the simulator
that must produce exactly these floats, the tests). docs/state_contract.md is the table for people.
Standard library only: it runs inside PostgreSQL's Python too.

Every value is in [0, 1]. Beyond the range, a dimension may be
    a constant     (the game server always writes that value: dim 9 is 0.75),
    a copy         of another dimension (dim 10 is dim 0),
    a complement   of another dimension (dim 42 is 1 - dim 0),
    discrete       (its levels: archetype id / 5 is one of 0, 0.2, ..., 1; a count over a maximum
                   is k / maximum),
or free within the range. A few dimensions are tied to others (`RELATIONS`): the three master
flags (22, 23, 25) agree, and risk tolerance (57) drops by 0.4 exactly when hp ratio is under 0.3.

`explain(state)` decodes one state dimension by dimension, with the first problem of each;
`problems(state)` and `violations(state)` list only what breaks the contract. A state that is not
64 numbers in one dimension is refused by `explain` (`StateShapeError`, SQLSTATE ML004 for the
length, ML008 for a nested array: the codes every state-taking function of the product uses) and
reported as one problem of kind 'shape' by `problems`.
"""

from __future__ import annotations

import bisect
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

STATE_DIM = 64

#: How far a float32 the game server computed may sit from the exact level, copy or complement
#: (a float32 holds 1/3 to about 3e-8; k / 49 and 1 - x round alike).
TOLERANCE = 1e-6


def _float32(value: float) -> float:
    """The float32 nearest to `value`, as a Python float (the game server compares float32s)."""
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


@dataclass(frozen=True)
class Group:
    name: str
    first: int
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1


GROUPS: tuple[Group, ...] = (
    Group("self", 0, 11),
    Group("environment", 12, 21),
    Group("social", 22, 29),
    Group("tactical", 30, 41),
    Group("temporal", 42, 51),
    Group("goals", 52, 63),
)

#: The encoder's archetype ids, in order: dim 8 is id / 5.
ARCHETYPES: tuple[str, ...] = ("aggressive", "defensive", "support", "mage", "tank", "ranged")

#: The monster AI state as dim 41 (tactical) encodes it; any other state is 0.5.
TACTICAL_AI_STATE: dict[str, float] = {
    "idle": 0.0,
    "walk": 0.2,
    "loot": 0.3,
    "rush": 0.6,
    "follow": 0.5,
    "berserk": 0.9,
    "angry": 0.8,
    "other": 0.5,
}
#: The monster AI state as dim 52 (goals) encodes it; any other state is 0.5.
GOAL_AI_STATE: dict[str, float] = {
    "idle": 0.0,
    "walk": 0.1,
    "loot": 0.2,
    "rush": 0.7,
    "follow": 0.6,
    "berserk": 1.0,
    "angry": 0.9,
    "dead": 0.0,
    "other": 0.5,
}


def _count_levels(maximum: int, top: int | None = None) -> tuple[float, ...]:
    """norm(count, 0, maximum) of an integer count: k / maximum (clamped at 1)."""
    return tuple(k / maximum for k in range((top if top is not None else maximum) + 1))


def _sums_clamped(weights: Sequence[float]) -> tuple[float, ...]:
    """Every sum of a subset of `weights`, clamped to [0, 1]: flags added up, as the map danger."""
    sums = {0.0}
    for weight in weights:
        sums |= {s + weight for s in sums}
    return tuple(sorted({round(min(1.0, s), 9) for s in sums}))


#: Risk tolerance (dim 57): 0.5 + 0.3 aggressive mode + 0.2 boss, - 0.4 under 0.3 hp ratio.
_RISK_HEALTHY = tuple(sorted(round(0.5 + a + b, 9) for a in (0.0, 0.3) for b in (0.0, 0.2)))
_RISK_WOUNDED = tuple(round(r - 0.4, 9) for r in _RISK_HEALTHY)
#: The encoder's `hp ratio < 0.3` compares float32s.
LOW_HP = _float32(0.3)


@dataclass(frozen=True)
class Dimension:
    """One float of the state. At most one of constant, copy_of, complement_of, levels is set."""

    index: int
    group: str
    name: str
    meaning: str
    low: float = 0.0
    high: float = 1.0
    constant: float | None = None
    copy_of: int | None = None
    complement_of: int | None = None
    levels: tuple[float, ...] | None = None

    @property
    def kind(self) -> str:
        """free, constant, copy, complement or levels."""
        if self.constant is not None:
            return "constant"
        if self.copy_of is not None:
            return "copy"
        if self.complement_of is not None:
            return "complement"
        return "levels" if self.levels is not None else "free"


def _dims(
    group: str, first: int, specs: Sequence[tuple[str, str, dict[str, Any]]]
) -> list[Dimension]:
    return [
        Dimension(index=first + k, group=group, name=name, meaning=meaning, **rule)
        for k, (name, meaning, rule) in enumerate(specs)
    ]


_NONE: dict[str, Any] = {}

DIMENSIONS: tuple[Dimension, ...] = tuple(
    _dims(
        "self",
        0,
        [
            ("hp_ratio", "hp / max hp", _NONE),
            ("sp_ratio", "sp / max sp", _NONE),
            ("level", "norm(level, 1, 150)", _NONE),
            ("mobility", "can move x (1 - norm(walk speed, min, max))", _NONE),
            ("attack", "norm(mean of the two attack values, 0, 10000)", _NONE),
            ("skills_ready", "share of its skills off cooldown (0 without skills)", _NONE),
            (
                "statuses",
                "norm(abnormal states: general + freeze, stun, sleep, stone, curse, blind, "
                "poison, silence, confusion; 0, 10)",
                {"levels": _count_levels(10)},
            ),
            ("equipment", "0: monsters carry no equipment", {"constant": 0.0}),
            (
                "archetype",
                "archetype id / 5: "
                + ", ".join(f"{a} {k / 5:g}" for k, a in enumerate(ARCHETYPES)),
                {"levels": tuple(k / 5 for k in range(len(ARCHETYPES)))},
            ),
            ("role_confidence", "0.75, always", {"constant": 0.75}),
            ("hp_ratio_copy", "= dim 0 (the game server's performance score)", {"copy_of": 0}),
            ("learning_progress", "0: not computed by the game server", {"constant": 0.0}),
        ],
    )
    + _dims(
        "environment",
        12,
        [
            (
                "cell_type",
                "cell type / 3 of the cell it stands on",
                {"levels": (0.0, 1 / 3, 2 / 3, 1.0)},
            ),
            (
                "obstacles",
                "norm(unwalkable cells in the 7x7 around it, 0, 49)",
                {"levels": _count_levels(49)},
            ),
            ("items_near", "norm(items within 5 cells, 0, 10)", {"levels": _count_levels(10)}),
            (
                "hazards_near",
                "norm(skill units within 5 cells, 0, 10)",
                {"levels": _count_levels(10)},
            ),
            ("players_in_view", "norm(players in view, 0, 20)", {"levels": _count_levels(20)}),
            ("monsters_in_view", "norm(monsters in view, 0, 30)", {"levels": _count_levels(30)}),
            ("spawn_distance", "norm(distance to its spawn centre, 0, 50)", _NONE),
            (
                "map_danger",
                "0.3 pvp + 0.5 gvg + 0.4 castle + 0.4 battleground, clamped",
                {"levels": _sums_clamped((0.3, 0.5, 0.4, 0.4))},
            ),
            ("daytime", "1 by day, 0 at night", {"levels": (0.0, 1.0)}),
            (
                "area_control",
                "monsters within 10 cells / (those + players in view); 0.5 when both are none",
                _NONE,
            ),
        ],
    )
    + _dims(
        "social",
        22,
        [
            (
                "pack_size",
                "0.1 when it has a master (a slave monster), else 0",
                {"levels": (0.0, 0.1)},
            ),
            ("pack_cohesion", "0.8 when it has a master, else 0", {"levels": (0.0, 0.8)}),
            ("ally_hp_ratio", "= dim 0 (its own hp ratio stands for its allies')", {"copy_of": 0}),
            ("has_master", "1 when it has a master, else 0", {"levels": (0.0, 1.0)}),
            (
                "formation_quality",
                "0.7 when it has a master and slaves of its own, else 0",
                {"levels": (0.0, 0.7)},
            ),
            ("communication_load", "0: not computed by the game server", {"constant": 0.0}),
            ("ally_skills_ready", "= dim 5 (its own skills stand for its allies')", {"copy_of": 5}),
            ("trust", "0.5, always", {"constant": 0.5}),
        ],
    )
    + _dims(
        "tactical",
        30,
        [
            ("enemies_in_view", "norm(players in view, 0, 10)", {"levels": _count_levels(10)}),
            ("target_distance", "target distance / view range (1 without a target)", _NONE),
            (
                "target_threat",
                "player: 0.5 norm(level, 1, 150) + 0.3 norm(attack, 0, 5000) + 0.2 norm(max hp, "
                "0, 100000); monster: 0.4 norm(level) + (0.4 boss or 0.2) + 0.2 norm(attack, 0, "
                "10000); 0 without a target",
                _NONE,
            ),
            ("damage_taken", "0.3 when damaged and targeting, else 0", {"levels": (0.0, 0.3)}),
            ("target_hp_ratio", "the target's hp ratio (0 without a target)", _NONE),
            ("target_class", "1 player, 0.5 monster, 0 none", {"levels": (0.0, 0.5, 1.0)}),
            (
                "target_skill_threat",
                "player: norm(its level, 1, 150); monster 0.3; 0 without a target",
                _NONE,
            ),
            ("spawn_closeness", "1 - norm(distance to its spawn centre, 0, 20)", _NONE),
            ("escape_routes", "walkable neighbour cells / 8", {"levels": _count_levels(8)}),
            (
                "advantage",
                "0.7 when its hp ratio beats its target's, 0.3 when not, 0.5 without a target",
                {"levels": (0.3, 0.5, 0.7)},
            ),
            (
                "started_fight",
                "1 when it started the fight (aggressive state), else 0",
                {"levels": (0.0, 1.0)},
            ),
            (
                "ai_state",
                "AI state: " + ", ".join(f"{s} {v:g}" for s, v in TACTICAL_AI_STATE.items()),
                {"levels": tuple(sorted(set(TACTICAL_AI_STATE.values())))},
            ),
        ],
    )
    + _dims(
        "temporal",
        42,
        [
            ("hp_lost", "1 - dim 0", {"complement_of": 0}),
            (
                "cooldown_progress",
                "mean cooldown progress over its skills with a delay (1 when none)",
                _NONE,
            ),
            ("since_player_near", "norm(ms since a player was last near, 0, 30000)", _NONE),
            ("action_success", "= dim 0 (hp ratio stands for its success rate)", {"copy_of": 0}),
            ("pattern_recognition", "0: not computed by the game server", {"constant": 0.0}),
            ("time_alive", "norm(time alive, 0, 300000 ms)", _NONE),
            ("recent_deaths", "0: not computed by the game server", {"constant": 0.0}),
            ("hp_full", "1 when its hp is full, else 0", {"levels": (0.0, 1.0)}),
            (
                "provoked",
                "0.5 aggressive state + 0.5 provoked",
                {"levels": (0.0, 0.5, 1.0)},
            ),
            (
                "momentum",
                "attacking 0.9, else walking 0.5, else casting 1.0, else 0.1",
                {"levels": (0.1, 0.5, 0.9, 1.0)},
            ),
        ],
    )
    + _dims(
        "goals",
        52,
        [
            (
                "primary_goal",
                "AI state: " + ", ".join(f"{s} {v:g}" for s, v in GOAL_AI_STATE.items()),
                {"levels": tuple(sorted(set(GOAL_AI_STATE.values())))},
            ),
            ("secondary_goal", "0.3 looter mode + 0.3 assist mode", {"levels": (0.0, 0.3, 0.6)}),
            ("goal_progress", "1 - target distance / chase range (0.5 without a target)", _NONE),
            ("hp_urgency", "1 - dim 0", {"complement_of": 0}),
            ("sp_need", "1 - dim 1", {"complement_of": 1}),
            (
                "risk_tolerance",
                "0.5 + 0.3 aggressive mode + 0.2 boss - 0.4 when hp ratio < 0.3, clamped",
                {"levels": tuple(sorted(_RISK_HEALTHY + _RISK_WOUNDED))},
            ),
            ("cooperation", "0.8 in assist mode, else 0.2", {"levels": (0.2, 0.8)}),
            ("exploration", "0.2 in no-random-walk mode, else 0.7", {"levels": (0.2, 0.7)}),
            (
                "aggression",
                "0.9 aggressive mode, else 0.7 angry mode, else 0.3",
                {"levels": (0.3, 0.7, 0.9)},
            ),
            ("defense_priority", "1 - dim 60", {"complement_of": 60}),
            (
                "support_priority",
                "0.9 with heal or blessing skills, else 0.7 in assist mode, else 0",
                {"levels": (0.0, 0.7, 0.9)},
            ),
            ("adaptation_rate", "0.5, always", {"constant": 0.5}),
        ],
    )
)

BY_NAME: dict[str, Dimension] = {d.name: d for d in DIMENSIONS}


def dimension(name: str) -> Dimension:
    """The dimension called `name` (KeyError for an unknown one)."""
    return BY_NAME[name]


#: Ties between dimensions beyond copies and complements, as (dim, what it needs) for messages.
RELATIONS: tuple[tuple[int, str], ...] = (
    (22, "0.1 exactly when dim 25 (has_master) is 1"),
    (23, "0.8 exactly when dim 25 (has_master) is 1"),
    (26, "0.7 only when dim 25 (has_master) is 1"),
    (57, "one of the wounded levels exactly when dim 0 (hp_ratio) < 0.3"),
)


_RELATED = frozenset(index for index, _ in RELATIONS)


@dataclass(frozen=True)
class Action:
    id: int
    name: str
    semantics: str


#: The ten actions the game server executes (its executor's semantics).
ACTIONS: tuple[Action, ...] = (
    Action(0, "IDLE", "stop walking and attacking"),
    Action(
        1,
        "ATTACK",
        "attack the current target, else the nearest enemy in view; out of range, move closer",
    ),
    Action(2, "MOVE_CLOSER", "walk to attack range of the target"),
    Action(
        3,
        "MOVE_AWAY",
        "walk 5 cells straight away from the target or last attacker, else a random walk",
    ),
    Action(4, "MOVE_RANDOM", "a random walk"),
    Action(
        5,
        "SKILL_1",
        "use the monster's skill 1 (index 0 of its skill list) if it has it, else its "
        "first; fails while that skill is on cooldown",
    ),
    Action(
        6,
        "SKILL_2",
        "use the monster's skill 2 (index 1 of its skill list) if it has it, else its "
        "first; fails while that skill is on cooldown",
    ),
    Action(
        7,
        "SKILL_3",
        "use the monster's skill 3 (index 2 of its skill list) if it has it, else its "
        "first; fails while that skill is on cooldown",
    ),
    Action(8, "CHANGE_TARGET", "switch to another enemy in view; fails if there is none"),
    Action(9, "FLEE", "drop the target and walk back to the spawn centre"),
)
#: The action id that hands the monster back to the game server's own AI.
TRADITIONAL_AI = 255


class StateShapeError(ValueError):
    """A state that is not 64 numbers in one dimension (or no state at all)."""

    sqlstate = "ML004"


class StateDimensionsError(StateShapeError):
    """A state given as a nested (multi-dimensional) array."""

    sqlstate = "ML008"


@dataclass(frozen=True)
class Problem:
    """What breaks the contract: dim None for the state as a whole (kind 'shape')."""

    dim: int | None
    kind: str
    message: str


@dataclass(frozen=True)
class Explained:
    index: int
    group: str
    name: str
    value: float | None
    problem: str | None


def check_shape(state: Any) -> list[Any]:
    """The state as a list of 64 elements, or StateShapeError / StateDimensionsError."""
    if state is None:
        raise StateShapeError(f"state must be {STATE_DIM} numbers, got null")
    if isinstance(state, str | bytes) or not isinstance(state, Sequence):
        raise StateShapeError(f"state must be {STATE_DIM} numbers, got {type(state).__name__}")
    values = list(state)
    if any(isinstance(v, list | tuple) for v in values):
        raise StateDimensionsError(
            f"state must be a one-dimensional array of {STATE_DIM} numbers, got a nested array"
        )
    if len(values) != STATE_DIM:
        raise StateShapeError(f"state must be {STATE_DIM} numbers, got {len(values)}")
    return values


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _near(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE


def _on_level(value: float, levels: Sequence[float]) -> bool:
    """Whether `value` is one of the sorted `levels` (within TOLERANCE): the two neighbours only."""
    at = bisect.bisect_left(levels, value)
    return any(_near(value, levels[k]) for k in (at - 1, at) if 0 <= k < len(levels))


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _levels_text(levels: Sequence[float]) -> str:
    if len(levels) > 12:
        first, second, last = (_fmt(v) for v in (levels[0], levels[1], levels[-1]))
        return f"{first}, {second}, ... {last} (steps of {second})"
    return ", ".join(_fmt(level) for level in levels)


def _dimension_problem(
    spec: Dimension, value: float, values: Sequence[float | None]
) -> tuple[str, str] | None:
    """(kind, message) of the first rule of `spec` that a finite `value` breaks, or None."""
    if not spec.low <= value <= spec.high:
        return "out_of_range", f"{_fmt(value)} is outside [{_fmt(spec.low)}, {_fmt(spec.high)}]"
    if spec.constant is not None and not _near(value, spec.constant):
        return "constant", f"{_fmt(value)}, but the game server always sends {_fmt(spec.constant)}"
    if spec.copy_of is not None:
        other = values[spec.copy_of]
        if other is not None and math.isfinite(other) and not _near(value, other):
            source = DIMENSIONS[spec.copy_of].name
            return (
                "copy",
                f"{_fmt(value)}, but it is a copy of dim {spec.copy_of} ({source}) = {_fmt(other)}",
            )
    if spec.complement_of is not None:
        other = values[spec.complement_of]
        if other is not None and math.isfinite(other) and not _near(value, 1.0 - other):
            source = DIMENSIONS[spec.complement_of].name
            return (
                "complement",
                f"{_fmt(value)}, but it is 1 - dim {spec.complement_of} ({source}) "
                f"= {_fmt(1.0 - other)}",
            )
    if spec.levels is not None and not _on_level(value, spec.levels):
        return "level", f"{_fmt(value)} is not one of its levels {_levels_text(spec.levels)}"
    return _relation_problem(spec.index, value, values)


def _relation_problem(
    index: int, value: float, values: Sequence[float | None]
) -> tuple[str, str] | None:
    """The RELATIONS: the master flags agree; risk tolerance follows hp ratio."""
    if index not in _RELATED:
        return None
    master = values[25]
    if index in (22, 23, 26) and master is not None and master in (0.0, 1.0):
        mark = {22: 0.1, 23: 0.8, 26: 0.7}[index]
        says_master = _near(value, mark)
        if says_master and master == 0.0:
            return "relation", f"{_fmt(value)} means a master, but dim 25 (has_master) is 0"
        if index != 26 and not says_master and master == 1.0:
            return "relation", f"{_fmt(value)} means no master, but dim 25 (has_master) is 1"
    hp = values[0]
    if index == 57 and hp is not None and math.isfinite(hp):
        wounded = hp < LOW_HP
        allowed = _RISK_WOUNDED if wounded else _RISK_HEALTHY
        if not _on_level(value, allowed):
            side = "under" if wounded else "at least"
            return (
                "relation",
                f"{_fmt(value)}, but with dim 0 (hp_ratio) {side} 0.3 it is one of "
                f"{_levels_text(allowed)}",
            )
    return None


def _check(values: Sequence[Any]) -> list[tuple[float | None, tuple[str, str] | None]]:
    """For each of the 64 elements: its number (None when it is none) and its first problem."""
    numbers = [_number(v) for v in values]
    checked: list[tuple[float | None, tuple[str, str] | None]] = []
    for spec, raw, number in zip(DIMENSIONS, values, numbers, strict=True):
        if number is None:
            shown = "null" if raw is None else repr(raw)[:40]
            checked.append((None, ("not_a_number", f"{shown} is not a number")))
        elif not math.isfinite(number):
            checked.append((number, ("not_finite", f"{_fmt(number)} is not finite")))
        else:
            checked.append((number, _dimension_problem(spec, number, numbers)))
    return checked


def explain(state: Any) -> list[Explained]:
    """Every dimension of `state` with its value and its first problem (None: as the contract
    says). StateShapeError (ML004) / StateDimensionsError (ML008) for a state of another shape."""
    values = check_shape(state)
    return [
        Explained(spec.index, spec.group, spec.name, number, None if found is None else found[1])
        for spec, (number, found) in zip(DIMENSIONS, _check(values), strict=True)
    ]


def problems(state: Any) -> list[Problem]:
    """What in `state` breaks the contract, dimension by dimension (one problem of kind 'shape',
    dim None, for a state that is not 64 numbers in one dimension). Empty: it holds."""
    try:
        values = check_shape(state)
    except StateShapeError as error:
        return [Problem(None, "shape", str(error))]
    return [
        Problem(spec.index, found[0], f"dim {spec.index} {spec.name}: {found[1]}")
        for spec, (_, found) in zip(DIMENSIONS, _check(values), strict=True)
        if found is not None
    ]


def violations(state: Any) -> list[str]:
    """The messages of `problems(state)`: empty when the state keeps the contract."""
    return [problem.message for problem in problems(state)]
