"""Checkpoints: one file format for every algorithm and for the seed's API.

    {"metadata": {"network_type": "ctde", "format_version": 2, "algorithm": "mappo", "step": 1000,
                  "dims": {...every dimension of the networks...}, "archetype": ..., "version":
                  ..., "created_at": ..., "extra": {...}},
     "networks": {"actor": state_dict, "critic": state_dict, ...},
     "run": bytes}     # the rest of a training run: optimizers, replay, random states, the env,
                       # the loop's counters and history (absent from a networks-only file)

The metadata and the networks are tensors and plain values: `torch.load(weights_only=True)` reads
them, so looking at a checkpoint or taking its weights runs no pickled code. Only the exact resume
of a run (models/training/loop.py) unpickles `run`, from the run's own directory.

The seed's API (seed 001, "Checkpointing": `save_checkpoint`, `load_checkpoint`, `read_metadata`)
writes and reads MAPPO's actor and critic in this format; a run of MAPPO is readable by it too.
Loading checks the dimensions first and refuses a mismatch with a message naming both values.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from models.config import CTDEConfig
from models.networks.ctde import CentralizedCritic, DecentralizedActor

NETWORK_TYPE = "ctde"
FORMAT_VERSION = 2


class CheckpointError(ValueError):
    """A file that is not a checkpoint of this format (or not of the expected algorithm)."""


class CheckpointDimensionError(CheckpointError):
    """A checkpoint whose networks do not have the dimensions the config asks for."""


def actor_critic_dims(actor: DecentralizedActor, critic: CentralizedCritic) -> dict[str, Any]:
    """MAPPO's dims (the same keys as `models.algorithms.mappo.MAPPO.dims`)."""
    return {
        "state_dim": actor.state_dim,
        "signal_dim": actor.signal_dim,
        "action_dim": actor.action_dim,
        "actor_hidden_dim": actor.hidden_dim,
        "use_gru": actor.use_gru,
        "critic_hidden_dims": list(critic.hidden_dims),
        "critic_use_attention": critic.use_attention,
        "critic_n_heads": critic.n_heads,
        "critic_per_agent": critic.per_agent,
        "n_agents": critic.n_agents,
    }


