"""CTDE checkpoints: actor and critic weights with the metadata needed to rebuild them.

Metadata (seed 001, "Checkpointing"): network_type "ctde", every dimension of both networks, the
archetype, a version and the training step. Loading checks the dimensions against the config first
and refuses a mismatch with a message that names both values (seed 001's "dimension mismatch").
Files are read with torch.load(weights_only=True): tensors and plain values only, no pickled code.
"""

from __future__ import annotations

import pickle
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from models.config import CTDEConfig
from models.networks.ctde import CentralizedCritic, DecentralizedActor

NETWORK_TYPE = "ctde"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A file that is not a CTDE checkpoint of this format."""


class CheckpointDimensionError(CheckpointError):
    """A checkpoint whose networks do not have the dimensions the config asks for."""


@dataclass(frozen=True)
class CheckpointMetadata:
    """What a checkpoint says about itself."""

    state_dim: int
    signal_dim: int
    action_dim: int
    hidden_dim: int
    """The actor's width (and GRU state)."""
    use_gru: bool
    n_agents: int
    """The critic's agent slots (ctde.max_pack_size)."""
    critic_hidden_dims: list[int]
    use_attention: bool
    n_heads: int
    archetype: str
    version: str
    step: int
    """Training steps done when it was saved."""
    network_type: str = NETWORK_TYPE
    format_version: int = FORMAT_VERSION
    created_at: str = ""
    """ISO 8601, UTC."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else the trainer keeps (plain values only)."""

    @classmethod
    def for_networks(
        cls,
        actor: DecentralizedActor,
        critic: CentralizedCritic,
        archetype: str,
        version: str,
        step: int,
        extra: dict[str, Any] | None = None,
    ) -> CheckpointMetadata:
        return cls(
            state_dim=actor.state_dim,
            signal_dim=actor.signal_dim,
            action_dim=actor.action_dim,
            hidden_dim=actor.hidden_dim,
            use_gru=actor.use_gru,
            n_agents=critic.n_agents,
            critic_hidden_dims=list(critic.hidden_dims),
            use_attention=critic.use_attention,
            n_heads=critic.n_heads,
            archetype=archetype,
            version=version,
            step=step,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            extra=dict(extra or {}),
        )


@dataclass
class Checkpoint:
    """A loaded checkpoint: networks rebuilt with its weights, plus what else was saved."""

    actor: DecentralizedActor
    critic: CentralizedCritic
    metadata: CheckpointMetadata
    optimizer_states: dict[str, Any]


def dimension_mismatches(metadata: CheckpointMetadata, config: CTDEConfig) -> list[str]:
    """One line per dimension where the checkpoint and the config disagree."""
    pairs: list[tuple[str, object, str, object]] = [
        ("state_dim", metadata.state_dim, "ctde.state_dim", config.state_dim),
        ("signal_dim", metadata.signal_dim, "ctde.signal_dim", config.signal_dim),
        ("action_dim", metadata.action_dim, "ctde.action_dim", config.action_dim),
        ("hidden_dim", metadata.hidden_dim, "ctde.actor.hidden_dim", config.actor.hidden_dim),
        ("use_gru", metadata.use_gru, "ctde.actor.use_gru", config.actor.use_gru),
        ("n_agents", metadata.n_agents, "ctde.max_pack_size", config.max_pack_size),
        (
            "critic_hidden_dims",
            metadata.critic_hidden_dims,
            "ctde.critic.hidden_dims",
            config.critic.hidden_dims,
        ),
        (
            "use_attention",
            metadata.use_attention,
            "ctde.critic.use_attention",
            config.critic.use_attention,
        ),
        ("n_heads", metadata.n_heads, "ctde.critic.n_heads", config.critic.n_heads),
    ]
    return [
        f"{name} is {ours} in the checkpoint but {key} is {theirs} in the config"
        for name, ours, key, theirs in pairs
        if ours != theirs
    ]


