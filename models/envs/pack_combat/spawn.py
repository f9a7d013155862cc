"""Drawing new encounters: which monsters, which party, where they stand, how strong the party is.

All draws come from the environment's one generator in fixed shapes per reset call, so a seed fixes
every encounter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from models.envs.pack_combat import rules as R


@dataclass
class Encounter:
    """K new fights: stats tables in the layout of rules (K, slots, 6)."""

    mon_arch: NDArray[np.int64]  # (K, N)
    mon_present: NDArray[np.bool_]  # (K, N)
    mon_stats: NDArray[np.float64]  # (K, N, 6)
    mon_pos: NDArray[np.float64]  # (K, N, 2)
    adv_class: NDArray[np.int64]  # (K, M)
    adv_present: NDArray[np.bool_]  # (K, M)
    adv_stats: NDArray[np.float64]  # (K, M, 6), already scaled to the pack
    adv_pos: NDArray[np.float64]  # (K, M, 2)


def sample_encounters(
    rng: np.random.Generator,
    k: int,
    pack_size: tuple[int, int],
    n_adventurers: tuple[int, int],
    scenario: R.Scenario,
) -> Encounter:
    """Draw k encounters of the scenario (docs/simulator.md, "Encounters")."""
    S, N, M = scenario.map_size, R.MAX_PACK, R.MAX_ADV
    sizes = rng.integers(pack_size[0], pack_size[1] + 1, k)
    arch = rng.integers(0, R.N_ARCHETYPES, (k, N))
    # At most one support per pack: two healers and little damage make endless stalemates.
    extra_support = (arch == R.SUPPORT) & ((arch == R.SUPPORT).cumsum(1) > 1)
    redraw = rng.integers(0, R.N_ARCHETYPES - 1, (k, N))
    arch = np.where(extra_support, redraw + (redraw >= R.SUPPORT), arch)
    present = np.arange(N)[None, :] < sizes[:, None]

    n_adv = rng.integers(n_adventurers[0], n_adventurers[1] + 1, k)
    party_pick = rng.random(k)
    classes = np.zeros((k, M), np.int64)
    adv_present = np.arange(M)[None, :] < n_adv[:, None]
    for size, parties in R.PARTIES.items():
        rows = np.nonzero(n_adv == size)[0]
        choice = np.minimum((party_pick[rows] * len(parties)).astype(np.int64), len(parties) - 1)
        table = np.array([list(p) + [0] * (M - len(p)) for p in parties], np.int64)
        classes[rows] = table[choice]

    # The pack gathers in a 4 x 6 box on the west side; the party stands east, the knight in front,
    # the casters behind. A random mirror and transpose keep absolute position uninformative.
    mon_pos = np.stack(
        [rng.integers(1, 5, (k, N)), rng.integers(S // 2 - 3, S // 2 + 3, (k, N))], -1
    ).astype(np.float64)
    depth = np.array([0, 2, 3, 3], np.float64)[classes]  # knight, hunter, priest, wizard
    adv_x = S - 6 + depth + rng.integers(0, 2, (k, M))
    adv_pos = np.stack([adv_x, rng.integers(S // 2 - 3, S // 2 + 3, (k, M))], -1)
    adv_pos = adv_pos.astype(np.float64)
    flip = rng.random((k, 2)) < 0.5
    for pos in (mon_pos, adv_pos):
        pos[:, :, 0] = np.where(flip[:, :1], S - 1 - pos[:, :, 0], pos[:, :, 0])
        pos[...] = np.where(flip[:, 1:2, None], pos[:, :, ::-1], pos)

    # The party is scaled to the pack by Lanchester's square law: a side's strength is its total
    # hp times its total damage per tick, so hp and attack both take sqrt(difficulty * ratio).
    # The priest's heal is kept out of that: it undoes a fixed share of what the whole pack deals
    # per tick, so a focused pack out-damages it and a divided one does not.
    mon_stats = R.MONSTER_STATS[arch]
    mon_atk = mon_stats[..., R.ATK].sum(1, where=present)
    mon_power = mon_stats[..., R.HP].sum(1, where=present) * (
        mon_atk + mon_stats[..., R.HEAL].sum(1, where=present)
    )
    stats = R.ADVENTURER_STATS[classes].copy()
    adv_power = stats[..., R.HP].sum(1, where=adv_present) * stats[..., R.ATK].sum(
        1, where=adv_present
    )
    difficulty = np.asarray(scenario.difficulty)[n_adv - 1]
    scale = np.sqrt(difficulty * mon_power / adv_power)[:, None]
    stats[..., R.HP] *= scale
    stats[..., R.ATK] *= scale
    stats[..., R.HEAL] = np.where(classes == R.PRIEST, scenario.priest_heal * mon_atk[:, None], 0.0)
    return Encounter(arch, present, mon_stats, mon_pos, classes, adv_present, stats, adv_pos)
