"""Typed CTDE configuration, loaded from `config/ctde_config.yaml` (the seed's keys).

Every section is a frozen dataclass with a docstring per field. The loader is strict: a key the
dataclass does not declare, or a value of the wrong type, is a `ConfigError` that names the dotted
key (`ctde.critic.hidden_dims`), never silently ignored. A key left out takes the default written
here, which is the seed's value.

The sections `pack_formation`, `signals`, `queues`, `jobs` and `limits` configure what runs
inside the database (the migrations load them into ml.config).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from plpython.pack_episode import MAX_EPISODE_LENGTH

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config" / "ctde_config.yaml"


class ConfigError(ValueError):
    """The YAML does not fit the typed config; the message names the dotted key."""


@dataclass(frozen=True)
class CriticConfig:
    """The centralized critic (training only)."""

    hidden_dims: list[int] = field(default_factory=lambda: [512, 512, 256])
    """Widths: the per-agent encoder (first) and the value MLP after pooling (the rest)."""
    learning_rate: float = 3e-4
    """Adam learning rate of the critic."""
    use_attention: bool = True
    """Multi-head self-attention over the pack's agents before pooling."""
    dropout: float = 0.2
    """Dropout after each hidden layer of the value MLP and inside the attention."""
    n_heads: int = 4
    """Attention heads; must divide hidden_dims[0]."""


@dataclass(frozen=True)
class ActorConfig:
    """The decentralized actor (the network that is exported to ONNX and served)."""

    hidden_dim: int = 256
    """Width of the state encoder and of the GRU state."""
    learning_rate: float = 1e-4
    """Adam learning rate of the actor."""
    use_gru: bool = True
    """A GRU carries each monster's memory from one decision to the next."""
    dropout: float = 0.1
    """Dropout in the state encoder and the decision MLP (training only)."""


@dataclass(frozen=True)
class InferenceConfig:
    """How a deployed actor is used."""

    use_signals: bool = True
    """Feed each monster's 32-float signal vector; false feeds zeros (solo behaviour)."""
    coordination_threshold: float = 0.7
    """Coordination score at or above which a pack's decision counts as coordinated."""


@dataclass(frozen=True)
class CTDEConfig:
    """The `ctde` section: dimensions, networks, MAPPO hyper-parameters, inference."""

    min_pack_size: int = 2
    """Smallest pack trained and served as a pack."""
    max_pack_size: int = 5
    """Largest pack; the critic's number of agent slots."""
    state_dim: int = 64
    """Floats in one monster's state vector."""
    signal_dim: int = 32
    """Floats in one monster's signal vector."""
    action_dim: int = 7
    """Pack actions: HELP_ALLY GROUP_UP SPLIT FOCUS_FIRE PROTECT_WEAK FLANK_LEFT FLANK_RIGHT."""
    critic: CriticConfig = field(default_factory=CriticConfig)
    """The centralized critic."""
    actor: ActorConfig = field(default_factory=ActorConfig)
    """The decentralized actor."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda (bias/variance trade-off of the advantages)."""
    team_reward_weight: float = 0.7
    """Agent reward = w * team reward + (1 - w) * individual reward."""
    clip_epsilon: float = 0.2
    """PPO ratio clip."""
    entropy_coef: float = 0.01
    """Entropy bonus weight."""
    value_loss_coef: float = 0.5
    """Critic loss weight."""
    max_grad_norm: float = 0.5
    """Global gradient norm clip."""
    n_epochs: int = 4
    """PPO epochs per batch of episodes."""
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    """How a deployed actor is used."""


@dataclass(frozen=True)
class PackFormationConfig:
    """Pack formation by proximity, in the database."""

    radius: int = 10
    """Cells: monsters on one map within this distance form a pack."""
    min_size: int = 2
    """Fewest members of a pack."""
    max_size: int = 5
    """Most members of a pack."""


@dataclass(frozen=True)
class SignalsConfig:
    """Signals between monsters, in the database."""

    signal_range: int = 15
    """Cells: a broadcast without explicit recipients reaches every monster this close."""
    default_ttl_seconds: int = 5
    """Time to live of a signal whose type has no entry in ttl_seconds."""
    ttl_seconds: dict[str, int] = field(default_factory=dict)
    """Time to live per signal type."""
    log_retention_seconds: int = 86400
    """Seconds a coordination log row (one per signal sent) is kept."""


