"""Leaders' signals in the simulator, encoded exactly as the database encodes them.

The rules (who sends what) are in `pack_signals`; `signal_dicts` writes the same signals as the
{signal_type, content, priority} dicts the database stores, and `encode_signal_vectors` is a
vectorized equal of `plpython.signal_encoding.encode_signals` over those dicts (tests compare the
two). It is exact because every signal kind has a fixed priority and sets one dimension chosen
from a small discrete set, so the encoder reduces to table look-ups.

A signal reaches every living packmate except its sender, as a broadcast to `pack_monsters` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from models.envs.pack_combat.rules import CLASS_THREAT, HUNTER, SIGNAL_DIM, WIZARD
from plpython import signal_encoding as se

# The simulator's leaders send at the database's default priorities (ml.send_*_signal without a
# priority), so the weights an actor trains on are the ones it meets in production.
PRIORITY = {
    kind: se.DEFAULT_PRIORITIES[kind]
    for kind in ("retreat", "attack_target", "help_request", "formation_command")
}
WEIGHT = {kind: se.priority_weight(p) for kind, p in PRIORITY.items()}

# Formation the leader commands, by precedence (see `pack_signals`).
SPREAD_OUT = se.FORMATIONS.index("spread_out")
FLANKING = se.FORMATIONS.index("flanking")
SURROUND = se.FORMATIONS.index("surround")
TIGHT_CLUSTER = se.FORMATIONS.index("tight_cluster")

#: Signal-vector dimension of attack_target for each adventurer class (threat is per class).
TARGET_DIM_BY_CLASS: NDArray[np.int64] = np.array(
    [se.signal_dimension("attack_target", {"threat": float(t)}) for t in CLASS_THREAT]
)
RETREAT_DIM = se.signal_dimension("retreat", {})


@dataclass
class PackSignals:
    """What every pack broadcasts this tick; arrays over environments E and monster slots N."""

    leader: NDArray[np.int64]  # (E,) slot of the leader, -1 when the pack is dead
    focus_class: NDArray[np.int64]  # (E,) class of the focus target, -1 when none
    retreat: NDArray[np.bool_]  # (E,) leader orders retreat
    formation: NDArray[np.int64]  # (E,) index into FORMATIONS, -1 when none
    help_urgency: NDArray[np.float64]  # (E, N) urgency of each monster's help_request, 0 = none


def pack_signals(
    leader: NDArray[np.int64],
    focus: NDArray[np.int64],
    adv_class: NDArray[np.int64],
    adv_alive: NDArray[np.bool_],
    pack_hp_fraction: NDArray[np.float64],
    hp_ratio: NDArray[np.float64],
    alive: NDArray[np.bool_],
    retreat_threshold: float,
    help_threshold: float,
) -> PackSignals:
    """The leaders' simple rules (docs/simulator.md, "Signals")."""
    has_leader = leader >= 0
    has_focus = has_leader & (focus >= 0)
    focus_class = np.where(
        has_focus, np.take_along_axis(adv_class, np.maximum(focus, 0)[:, None], 1)[:, 0], -1
    )
    retreat = has_leader & (pack_hp_fraction < retreat_threshold)
    wizard_alive = (adv_alive & (adv_class == WIZARD)).any(1)
    last_one = adv_alive.sum(1) == 1
    # Precedence: a living wizard punishes clumps (spread out), a kiting hunter as target needs two
    # sides (flanking), a lone adventurer can be surrounded, otherwise close ranks.
    formation = np.select(
        [wizard_alive, focus_class == HUNTER, last_one],
        [SPREAD_OUT, FLANKING, SURROUND],
        TIGHT_CLUSTER,
    )
    formation = np.where(has_focus, formation, -1)
    hurt = alive & (hp_ratio < help_threshold)
    help_urgency = np.where(hurt, 1.0 - hp_ratio, 0.0)
    return PackSignals(leader, focus_class, retreat, formation, help_urgency)


