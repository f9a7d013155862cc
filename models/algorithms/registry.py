"""ALGORITHMS: every training algorithm the product has, by the name SQL chooses it with.

`INSERT INTO ml_training_jobs (archetype, algorithm, config) VALUES ('tank', 'qmix', '{}')` trains
`ALGORITHMS["qmix"]`. The `rllib_*` entries train on Ray with RLlib (models/rllib/algorithms.py);
importing them does not import Ray (a job that names one starts it). The database accepts exactly
these names (ml.training_algorithms, checked by tests/test_algorithms.py against this dict).
"""

from __future__ import annotations

from models.algorithms.base import Algorithm
from models.algorithms.ippo import IPPO
from models.algorithms.maddpg import MADDPG
from models.algorithms.mappo import MAPPO
from models.algorithms.qmix import QMIX
from models.algorithms.vdn import VDN
from models.offline.cql import CQL
from models.rllib.algorithms import RLLIB_ALGORITHMS

_IN_HOUSE: tuple[type[Algorithm], ...] = (MAPPO, IPPO, QMIX, VDN, MADDPG, CQL)
ALGORITHMS: dict[str, type[Algorithm]] = {
    cls.info.name: cls for cls in (*_IN_HOUSE, *RLLIB_ALGORITHMS)
}


class UnknownAlgorithmError(ValueError):
    """A name that is not in ALGORITHMS."""


def algorithm_class(name: str) -> type[Algorithm]:
    """The algorithm registered as `name`, or UnknownAlgorithmError naming the known ones."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        known = ", ".join(sorted(ALGORITHMS))
        raise UnknownAlgorithmError(f"unknown algorithm {name!r} (known: {known})") from None