@dataclass(frozen=True)
class QueuesConfig:
    """The decision queues, in the database."""

    retention_seconds: int = 600
    """Seconds a finished decision job (and a gateway request's row and answer) is kept."""


@dataclass(frozen=True)
class JobsConfig:
    """The product's pg_cron jobs, in the database."""

    history_seconds: int = 3600
    """Seconds the history of their runs (cron.job_run_details) is kept."""


#: Where decisions are made (docs/inline_serving.md).
SERVING_MODES = ("inline", "worker", "auto")


@dataclass(frozen=True)
class ServingConfig:
    """Where decisions are made: in the caller's own statement (inline, ONNX Runtime in the
    database's Python) or by a worker through the queue (docs/inline_serving.md)."""

    mode: str = "auto"
    """'inline': ml.decide_pack answers in the caller's statement and the legacy gateway inside
    its INSERT; 'worker': the gateway goes through the queue and ml.decide_pack is refused
    (ML010); 'auto': as 'inline', except that the gateway goes to the queue while a GPU worker
    runs or where the database's Python lacks ONNX Runtime. ml.request_pack_actions always
    queues: the worker batches requests together and serves GPUs."""
    memory_ttl_seconds: int = 600
    """Seconds a monster's recurrent memory (ml.monster_memory) outlives its last decision
    before it is purged (a despawned monster's, a retired model's)."""


#: Monsters one decision job may hold: ml.submit_decision_job refuses more whatever ml.config says.
QUEUE_MAX_MONSTERS = 1024


@dataclass(frozen=True)
class ContinuousLearningConfig:
    """Retraining from what the game server records (docs/model_zoo.md, "Continuous learning"):
    pg_cron's ml.queue_retraining queues a training job for an archetype and model type once this
    many experiences (ml.record_experience) arrived since its newest model."""

    min_new_experiences: int = 10000
    """New recorded transitions of one archetype and model type that queue a retraining (0: off)."""
    algorithm: str = "cql"
    """The algorithm of the queued job: an offline one, it learns from the recorded experience."""


@dataclass(frozen=True)
class LimitsConfig:
    """Caps on one call of the game server's SQL API (docs/coordination.md, "Limits"): a call over
    one is refused with SQLSTATE ML009 before any work (episode_reward, experience_reward:
    22023)."""

    sync_monsters: int = 2048
    """Monsters in one ml.sync_monsters call, either form."""
    request_monsters: int = 1024
    """Monster ids in one decision request and in one ml.detect_pack_formation,
    ml.signal_vectors or ml.coordination_score call; at most 1024 (a decision job's own bound)."""
    form_packs_maps: int = 4096
    """Distinct maps in one ml.form_packs call; at least twice sync_monsters (a sync re-forms the
    maps its monsters left and entered in one call)."""
    json_bytes: int = 16 * 1024 * 1024
    """Bytes of the jsonb document of one ml.sync_monsters or ml.request_pack_actions call."""
    signal_receivers: int = 64
    """Entries of one signal's pack_monsters; a broadcast by range reaches the nearest this many."""
    signal_content_bytes: int = 1024
    """Bytes of one signal's content as JSON text (it is stored on every receiver's edge)."""
    signal_content_depth: int = 8
    """Levels of arrays and objects nested in one signal's content (its own fields are level 1;
    a formation command's positions need 3)."""
    episode_steps: int = 2000
    """Steps of one episode recorded with ml.record_pack_episode."""
    episode_reward: float = 1e6
    """Largest absolute team or individual reward of one step of a recorded episode."""
    experience_rows: int = 4096
    """Transitions (rows) in one ml.record_experience call."""
    experience_reward: float = 1000.0
    """Largest absolute reward of one transition recorded with ml.record_experience (22023): the
    contract simulator's stay within [-1.5, 12]; a Q-learner's values grow with reward / (1 -
    gamma), so one absurd reward would swamp every other."""
    ask_model_floats: int = 4194304
    """Floats of `inputs` in one ml.ask_model call (rows x columns; 16 MiB of float32)."""


