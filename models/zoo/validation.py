"""The seed's validation bar, per model: which criteria apply to a model type, whether each is met,
and the report stored in the model's registry row (metrics -> 'validation') and printed as a table.

Criteria (docs/model_zoo.md):
- win rate against the traditional AI > 70% (models that act);
- average episode reward > 100, on the task's own reward scale (which the report names);
- p95 inference latency < 15 ms (the served ONNX file, batch 1, one thread);
- action diversity > 2.0 bits (entropy of the answers across states) where the model can give
  more than four answers (log2 of four is exactly 2: a smaller set cannot pass);
- explained variance > 80% (value and regression outputs);
- each supervised task's own held-out metrics and bars.
A deploy of a model whose report failed is refused (ml.deploy_model, ML013) unless forced.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from models.zoo.base import Evaluation

WIN_RATE_BAR = 0.70
REWARD_BAR = 100.0
LATENCY_P95_MS_BAR = 15.0
DIVERSITY_BITS_BAR = 2.0
EXPLAINED_VARIANCE_BAR = 0.80


def _criterion(name: str, value: float, op: str, bar: float, detail: str = "") -> dict[str, Any]:
    passed = value > bar if op == ">" else value < bar
    shown = f"{value:.3f}" if abs(value) < 1000 else f"{value:.4g}"
    line = f"{name} {shown} (bar {op} {bar:g}{'; ' + detail if detail else ''})"
    return {"name": name, "value": value, "op": op, "bar": bar, "passed": passed, "line": line}


def criteria(evaluation: Evaluation, latency_p95_ms: float | None) -> list[dict[str, Any]]:
    """Every criterion that applies to what was measured."""
    found: list[dict[str, Any]] = []
    e = evaluation
    if e.win_rate is not None:
        baseline = (
            f"traditional AI {e.baseline_win_rate:.3f}" if e.baseline_win_rate is not None else ""
        )
        found.append(_criterion("win_rate", e.win_rate, ">", WIN_RATE_BAR, baseline))
    if e.avg_episode_reward is not None:
        found.append(
            _criterion(
                "avg_episode_reward",
                e.avg_episode_reward,
                ">",
                REWARD_BAR,
                e.reward_scale or "",
            )
        )
    if latency_p95_ms is not None:
        found.append(
            _criterion("latency_p95_ms", latency_p95_ms, "<", LATENCY_P95_MS_BAR, "batch 1")
        )
    if (
        e.action_entropy_bits is not None
        and e.action_count is not None
        and math.log2(e.action_count) > DIVERSITY_BITS_BAR
    ):
        found.append(
            _criterion(
                "action_diversity_bits",
                e.action_entropy_bits,
                ">",
                DIVERSITY_BITS_BAR,
                f"of {math.log2(e.action_count):.2f} possible",
            )
        )
    if e.explained_variance is not None:
        found.append(
            _criterion("explained_variance", e.explained_variance, ">", EXPLAINED_VARIANCE_BAR)
        )
    for name, value in sorted(e.heldout.items()):
        bar = e.heldout_bars.get(name)
        if bar is not None and name not in {c["name"] for c in found}:  # listed once
            found.append(_criterion(name, value, bar[0], bar[1], "held out"))
    return found


def report(
    archetype: str,
    model_type: str,
    profile: str,
    evaluation: Evaluation,
    latency_p95_ms: float | None = None,
) -> dict[str, Any]:
    """The validation report: every criterion, and `passed` when all are met."""
    found = criteria(evaluation, latency_p95_ms)
    return {
        "archetype": archetype,
        "model_type": model_type,
        "profile": profile,
        "passed": all(c["passed"] for c in found),
        "criteria": found,
        "evaluation": asdict(evaluation),
    }


def with_latency(validation: dict[str, Any], latency_p95_ms: float) -> dict[str, Any]:
    """The report with the served file's measured latency in place of any earlier one."""
    kept = [c for c in validation["criteria"] if c["name"] != "latency_p95_ms"]
    kept.append(_criterion("latency_p95_ms", latency_p95_ms, "<", LATENCY_P95_MS_BAR, "batch 1"))
    return {**validation, "criteria": kept, "passed": all(c["passed"] for c in kept)}


def failed_lines(validation: dict[str, Any]) -> list[str]:
    return [c["line"] for c in validation["criteria"] if not c["passed"]]


def table(reports: list[dict[str, Any]]) -> str:
    """The reports as one text table: a row per model, a column per criterion."""
    names = [
        "win_rate",
        "avg_episode_reward",
        "latency_p95_ms",
        "action_diversity_bits",
        "explained_variance",
    ]
    header = ["archetype", "model_type", *names, "held-out", "passed"]
    rows = [header]
    for r in reports:
        by_name = {c["name"]: c for c in r["criteria"]}
        cells = [r["archetype"], r["model_type"]]
        for name in names:
            c = by_name.get(name)
            cells.append("-" if c is None else f"{c['value']:.3g}{'' if c['passed'] else '!'}")
        heldout = [
            f"{c['name']} {c['value']:.3g}{'' if c['passed'] else '!'}"
            for c in r["criteria"]
            if c["name"] not in names
        ]
        cells.append(", ".join(heldout) or "-")
        cells.append("yes" if r["passed"] else "no")
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n('!' marks a value that misses its bar)"
