"""Typed CTDE config: the repository's YAML loads, and a wrong key or type is an error naming it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from models.config import DEFAULT_CONFIG_PATH, ConfigError, config_from_dict, load_config


def raw_config() -> dict[str, object]:
    with DEFAULT_CONFIG_PATH.open(encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    assert isinstance(raw, dict)
    return raw


def test_repository_yaml_loads_with_the_seed_keys() -> None:
    cfg = load_config()
    assert cfg.ctde.min_pack_size == 2
    assert cfg.ctde.max_pack_size == 5
    assert cfg.ctde.critic.hidden_dims == [512, 512, 256]
    assert cfg.ctde.actor.hidden_dim == 256
    assert cfg.ctde.gamma == pytest.approx(0.99)
    assert cfg.ctde.gae_lambda == pytest.approx(0.95)
    assert cfg.ctde.team_reward_weight == pytest.approx(0.7)
    assert cfg.ctde.inference.use_signals is True
    assert cfg.ctde.inference.coordination_threshold == pytest.approx(0.7)
    assert cfg.pack_formation.radius == 10
    assert cfg.signals.ttl_seconds["retreat"] == 3
    assert cfg.advanced.curriculum_learning is True


CASES = {
    "typo": ("ctde.critic.hiden_dims", [1, 2], "ctde.critic.hiden_dims"),
    "unknown-ctde-key": ("ctde.surprise", 1, "ctde.surprise"),
    "unknown-section": ("bogus_section", {}, "bogus_section"),
    "str-for-int": ("ctde.actor.hidden_dim", "256", "ctde.actor.hidden_dim"),
    "float-for-int": ("ctde.actor.hidden_dim", 256.0, "ctde.actor.hidden_dim"),
    "bool-for-float": ("ctde.gamma", True, "ctde.gamma"),
    "int-for-bool": ("ctde.inference.use_signals", 1, "ctde.inference.use_signals"),
    "list-item": ("ctde.critic.hidden_dims", [512, "x"], "ctde.critic.hidden_dims[1]"),
    "dict-value": ("signals.ttl_seconds.retreat", "3s", "signals.ttl_seconds.retreat"),
    "pack-range": ("ctde.max_pack_size", 6, "ctde.min_pack_size/max_pack_size"),
    "gamma-range": ("ctde.gamma", 1.5, "ctde.gamma"),
    "retention-range": ("queues.retention_seconds", 0, "queues.retention_seconds"),
    "history-range": ("jobs.history_seconds", -1, "jobs.history_seconds"),
    "history-type": ("jobs.history_seconds", "1h", "jobs.history_seconds"),
    "log-retention-range": ("signals.log_retention_seconds", 0, "signals.log_retention_seconds"),
}


@pytest.mark.parametrize(("dotted", "value", "named"), list(CASES.values()), ids=list(CASES))
def test_wrong_key_or_type_is_an_error_naming_the_key(
    dotted: str, value: object, named: str
) -> None:
    raw = raw_config()
    *parents, last = dotted.split(".")
    node = raw
    for key in parents:
        node = node[key]  # type: ignore[assignment]
    node[last] = value
    with pytest.raises(ConfigError, match=re.escape(named)):
        config_from_dict(raw)


def test_missing_keys_take_the_seed_defaults(tmp_path: Path) -> None:
    path = tmp_path / "small.yaml"
    path.write_text("ctde:\n  actor:\n    hidden_dim: 32\n", encoding="utf-8")
    cfg = load_config(path)
    assert cfg.ctde.actor.hidden_dim == 32
    assert cfg.ctde.critic.hidden_dims == [512, 512, 256]
    assert cfg.pack_formation.max_size == 5


def test_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("ctde:\n  gama: 0.9\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml: unknown config key ctde\.gama"):
        load_config(path)