@dataclass(frozen=True)
class AdvancedConfig:
    """The seed's "Advanced Topics"."""

    curriculum_learning: bool = False
    """Train on growing pack sizes, start_pack_size up to end_pack_size."""
    start_pack_size: int = 2
    """First pack size of the curriculum."""
    end_pack_size: int = 5
    """Last pack size of the curriculum."""
    size_increase_interval: int = 1000
    """Iterations between two pack-size steps of the curriculum."""
    multi_task_learning: bool = False
    """Train on several objectives at once."""
    tasks: list[str] = field(default_factory=list)
    """Objectives of multi-task learning."""


@dataclass(frozen=True)
class Config:
    """The whole file: one attribute per top-level section."""

    ctde: CTDEConfig = field(default_factory=CTDEConfig)
    """CTDE networks and training."""
    pack_formation: PackFormationConfig = field(default_factory=PackFormationConfig)
    """Pack formation in the database."""
    signals: SignalsConfig = field(default_factory=SignalsConfig)
    """Signals in the database."""
    queues: QueuesConfig = field(default_factory=QueuesConfig)
    """Decision queues in the database."""
    jobs: JobsConfig = field(default_factory=JobsConfig)
    """The product's pg_cron jobs."""
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    """Caps on one call of the SQL API."""
    serving: ServingConfig = field(default_factory=ServingConfig)
    """Where decisions are made."""
    continuous_learning: ContinuousLearningConfig = field(default_factory=ContinuousLearningConfig)
    """Retraining queued by pg_cron from recorded experience."""
    advanced: AdvancedConfig = field(default_factory=AdvancedConfig)
    """Curriculum and multi-task options."""

    def __post_init__(self) -> None:
        _check_ranges(self)


T = TypeVar("T")


def _type_name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else str(tp)