def save_checkpoint(
    path: str | Path,
    actor: DecentralizedActor,
    critic: CentralizedCritic,
    *,
    archetype: str,
    version: str,
    step: int,
    optimizer_states: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> CheckpointMetadata:
    """Write actor, critic, optimizer states and metadata to `path` (atomically: temp + rename)."""
    metadata = CheckpointMetadata.for_networks(actor, critic, archetype, version, step, extra)
    payload = {
        "metadata": asdict(metadata),
        "actor": actor.state_dict(),
        "critic": critic.state_dict(),
        "optimizers": optimizer_states or {},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    partial.replace(path)
    return metadata


def _read(path: str | Path) -> dict[str, Any]:
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({exc})") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("metadata"), dict):
        raise CheckpointError(f"{path}: no checkpoint metadata")
    return payload


def read_metadata(path: str | Path) -> CheckpointMetadata:
    """The metadata of a checkpoint file, without building its networks."""
    raw = _read(path)["metadata"]
    if raw.get("network_type") != NETWORK_TYPE:
        raise CheckpointError(f"{path}: network_type is {raw.get('network_type')!r}, not 'ctde'")
    if raw.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {raw.get('format_version')!r}, this code reads "
            f"{FORMAT_VERSION}"
        )
    try:
        return CheckpointMetadata(**raw)
    except TypeError as exc:
        raise CheckpointError(f"{path}: malformed metadata ({exc})") from None


def load_checkpoint(path: str | Path, config: CTDEConfig) -> Checkpoint:
    """Rebuild actor and critic from `path`, refusing a checkpoint whose dims differ from config."""
    metadata = read_metadata(path)
    mismatches = dimension_mismatches(metadata, config)
    if mismatches:
        raise CheckpointDimensionError(f"{path}: dimension mismatch: " + "; ".join(mismatches))
    payload = _read(path)
    actor = DecentralizedActor(
        state_dim=metadata.state_dim,
        signal_dim=metadata.signal_dim,
        action_dim=metadata.action_dim,
        hidden_dim=metadata.hidden_dim,
        use_gru=metadata.use_gru,
        dropout=config.actor.dropout,
    )
    critic = CentralizedCritic(
        state_dim=metadata.state_dim,
        n_agents=metadata.n_agents,
        hidden_dims=metadata.critic_hidden_dims,
        use_attention=metadata.use_attention,
        dropout=config.critic.dropout,
        n_heads=metadata.n_heads,
    )
    actor.load_state_dict(payload["actor"])
    critic.load_state_dict(payload["critic"])
    return Checkpoint(actor, critic, metadata, dict(payload.get("optimizers") or {}))


# --- the training loop's checkpoints (models/training/loop.py) -----------------------------------
def run_metadata(
    step: int, dims: dict[str, Any], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The metadata of a run's checkpoint: what it is, how far it got and its dims."""
    return {
        "network_type": NETWORK_TYPE,
        "step": step,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **dims,
        **(extra or {}),
    }


def write_atomically(payload: dict[str, Any], path: Path) -> None:
    """torch.save to a temporary name, then rename: a kill mid-save never leaves a torn file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    partial.replace(path)


def read_run(path: Path, dims: dict[str, Any]) -> dict[str, Any]:
    """A run's checkpoint, refused (CheckpointError naming both values) unless its type and dims
    are this run's. It holds the environment and the algorithm's own objects, so it is read with
    full unpickling: load only checkpoints this product wrote (the job's own directory)."""
    state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False)
    meta = state.get("metadata") if isinstance(state, dict) else None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: no checkpoint metadata")
    if meta.get("network_type") != NETWORK_TYPE:
        raise CheckpointError(f"{path}: network_type {meta.get('network_type')!r}, expected 'ctde'")
    mismatches = [
        f"{key}: checkpoint has {meta[key]}, config has {expected}"
        for key, expected in dims.items()
        if key in meta and meta[key] != expected
    ]
    if mismatches:
        raise CheckpointDimensionError(f"{path}: dimension mismatch: " + "; ".join(mismatches))
    return state
