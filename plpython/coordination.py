"""Coordination score of a batch of decisions: the seed's "Coordination Scoring", in one place.

The database (`ml.coordination_score`) and the worker (which scores each batch it answers) import
this module, so a score means the same thing wherever it is computed. Standard library only.

    score = 0.4 * signal_utilization   share of the monsters with at least one live signal
          + 0.3 * pack_coverage        share of the monsters in the batch's largest pack
          + 0.2 * leader_presence      share of the batch's packs whose leader is in the batch
          + 0.1 * action_diversity     distinct actions / monsters

A batch scoring at least the threshold (`ctde.inference.coordination_threshold`, 0.7) earns the
coordination bonus; below it the actions stand, without a bonus.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SIGNAL_WEIGHT, COVERAGE_WEIGHT, LEADER_WEIGHT, DIVERSITY_WEIGHT = 0.4, 0.3, 0.2, 0.1
DEFAULT_THRESHOLD = 0.7


class CoordinationInputError(ValueError):
    """Inputs that do not describe one batch (lengths differ, nothing to score)."""


@dataclass(frozen=True)
class CoordinationScore:
    score: float
    bonus: bool
    signal_utilization: float
    pack_coverage: float
    leader_presence: float
    action_diversity: float


def has_signal(vector: Iterable[float]) -> bool:
    """Whether a 32-float signal vector carries anything (all zeros = no live signal)."""
    return any(value != 0.0 for value in vector)


def coordination_score(
    monster_ids: Sequence[int],
    pack_leader_ids: Sequence[int | None],
    signalled: Sequence[bool],
    actions: Sequence[int],
    threshold: float = DEFAULT_THRESHOLD,
) -> CoordinationScore:
    """Score one batch. Per monster (same order): its pack's leader (None when it hunts alone),
    whether it has a live signal, and the action chosen for it."""
    n = len(monster_ids)
    if n == 0:
        raise CoordinationInputError("nothing to score: the batch has no monsters")
    if not len(pack_leader_ids) == len(signalled) == len(actions) == n:
        raise CoordinationInputError(
            f"one entry per monster expected: {n} monsters, {len(pack_leader_ids)} pack leaders, "
            f"{len(signalled)} signal flags, {len(actions)} actions"
        )

    signal_utilization = sum(1 for flag in signalled if flag) / n

    packs = Counter(leader for leader in pack_leader_ids if leader is not None)
    pack_coverage = max(packs.values()) / n if packs else 0.0

    present = set(monster_ids)
    leader_presence = sum(1 for leader in packs if leader in present) / len(packs) if packs else 0.0

    action_diversity = len(set(actions)) / n

    score = (
        SIGNAL_WEIGHT * signal_utilization
        + COVERAGE_WEIGHT * pack_coverage
        + LEADER_WEIGHT * leader_presence
        + DIVERSITY_WEIGHT * action_diversity
    )
    score = round(score, 6)  # 0.7 must compare as 0.7, not 0.6999999999999999
    return CoordinationScore(
        score=score,
        bonus=score >= threshold,
        signal_utilization=signal_utilization,
        pack_coverage=pack_coverage,
        leader_presence=leader_presence,
        action_diversity=action_diversity,
    )