def _convert(value: Any, tp: Any, key: str) -> Any:
    """`value` as type `tp`, or ConfigError naming `key`. bool is never an int, int is a float."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _build(tp, value, key)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list of {_type_name(item_tp)}, got {value!r}")
        return [_convert(item, item_tp, f"{key}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        key_tp, item_tp = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return {
            _convert(k, key_tp, f"{key} (key)"): _convert(v, item_tp, f"{key}.{k}")
            for k, v in value.items()
        }
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise TypeError(
        f"{key}: the config loader has no rule for type {tp!r}"
    )  # a bug here, not in YAML


def _build(cls: type[T], mapping: Any, prefix: str) -> T:
    """Dataclass `cls` from `mapping`: an unknown key is an error, a missing key its default."""
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        raise ConfigError(f"{prefix or 'top level'}: expected a mapping, got {mapping!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(str(k) for k in mapping if k not in names)
    if unknown:
        where = ", ".join(f"{prefix}.{k}" if prefix else k for k in unknown)
        raise ConfigError(f"unknown config key {where} (known here: {', '.join(sorted(names))})")
    kwargs = {
        name: _convert(value, hints[name], f"{prefix}.{name}" if prefix else name)
        for name, value in mapping.items()
    }
    return cls(**kwargs)


def _require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {message}")


def _check_ranges(cfg: Config) -> None:
    c = cfg.ctde
    _require(
        2 <= c.min_pack_size <= c.max_pack_size <= 5,
        "ctde.min_pack_size/max_pack_size",
        f"need 2 <= min ({c.min_pack_size}) <= max ({c.max_pack_size}) <= 5",
    )
    for name in ("state_dim", "signal_dim", "action_dim"):
        _require(getattr(c, name) > 0, f"ctde.{name}", "must be positive")
    _require(
        len(c.critic.hidden_dims) >= 2 and all(d > 0 for d in c.critic.hidden_dims),
        "ctde.critic.hidden_dims",
        f"need at least two positive widths, got {c.critic.hidden_dims}",
    )
    _require(
        c.critic.n_heads > 0 and c.critic.hidden_dims[0] % c.critic.n_heads == 0,
        "ctde.critic.n_heads",
        f"{c.critic.n_heads} heads must divide hidden_dims[0] = {c.critic.hidden_dims[0]}",
    )
    _require(c.actor.hidden_dim > 0, "ctde.actor.hidden_dim", "must be positive")
    for key, value in (
        ("ctde.critic.dropout", c.critic.dropout),
        ("ctde.actor.dropout", c.actor.dropout),
    ):
        _require(0.0 <= value < 1.0, key, f"must be in [0, 1), got {value}")
    for key, value in (
        ("ctde.gamma", c.gamma),
        ("ctde.gae_lambda", c.gae_lambda),
        ("ctde.team_reward_weight", c.team_reward_weight),
        ("ctde.inference.coordination_threshold", c.inference.coordination_threshold),
    ):
        _require(0.0 <= value <= 1.0, key, f"must be in [0, 1], got {value}")
    p = cfg.pack_formation
    _require(
        2 <= p.min_size <= p.max_size <= 5,
        "pack_formation.min_size/max_size",
        f"need 2 <= min ({p.min_size}) <= max ({p.max_size}) <= 5",
    )
    _require(p.radius > 0, "pack_formation.radius", "must be positive")
    _require(cfg.signals.default_ttl_seconds > 0, "signals.default_ttl_seconds", "must be positive")
    for name, ttl in cfg.signals.ttl_seconds.items():
        _require(ttl > 0, f"signals.ttl_seconds.{name}", "must be positive")
    _require(cfg.queues.retention_seconds > 0, "queues.retention_seconds", "must be positive")
    _require(cfg.jobs.history_seconds > 0, "jobs.history_seconds", "must be positive")
    _require(
        cfg.signals.log_retention_seconds > 0, "signals.log_retention_seconds", "must be positive"
    )
    _check_limits(cfg.limits, cfg.pack_formation)
    _require(
        cfg.serving.mode in SERVING_MODES,
        "serving.mode",
        f"one of {', '.join(SERVING_MODES)}, got {cfg.serving.mode!r}",
    )
    _require(cfg.serving.memory_ttl_seconds > 0, "serving.memory_ttl_seconds", "must be positive")


def _check_limits(limits: LimitsConfig, packs: PackFormationConfig) -> None:
    for f in dataclasses.fields(limits):
        value = getattr(limits, f.name)
        _require(value > 0 and math.isfinite(value), f"limits.{f.name}", "must be positive")
    _require(
        limits.request_monsters <= QUEUE_MAX_MONSTERS,
        "limits.request_monsters",
        f"at most {QUEUE_MAX_MONSTERS} (a decision job's own bound), got {limits.request_monsters}",
    )
    _require(
        limits.form_packs_maps >= 2 * limits.sync_monsters,
        "limits.form_packs_maps",
        f"must be at least 2 x limits.sync_monsters ({2 * limits.sync_monsters}): a sync re-forms "
        f"the maps its monsters left and entered in one ml.form_packs call, "
        f"got {limits.form_packs_maps}",
    )
    _require(
        limits.signal_receivers >= packs.max_size - 1,
        "limits.signal_receivers",
        f"must reach a whole pack (pack_formation.max_size - 1 = {packs.max_size - 1}), "
        f"got {limits.signal_receivers}",
    )
    _require(
        limits.signal_content_depth >= 3,
        "limits.signal_content_depth",
        f"must be at least 3 (a formation command's positions), got {limits.signal_content_depth}",
    )
    _require(
        limits.episode_steps <= MAX_EPISODE_LENGTH,
        "limits.episode_steps",
        f"at most {MAX_EPISODE_LENGTH} (the stored episode layout), got {limits.episode_steps}",
    )


def config_from_dict(raw: Any) -> Config:
    """Typed config from an already parsed mapping (the YAML's top level)."""
    return _build(Config, raw, "")


def load_config(path: str | Path = DEFAULT_CONFIG_PATH) -> Config:
    """Typed config from a YAML file; ConfigError (with the file name) when it does not fit."""
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    try:
        return config_from_dict(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def default_config() -> Config:
    """The seed's defaults, without reading any file."""
    return Config()


def build_dataclass(cls: type[T], mapping: Any, prefix: str) -> T:
    """Any config dataclass from a mapping, as strictly as the YAML (the training job's own
    `training` section uses it): unknown or mistyped keys are ConfigError naming `prefix.key`."""
    return _build(cls, mapping, prefix)
