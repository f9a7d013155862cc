"""plpython/signal_encoding.py on the host: the vector layout and each refusal with its SQLSTATE."""

from __future__ import annotations

from typing import Any

import pytest

from plpython import signal_encoding as se


def test_each_type_sets_its_dimension_weighted_by_priority() -> None:
    vector = se.encode_signals(
        [
            {"signal_type": "focus_fire", "content": {"threat": 0.9}, "priority": 2},
            {
                "signal_type": "formation_command",
                "content": {"formation_type": "surround"},
                "priority": 4,
            },
            {"signal_type": "help_request", "content": {"urgency": 0.1}, "priority": 3},
            {"signal_type": "retreat", "content": {}, "priority": 1},
            {"signal_type": "directive", "content": {"directive": "hold"}, "priority": 10},
            {"signal_type": "directive", "content": {"directive": "dance"}, "priority": 5},
        ]
    )
    expected = [0.0] * 32
    expected[7] = 0.9  # threat 0.9 -> slot 7
    expected[8 + 6] = 0.7  # surround
    expected[16 + 0] = 0.8  # urgency 0.1 -> slot 0
    expected[24] = 1.0  # retreat
    expected[26] = 0.1  # hold
    expected[31] = 0.6  # any other directive
    assert vector == pytest.approx(expected)


def test_strongest_signal_wins_a_shared_dimension() -> None:
    low = {"signal_type": "retreat", "content": {}, "priority": 9}
    high = {"signal_type": "retreat", "content": {}, "priority": 1}
    assert se.encode_signals([low, high])[24] == 1.0


def test_default_priorities_are_the_simulators() -> None:
    assert se.DEFAULT_PRIORITIES == {
        "retreat": 1,
        "attack_target": 2,
        "help_request": 3,
        "formation_command": 4,
        "directive": 5,
    }


BAD: list[Any] = [
    pytest.param("teleport", {}, 5, "ML001", "unknown signal type 'teleport'", id="type"),
    pytest.param("retreat", {}, 0, "ML002", "priority must be between 1 and 10, got 0", id="prio"),
    pytest.param("retreat", {}, True, "ML002", "priority must be an integer", id="prio-bool"),
    pytest.param(
        "attack_target",
        {"threat": 1.5},
        2,
        "ML003",
        "threat must be a number in [0, 1]",
        id="threat",
    ),
    pytest.param(
        "attack_target",
        {"threat": "NaN"},
        2,
        "ML003",
        "threat must be a number in [0, 1], got NaN",
        id="threat-nan",
    ),
    pytest.param(
        "help_request", {"urgency": 0.5, "hp_ratio": -0.1}, 3, "ML003", "hp_ratio must be", id="hp"
    ),
    pytest.param(
        "attack_target", {"threat": "high"}, 2, "ML005", "threat must be a number", id="threat-text"
    ),
    pytest.param("attack_target", {}, 2, "ML005", "threat must be a number", id="threat-missing"),
    pytest.param("retreat", [], 1, "ML005", "content must be a JSON object, got array", id="array"),
    pytest.param(
        "retreat",
        {"rally_point": [1]},
        1,
        "ML005",
        "rally_point must be an [x, y] pair",
        id="rally",
    ),
    pytest.param(
        "formation_command",
        {"formation_type": "flanking", "positions": {"abc": [1, 2]}},
        4,
        "ML005",
        "positions keys must be monster ids",
        id="positions",
    ),
    pytest.param(
        "formation_command",
        {"formation_type": "wedge"},
        4,
        "ML007",
        "formation_type must be one of",
        id="formation",
    ),
]


@pytest.mark.parametrize(("kind", "content", "priority", "sqlstate", "message"), BAD)
def test_refusals_carry_their_sqlstate(
    kind: str, content: Any, priority: Any, sqlstate: str, message: str
) -> None:
    with pytest.raises(se.SignalError) as raised:
        se.validate_signal(kind, content, priority)
    assert raised.value.sqlstate == sqlstate
    assert message in str(raised.value)


def test_valid_signal_returns_its_canonical_type() -> None:
    content = {"urgency": 0.9, "hp_ratio": 0.2, "position": [150, 200]}
    assert se.validate_signal("help_request", content, 3) == "help_request"
    assert se.validate_signal("focus_fire", {"threat": 0.2, "target_id": 5}, 2) == "attack_target"