def metadata_record(
    algorithm: str,
    step: int,
    dims: dict[str, Any],
    archetype: str = "",
    version: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The `metadata` entry of a checkpoint."""
    return {
        "network_type": NETWORK_TYPE,
        "format_version": FORMAT_VERSION,
        "algorithm": algorithm,
        "step": step,
        "dims": dict(dims),
        "archetype": archetype,
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "extra": dict(extra or {}),
    }


@dataclass(frozen=True)
class CheckpointMetadata:
    """What a MAPPO checkpoint says about itself, in the seed's names."""

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
    critic_per_agent: bool = False
    """The critic answers one value per agent (MAPPO's training critic) or one per pack."""
    algorithm: str = "mappo"
    network_type: str = NETWORK_TYPE
    format_version: int = FORMAT_VERSION
    created_at: str = ""
    """ISO 8601, UTC."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else the trainer keeps (plain values only)."""

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CheckpointMetadata:
        d = record["dims"]
        return cls(
            state_dim=d["state_dim"],
            signal_dim=d["signal_dim"],
            action_dim=d["action_dim"],
            hidden_dim=d["actor_hidden_dim"],
            use_gru=d["use_gru"],
            n_agents=d["n_agents"],
            critic_hidden_dims=list(d["critic_hidden_dims"]),
            use_attention=d["critic_use_attention"],
            n_heads=d["critic_n_heads"],
            critic_per_agent=d.get("critic_per_agent", False),
            archetype=record.get("archetype", ""),
            version=record.get("version", ""),
            step=record["step"],
            algorithm=record["algorithm"],
            network_type=record["network_type"],
            format_version=record["format_version"],
            created_at=record.get("created_at", ""),
            extra=dict(record.get("extra") or {}),
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


def dims_mismatches(expected: dict[str, Any], saved: dict[str, Any]) -> list[str]:
    """One line per dimension the saved checkpoint has with another value than expected."""
    return [
        f"{key}: checkpoint has {saved[key]}, config has {value}"
        for key, value in expected.items()
        if key in saved and saved[key] != value
    ]


def write_atomically(payload: dict[str, Any], path: Path) -> None:
    """torch.save to a temporary name, then rename: a kill mid-save never leaves a torn file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    partial.replace(path)


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
    """Write actor, critic, optimizer states and metadata to `path` (atomically)."""
    record = metadata_record(
        "mappo", step, actor_critic_dims(actor, critic), archetype, version, extra
    )
    payload = {
        "metadata": record,
        "networks": {"actor": actor.state_dict(), "critic": critic.state_dict()},
        "run": pickle.dumps({"optimizers": optimizer_states or {}}),
    }
    write_atomically(payload, Path(path))
    return CheckpointMetadata.from_record(record)


def read_file(path: str | Path) -> dict[str, Any]:
    """Metadata, networks and the opaque run bytes, read without unpickling any object."""
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({exc})") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("metadata"), dict):
        raise CheckpointError(f"{path}: no checkpoint metadata")
    meta = payload["metadata"]
    if meta.get("network_type") != NETWORK_TYPE:
        raise CheckpointError(f"{path}: network_type is {meta.get('network_type')!r}, not 'ctde'")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {meta.get('format_version')!r}, this code reads "
            f"{FORMAT_VERSION}"
        )
    return payload


def read_metadata(path: str | Path) -> CheckpointMetadata:
    """The metadata of a MAPPO checkpoint file, without building its networks."""
    record = read_file(path)["metadata"]
    if record.get("algorithm") != "mappo":
        raise CheckpointError(
            f"{path}: a {record.get('algorithm')!r} checkpoint; the seed's API reads MAPPO's "
            "(models.training.loop.Trainer reads every algorithm's)"
        )
    try:
        return CheckpointMetadata.from_record(record)
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: malformed metadata ({exc})") from None


def load_checkpoint(path: str | Path, config: CTDEConfig) -> Checkpoint:
    """Rebuild actor and critic from `path`, refusing a checkpoint whose dims differ from config."""
    metadata = read_metadata(path)
    mismatches = dimension_mismatches(metadata, config)
    if mismatches:
        raise CheckpointDimensionError(f"{path}: dimension mismatch: " + "; ".join(mismatches))
    payload = read_file(path)
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
        per_agent=metadata.critic_per_agent,
    )
    actor.load_state_dict(payload["networks"]["actor"])
    critic.load_state_dict(payload["networks"]["critic"])
    run = pickle.loads(payload["run"]) if "run" in payload else {}
    return Checkpoint(actor, critic, metadata, dict(run.get("optimizers") or {}))


# --- a training run's checkpoint (models/training/loop.py) ---------------------------------------
def is_network(value: Any) -> bool:
    """A module's state_dict: a mapping of names to tensors. An empty one (a network without
    weights, VDN's sum) counts too, so that a weights-only load finds every network."""
    return isinstance(value, dict) and all(isinstance(v, torch.Tensor) for v in value.values())


def write_run(
    path: Path,
    metadata: dict[str, Any],
    algorithm_state: dict[str, Any],
    run: dict[str, Any],
) -> None:
    """The algorithm's networks in the open, everything else of the run pickled as `run`."""
    networks = {k: v for k, v in algorithm_state.items() if is_network(v)}
    rest = {k: v for k, v in algorithm_state.items() if k not in networks}
    payload = {
        "metadata": metadata,
        "networks": networks,
        "run": pickle.dumps({**run, "algorithm": rest}),
    }
    write_atomically(payload, path)


def read_run(
    path: Path, algorithm: str, dims: dict[str, Any], weights_only: bool = False
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(metadata, the algorithm's state, the rest of the run) of a checkpoint, refused unless its
    algorithm and dims are this run's (both values named). weights_only: the networks alone (no
    unpickling); otherwise the run is unpickled too: load only checkpoints this product wrote."""
    payload = read_file(path)
    meta = payload["metadata"]
    mismatches = dims_mismatches(
        {"algorithm": algorithm, **dims}, {"algorithm": meta.get("algorithm"), **meta["dims"]}
    )
    if mismatches:
        raise CheckpointDimensionError(f"{path}: dimension mismatch: " + "; ".join(mismatches))
    state = dict(payload["networks"])
    if weights_only or "run" not in payload:
        return meta, state, {}
    run = pickle.loads(payload["run"])
    state.update(run.pop("algorithm"))
    return meta, state, run