def encode_signal_vectors(signals: PackSignals, alive: NDArray[np.bool_]) -> NDArray[np.float32]:
    """(E, N, 32): each living monster's vector, equal to encode_signals on `signal_dicts`."""
    E, N = alive.shape
    out = np.zeros((E, N, SIGNAL_DIM), np.float32)
    slots = np.arange(N)
    # Leader broadcasts reach the living packmates other than the leader.
    hears_leader = (
        alive & (slots[None, :] != signals.leader[:, None]) & (signals.leader >= 0)[:, None]
    )
    e_idx, n_idx = np.nonzero(hears_leader & (signals.focus_class >= 0)[:, None])
    out[e_idx, n_idx, TARGET_DIM_BY_CLASS[signals.focus_class[e_idx]]] = WEIGHT["attack_target"]
    e_idx, n_idx = np.nonzero(hears_leader & signals.retreat[:, None])
    out[e_idx, n_idx, RETREAT_DIM] = WEIGHT["retreat"]
    e_idx, n_idx = np.nonzero(hears_leader & (signals.formation >= 0)[:, None])
    out[e_idx, n_idx, se.FORMATION_BASE + signals.formation[e_idx]] = WEIGHT["formation_command"]
    # help_request: the encoder's slot rule, min(7, floor(urgency * 8)); one priority for all, so
    # several requests on one slot give the same weight (the encoder's max).
    sending = signals.help_urgency > 0.0
    slot = np.minimum(se.SLOTS_PER_GROUP - 1, np.floor(signals.help_urgency * 8).astype(np.int64))
    onehot = np.zeros((E, N, se.SLOTS_PER_GROUP), np.int64)
    e_idx, n_idx = np.nonzero(sending)
    onehot[e_idx, n_idx, slot[e_idx, n_idx]] = 1
    # Requests a monster hears: all senders in its pack minus its own.
    heard = onehot.sum(1, keepdims=True) - onehot
    support = np.where((heard > 0) & alive[:, :, None], np.float32(WEIGHT["help_request"]), 0.0)
    out[:, :, se.SUPPORT_BASE : se.SUPPORT_BASE + se.SLOTS_PER_GROUP] = np.maximum(
        out[:, :, se.SUPPORT_BASE : se.SUPPORT_BASE + se.SLOTS_PER_GROUP], support
    )
    return out


def signal_dicts(signals: PackSignals, alive: NDArray[np.bool_], env: int) -> list[list[Any]]:
    """The signals each monster of environment `env` receives, as the database stores them.

    The reference path (slow, one environment): `encode_signals(signal_dicts(...)[n])` is the vector
    monster n sees. Also what a game server would send through `ml.send_*_signal`.
    """
    N = alive.shape[1]
    leader = int(signals.leader[env])
    broadcast: list[dict[str, Any]] = []
    if leader >= 0 and signals.focus_class[env] >= 0:
        threat = float(CLASS_THREAT[signals.focus_class[env]])
        broadcast.append(
            {
                "signal_type": "attack_target",
                "content": {"threat": threat},
                "priority": PRIORITY["attack_target"],
            }
        )
    if leader >= 0 and signals.retreat[env]:
        broadcast.append({"signal_type": "retreat", "content": {}, "priority": PRIORITY["retreat"]})
    if leader >= 0 and signals.formation[env] >= 0:
        broadcast.append(
            {
                "signal_type": "formation_command",
                "content": {"formation_type": se.FORMATIONS[int(signals.formation[env])]},
                "priority": PRIORITY["formation_command"],
            }
        )
    received: list[list[Any]] = []
    for n in range(N):
        inbox: list[Any] = []
        if alive[env, n]:
            if n != leader:
                inbox.extend(broadcast)
            for sender in range(N):
                urgency = float(signals.help_urgency[env, sender])
                if sender != n and urgency > 0.0:
                    inbox.append(
                        {
                            "signal_type": "help_request",
                            "content": {"urgency": urgency},
                            "priority": PRIORITY["help_request"],
                        }
                    )
        received.append(inbox)
    return received
