"""Named scenarios of the contract simulator: who meets whom, and where. The one registry.

A scenario is data that `ContractCombatEnv._reset_envs` applies while it draws new fights: the
pack's and the party's size ranges, classes every party holds, and whether the pack starts across
the map or around the party. "standard" changes nothing: with it, a seed draws exactly the fights
(and the trajectory) of an environment built before scenarios existed.

Sizes combine with the environment's own ranges (its `pack_size`, which the trainer's curriculum
moves through `set_pack_size`, and its `n_players`) by one rule: each bound of the scenario's range
is clipped into the environment's range. Where the two overlap that is their intersection; where
they do not, the environment's nearest size wins, so packs of 2 early in the curriculum stay packs
of 2 in every scenario, and the scenario's own sizes apply once the curriculum reaches them.

    env = ContractCombatEnv(64, seed=0, scenario="ambush")
    SCENARIOS["outnumbered"].pack_sizes((2, 5))   # (2, 3)

docs/contract_combat.md, "Scenarios", has each one's figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from models.envs.contract_combat.units import MAX_PACK, MAX_PLAYERS, MIN_PACK
from models.envs.contract_combat.world import CLEAR_RADIUS
from models.envs.pack_combat import rules as R

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class Scenario:
    """How the fights of one scenario are drawn (None and () leave the standard draw alone)."""

    name: str
    description: str
    """One line for tables and error messages."""
    pack_size: tuple[int, int] | None = None
    """Monsters per pack, (min, max); None: the environment's range (the curriculum's)."""
    n_players: tuple[int, int] | None = None
    """Players per party, (min, max); None: the environment's range."""
    party_classes: tuple[int, ...] = ()
    """Classes (rules.KNIGHT, ...) every party holds: each one a party lacks replaces one of its
    last members (the party's strength is scaled to the pack after that, as always)."""
    ambush_radius: int | None = None
    """None: the pack and the party start on opposite sides of the map (their centres 11-15 cells
    apart). r: the pack surrounds the party, spread evenly over the cells at Chebyshev distance r
    from the party's centre (kept clear, so walkable); every monster starts at most r + 2 cells
    from every player. The monsters' spawn centre stays their own, so FLEE still leads home."""

    def __post_init__(self) -> None:
        _check_range(self.pack_size, MIN_PACK, MAX_PACK, f"scenario {self.name!r}: pack_size")
        _check_range(self.n_players, 1, MAX_PLAYERS, f"scenario {self.name!r}: n_players")
        if any(c not in range(R.N_CLASSES) for c in self.party_classes) or len(
            set(self.party_classes)
        ) != len(self.party_classes):
            raise ValueError(
                f"scenario {self.name!r}: party_classes must be distinct classes in "
                f"[0, {R.N_CLASSES}), got {self.party_classes!r}"
            )
        # Beyond the party's clear zone a ring cell may be a wall (or off the map).
        if self.ambush_radius is not None and not 1 <= self.ambush_radius <= CLEAR_RADIUS:
            raise ValueError(
                f"scenario {self.name!r}: ambush_radius must lie within [1, {CLEAR_RADIUS}], "
                f"got {self.ambush_radius}"
            )

    def pack_sizes(self, env_range: tuple[int, int]) -> tuple[int, int]:
        """The pack sizes drawn: this scenario's range clipped into the environment's."""
        return _clip_range(self.pack_size, env_range)

    def player_counts(self, env_range: tuple[int, int]) -> tuple[int, int]:
        """The party sizes drawn: this scenario's range clipped into the environment's."""
        return _clip_range(self.n_players, env_range)


def ring(radius: int) -> I64:
    """(8 r, 2) offsets of the cells at Chebyshev distance r, in order around the centre (so
    members taking evenly spaced entries stand on all sides)."""
    r = radius
    side = np.arange(-r, r)
    out: I64 = np.concatenate(
        [
            np.stack([side, np.full_like(side, -r)], 1),  # along y = -r, x rising
            np.stack([np.full_like(side, r), side], 1),  # along x = r, y rising
            np.stack([-side, np.full_like(side, r)], 1),  # along y = r, x falling
            np.stack([np.full_like(side, -r), -side], 1),  # along x = -r, y falling
        ]
    ).astype(np.int64)
    return out


def surround(rng: np.random.Generator, centre: F64, sizes: I64, radius: int) -> F64:
    """(k, MAX_PACK, 2) positions of k packs of `sizes` members spread evenly over the ring of
    `radius` around each `centre` (k, 2), from a random starting cell; padded slots get a ring
    cell too (they are not present)."""
    cells = ring(radius)
    start = rng.integers(0, len(cells), (centre.shape[0],))
    slot = np.arange(MAX_PACK)[None, :]
    index = (start[:, None] + slot * len(cells) // np.maximum(sizes, 1)[:, None]) % len(cells)
    out: F64 = centre[:, None, :] + cells[index]
    return out


def _clip_range(own: tuple[int, int] | None, env_range: tuple[int, int]) -> tuple[int, int]:
    if own is None:
        return env_range
    lo, hi = env_range
    return (min(max(own[0], lo), hi), min(max(own[1], lo), hi))


def _check_range(value: tuple[int, int] | None, lo: int, hi: int, name: str) -> None:
    if value is not None and not lo <= value[0] <= value[1] <= hi:
        raise ValueError(f"{name} must lie within [{lo}, {hi}] with min <= max, got {value!r}")


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("standard", "packs of 2-5 against parties of 1-4, met across the map"),
        Scenario("lone_adventurer", "a pack against one player", n_players=(1, 1)),
        Scenario(
            "outnumbered",
            "a small pack of 2-3 against a party of 3-4",
            pack_size=(2, 3),
            n_players=(3, 4),
        ),
        Scenario(
            "healer_party",
            "a party of 2-4 that always has a priest (heals, silences)",
            n_players=(2, MAX_PLAYERS),
            party_classes=(R.PRIEST,),
        ),
        Scenario(
            "ambush",
            "the pack starts around the party, 3 cells from its centre",
            ambush_radius=CLEAR_RADIUS,
        ),
    )
}


def scenario(name: str) -> Scenario:
    """The registered scenario `name`; a ValueError names the known ones."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})")
    return SCENARIOS[name]
