"""Ray Tune: a hyper-parameter sweep or an algorithm comparison as one command each.

    python -m models.rllib.tune sweep --algorithm rllib_ppo \\
        --param algorithm.lr=1e-4,3e-4,1e-3 --seed 0 --updates 50 --out runs/tune/ppo_lr
    python -m models.rllib.tune compare --algorithms rllib_ppo,rllib_appo,mappo \\
        --scenario ambush --updates 50 --seeds 0,1 --out runs/tune/ambush

A trial is one training run of the product: the job config (`--config`, read as strictly as the
worker reads ml_training_jobs.config, models/training/job.py parse_job_config), the flags'
`training` keys over it (--updates, --seed, --scenario, ...), then the trial's own values of the
swept `--param`s (a dotted path into the job config, section.key[.key...], and its values,
comma-separated: `ctde.critic.hidden_dims=[32,32],[64,64]` gives two lists). `sweep` is the grid
over every `--param`'s values for one algorithm and seed (`--seed 0,1`: each seed); `compare` is
every algorithm (names of models/algorithms/registry.py ALGORITHMS) under every seed, on the same
config (a `--config` "algorithm" section must suit them all). Every trial is planned and its config
parsed before Ray is touched: an unknown algorithm, a bad path or a bad value fails the command at
once (exit status 2) with the trial and key named, no trial started.

Each trial runs `run_trial` on Ray Tune: the product's Trainer (models/training/loop.py) trains
it, each update's record is reported with `tune.report` (the held-out evaluation's `eval_*` keys
every training.eval_every updates), and the final weights are evaluated on the held-out fights
when the last update was not. A trial asks for 1 CPU (an RLlib algorithm's
training.num_env_runners one more each, its learner's GPUs too), so Tune runs as many at once as
the cluster has room for: two on a 2-core machine, spread over the nodes of a cluster
(`--address`, else RAGNAROK_RAY_ADDRESS, else a local Ray: models/rllib/cluster.py).

OUT/ holds Tune's experiment (OUT/trials/, one folder per trial: Tune's progress.csv and
result.json, and `run/`, the loop's run folder with training_progress.csv and best.pt, and the
trial's job config, job.json), then
OUT/results.md (one row per trial, the best held-out win rate first) and OUT/results.png (the
held-out win rate over env steps, one line per trial); the table is printed too (`--quiet`:
only the table, without Tune's progress). Exit status 1 when a trial failed (its error is listed
under the table).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import re
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.training_jobs import TrainingConfigError
from models.algorithms.registry import UnknownAlgorithmError, algorithm_class
from models.training.job import JOB_SECTIONS, command_job_config, parse_job_config
from models.training.loop import LATEST, Trainer

#: Tune's experiment folder under OUT.
EXPERIMENT = "trials"
#: The loop's run folder inside each trial's folder.
RUN_DIR = "run"
#: The trial's job config, in its run folder.
JOB_JSON = "job.json"
RESULTS_MD = "results.md"
RESULTS_PNG = "results.png"
#: The held-out evaluation's score in the reported records (the simulators score wins).
EVAL_SCORE = "eval_win_rate"

#: flag -> the job config's "training" key it sets (when given).
TRAINING_FLAGS = {
    "updates": "total_updates",
    "time_budget": "time_budget_s",
    "scenario": "scenario",
    "model_type": "model_type",
    "eval_every": "eval_every",
    "eval_episodes": "eval_episodes",
}


class TuneError(ValueError):
    """The sweep cannot start: the message names the algorithm, parameter or trial at fault."""


# --- planning -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrialSpec:
    """One trial of the grid. Its Tune config carries the algorithm, the seed and the swept
    values (Plan.param_space); `run_trial` rebuilds the job config from them."""

    index: int
    label: str
    """The trial's name: its folder under OUT/trials/ and its row in results.md."""
    algorithm: str
    seed: int
    params: dict[str, Any]
    """The swept values of this trial, by dotted path."""
    job: dict[str, Any]
    """The whole job config (parse_job_config's input)."""
    cpus: float = 1.0
    gpus: float = 0.0

    @property
    def key(self) -> str:
        return trial_key(self.algorithm, self.seed, list(self.params.values()))


@dataclass(frozen=True)
class Plan:
    """The grid algorithms x seeds x each param's values, and every trial of it."""

    algorithms: list[str]
    seeds: list[int]
    params: list[tuple[str, list[Any]]]
    base: dict[str, Any]
    trials: list[TrialSpec]

    def param_space(self) -> dict[str, Any]:
        """Tune's param_space: a grid search over each dimension with more than one value (what
        Tune's status table and each trial's params.json show), the base job config as is."""
        from ray import tune

        def dim(values: Sequence[Any]) -> Any:
            return tune.grid_search(list(values)) if len(values) > 1 else values[0]

        return {
            "algorithm": dim(self.algorithms),
            "seed": dim(self.seeds),
            **{path: dim(values) for path, values in self.params},
            "swept": [path for path, _ in self.params],
            "base": self.base,
        }

    def trial(self, config: dict[str, Any]) -> TrialSpec:
        """The trial a Tune config (one point of param_space) stands for."""
        by_key = {t.key: t for t in self.trials}
        return by_key[
            trial_key(config["algorithm"], config["seed"], [config[p] for p in config["swept"]])
        ]


def trial_key(algorithm: str, seed: int, values: list[Any]) -> str:
    return json.dumps([algorithm, seed, values], sort_keys=True)


def trial_job(base: dict[str, Any], seed: int, params: dict[str, Any]) -> dict[str, Any]:
    """A trial's job config: `base`, its seed as training.seed, its swept values over them."""
    job = set_path(base, "training.seed", seed)
    for path, value in params.items():
        job = set_path(job, path, value)
    return job


def split_values(text: str) -> list[str]:
    """ "a,b,[1,2]" -> ["a", "b", "[1,2]"]: commas split, except inside brackets or braces."""
    parts: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def parse_value(text: str) -> Any:
    """A value as JSON reads it (1e-4, 64, true, [64, 64], "tanh"); a bare word stays a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_param(text: str) -> tuple[str, list[Any]]:
    """ "algorithm.lr=1e-4,3e-4" -> ("algorithm.lr", [0.0001, 0.0003]); TuneError when it is not
    section.key=value[,value...] with a section of the job config."""
    path, sep, values = text.partition("=")
    path = path.strip()
    keys = path.split(".")
    if not sep or not values.strip() or len(keys) < 2 or not all(keys):
        raise TuneError(
            f"--param {text!r}: expected section.key=value[,value...] "
            f"(e.g. algorithm.lr=1e-4,3e-4; sections: {', '.join(JOB_SECTIONS)})"
        )
    if keys[0] not in JOB_SECTIONS:
        raise TuneError(
            f"--param {text!r}: unknown section {keys[0]!r} (known: {', '.join(JOB_SECTIONS)})"
        )
    parsed = [parse_value(v) for v in split_values(values)]
    if any(v == "" for v in parsed):
        raise TuneError(f"--param {text!r}: an empty value")
    return path, parsed


def set_path(job: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `job` with the dotted `path` set to `value` (missing sections created)."""
    out: dict[str, Any] = json.loads(json.dumps(job))
    node = out
    keys = path.split(".")
    for depth, key in enumerate(keys[:-1]):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise TuneError(
                f"--param {path}: {'.'.join(keys[: depth + 1])} is {child!r}, not a section"
            )
        node = child
    node[keys[-1]] = value
    return out


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def label_value(value: Any) -> str:
    """A value as a trial's name shows it: [64, 64] as 64-64."""
    if isinstance(value, list):
        return "-".join(label_value(v) for v in value)
    return format_value(value)


def short_names(paths: Sequence[str]) -> dict[str, str]:
    """Each path's last key, or the whole path where two paths end in the same key."""
    last = [p.rsplit(".", 1)[-1] for p in paths]
    return {p: (k if last.count(k) == 1 else p) for p, k in zip(paths, last, strict=True)}


def plan(
    algorithms: Sequence[str],
    seeds: Sequence[int],
    params: Sequence[tuple[str, list[Any]]] = (),
    base: dict[str, Any] | None = None,
) -> Plan:
    """Every trial of the grid algorithms x seeds x each param's values, each trial's job config
    parsed as the worker parses it: TuneError before anything runs when one is wrong."""
    if not algorithms:
        raise TuneError("no algorithm given")
    if not seeds:
        raise TuneError("no seed given")
    if len(set(algorithms)) != len(algorithms) or len(set(seeds)) != len(seeds):
        raise TuneError("an algorithm or a seed is given twice")
    paths = [p for p, _ in params]
    if len(set(paths)) != len(paths):
        raise TuneError(f"a --param path is given twice: {', '.join(paths)}")
    if "training.seed" in paths:
        raise TuneError("the seeds are --seed (sweep) or --seeds (compare), not a --param")
    for name in algorithms:
        try:
            cls = algorithm_class(name)
        except UnknownAlgorithmError as exc:
            raise TuneError(str(exc)) from None
        if cls.info.offline:
            raise TuneError(
                f"{name} learns offline from the experience the game server recorded (a "
                "database), not on the simulator: it has no place in a Tune sweep"
            )
    base = base or {}
    if not isinstance(base, dict):
        raise TuneError(f"--config must be a JSON object, got {base!r}")
    names = short_names(paths)
    specs: list[TrialSpec] = []
    grid = itertools.product(algorithms, seeds, *(values for _, values in params))
    for index, (algorithm, seed, *values) in enumerate(grid):
        chosen = dict(zip(paths, values, strict=True))
        job = trial_job(base, seed, chosen)
        parts = [algorithm] if len(algorithms) > 1 else []
        parts += [f"{names[p]}={label_value(v)}" for p, v in chosen.items()]
        parts += [f"seed{seed}"] if len(seeds) > 1 or not chosen else []
        label = f"{index:02d}_" + re.sub(r"[^A-Za-z0-9_.=,+-]", "_", "_".join(parts))
        where = f"trial {label} ({algorithm}" + "".join(
            f", {p}={format_value(v)}" for p, v in chosen.items()
        )
        try:
            _, settings, hp = parse_job_config(job, algorithm)
        except TrainingConfigError as exc:
            raise TuneError(f"{where}): {exc}") from None
        runners = int(getattr(settings, "num_env_runners", 0))
        gpus = float(getattr(hp, "num_gpus_per_learner", 0.0))
        specs.append(TrialSpec(index, label, algorithm, seed, chosen, job, 1.0 + runners, gpus))
    return Plan(list(algorithms), list(seeds), list(params), base, specs)


# --- one trial (runs in a Tune worker) ------------------------------------------------------
def trial_resources(trial: TrialSpec) -> Any:
    """What a trial reserves: 1 CPU (and the learner's GPUs) for the trainer, 1 CPU for each of
    an RLlib algorithm's env runners (placed in the trial's placement group)."""
    from ray.tune import PlacementGroupFactory

    head: dict[str, float] = {"CPU": 1.0}
    if trial.gpus:
        head["GPU"] = trial.gpus
    runners = [{"CPU": 1.0}] * (int(trial.cpus) - 1)
    return PlacementGroupFactory([head, *runners])


def run_trial(config: dict[str, Any]) -> None:
    """Tune's function trainable: the product's Trainer on the trial's job config, each update's
    record reported (with `wall_s`, seconds since the trial started); the final weights'
    held-out evaluation reported too when the last update had none."""
    from ray import tune

    started = time.perf_counter()
    algorithm = config["algorithm"]
    job = trial_job(config["base"], config["seed"], {p: config[p] for p in config["swept"]})
    job_config, settings, hyperparameters = parse_job_config(job, algorithm)
    trainer = Trainer(algorithm, job_config, settings, hyperparameters=hyperparameters)
    run_dir = Path(tune.get_context().get_trial_dir()) / RUN_DIR
    # The trial's whole job config: `python -m models.training --config run/job.json --resume
    # run/best.pt` goes on from (or exports) the trial's best weights.
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / JOB_JSON).write_text(json.dumps(job, indent=2) + "\n", encoding="utf-8")
    last: dict[str, float] = {}

    def report(step: int, record: dict[str, float]) -> None:
        last.clear()
        last.update(record)
        # The score in every record (NaN between evaluations): Tune's progress.csv takes its
        # columns from the first record.
        tune.report({EVAL_SCORE: math.nan, **record, "wall_s": time.perf_counter() - started})

    try:
        trainer.train(run_dir, progress=report)
        if last and EVAL_SCORE not in last:
            # The loop ends on the best evaluation's weights (best.pt); latest.pt holds the last.
            if (run_dir / LATEST).exists():
                trainer.load_checkpoint(run_dir / LATEST, weights_only=True)
            summary = trainer.evaluate()
            final = {f"eval_{k}": float(v) for k, v in summary.items() if k != "episodes"}
            tune.report(
                {
                    "update": last["update"],
                    "env_steps": last["env_steps"],
                    **final,
                    "final_evaluation": 1.0,
                    "wall_s": time.perf_counter() - started,
                }
            )
    finally:
        trainer.algorithm.close()


# --- running the grid and its results -------------------------------------------------------
@dataclass
class TrialResult:
    """One trial's row of results.md and its line of results.png."""

    trial: str
    algorithm: str
    params: dict[str, Any]
    seed: int
    updates: int = 0
    env_steps: int = 0
    best_win_rate: float = math.nan
    final_win_rate: float = math.nan
    wall_s: float = math.nan
    curve: list[tuple[float, float]] = field(default_factory=list)
    """(env steps, held-out win rate) of every evaluation."""
    error: str = ""


def summarize(spec: TrialSpec, rows: Sequence[dict[str, Any]], error: str = "") -> TrialResult:
    """A trial's row from its reported records."""
    result = TrialResult(spec.label, spec.algorithm, spec.params, spec.seed, error=error)

    def finite(row: dict[str, Any], key: str) -> float | None:
        value = row.get(key)
        if isinstance(value, int | float) and math.isfinite(value):
            return float(value)
        return None

    for row in rows:
        updates, steps = finite(row, "update"), finite(row, "env_steps")
        score, wall = finite(row, EVAL_SCORE), finite(row, "wall_s")
        if updates is not None:
            result.updates = max(result.updates, int(updates))
        if steps is not None:
            result.env_steps = max(result.env_steps, int(steps))
        if wall is not None:
            result.wall_s = wall
        if score is not None:
            result.curve.append((steps or 0.0, score))
    if result.curve:
        result.best_win_rate = max(score for _, score in result.curve)
        result.final_win_rate = result.curve[-1][1]
    return result


def _ranked(results: Sequence[TrialResult]) -> list[TrialResult]:
    return sorted(
        results,
        key=lambda r: (math.isnan(r.best_win_rate), -_or(r.best_win_rate, 0.0), r.trial),
    )


def _or(value: float, default: float) -> float:
    return default if math.isnan(value) else value


def results_table(results: Sequence[TrialResult]) -> str:
    """The markdown table of results.md, the best held-out win rate first."""
    head = (
        "| trial | algorithm | params | seed | updates | env steps | best held-out win rate "
        "| final win rate | wall s |"
    )
    lines = [head, "|" + "---|" * 9]

    def rate(value: float) -> str:
        return "-" if math.isnan(value) else f"{value:.3f}"

    for r in _ranked(results):
        params = ", ".join(f"{p}={format_value(v)}" for p, v in r.params.items()) or "-"
        wall = "-" if math.isnan(r.wall_s) else f"{r.wall_s:.0f}"
        status = " (failed)" if r.error else ""
        lines.append(
            f"| {r.trial}{status} | {r.algorithm} | {params} | {r.seed} | {r.updates} | "
            f"{r.env_steps} | {rate(r.best_win_rate)} | {rate(r.final_win_rate)} | {wall} |"
        )
    return "\n".join(lines)


def write_markdown(
    results: Sequence[TrialResult], path: Path, title: str, command: str, experiment: str
) -> str:
    table = results_table(results)
    failed = [r for r in results if r.error]
    text = [
        f"# {title}",
        "",
        f"Command: `{command}`",
        "",
        f"Ray Tune experiment: `{experiment}` (a folder per trial: Tune's progress.csv and "
        f"result.json; `{RUN_DIR}/`, the training run folder with best.pt). Win rates are "
        "held-out evaluations (training.eval_episodes fights on seeds training never sees); "
        "final: the last evaluation, of the final weights.",
        "",
        table,
        "",
    ]
    if failed:
        text += ["## Failed trials", ""]
        text += [f"- {r.trial}: {r.error.strip().splitlines()[-1]}" for r in failed] + [""]
    path.write_text("\n".join(text), encoding="utf-8")
    return table


def plot(results: Sequence[TrialResult], path: Path, title: str) -> None:
    """results.png: each trial's held-out win rate over env steps (the Agg canvas: no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for r in _ranked(results):
        if r.curve:
            steps, scores = zip(*r.curve, strict=True)
            ax.plot(steps, scores, marker="o", markersize=3, label=r.trial)
    ax.set_xlabel("env steps")
    ax.set_ylabel("held-out win rate")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if any(r.curve for r in results):
        ax.legend(fontsize="small", loc="best")
    fig.tight_layout()
    fig.savefig(path, format="png")


def run(
    grid: Plan,
    out: Path,
    *,
    title: str,
    command: str = "",
    address: str | None = None,
    num_cpus: int | None = None,
    verbose: int = 1,
) -> list[TrialResult]:
    """Run the trials on Ray Tune (joined or started through models.rllib.cluster.connect),
    then write OUT/results.md and OUT/results.png: every trial's row, failed ones included."""
    from ray import tune

    from models.rllib import cluster

    out = out.resolve()
    if out.exists() and any(out.iterdir()):
        raise TuneError(f"--out {out} is not empty: give each sweep a folder of its own")
    try:
        cluster.connect(address, num_cpus=num_cpus)
        cluster.require_resources(
            cpus=max(t.cpus for t in grid.trials), gpus=max(t.gpus for t in grid.trials)
        )
    except (cluster.RayClusterError, ValueError) as exc:  # ValueError: --cpus with --address
        raise TuneError(str(exc)) from None
    out.mkdir(parents=True, exist_ok=True)

    def name(trial: Any) -> str:
        return grid.trial(trial.config).label

    tuner = tune.Tuner(
        tune.with_resources(run_trial, lambda config: trial_resources(grid.trial(config))),
        param_space=grid.param_space(),
        tune_config=tune.TuneConfig(trial_name_creator=name, trial_dirname_creator=name),
        run_config=tune.RunConfig(
            name=EXPERIMENT,
            storage_path=str(out),
            verbose=verbose,
            failure_config=tune.FailureConfig(max_failures=0),
        ),
    )
    results = []
    for result in tuner.fit():
        spec = grid.trial(result.config)
        frame = result.metrics_dataframe
        rows = frame.to_dict("records") if frame is not None else []
        error = "" if result.error is None else f"{type(result.error).__name__}: {result.error}"
        results.append(summarize(spec, rows, error))
    reported = {r.trial for r in results}
    results += [
        summarize(t, [], "no result from Tune") for t in grid.trials if t.label not in reported
    ]
    write_markdown(results, out / RESULTS_MD, title, command, str(out / EXPERIMENT))
    plot(results, out / RESULTS_PNG, title)
    return results


# --- the command ----------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m models.rllib.tune",
        description="Hyper-parameter sweeps and algorithm comparisons on Ray Tune.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    sweep = sub.add_parser("sweep", help="a grid over job-config keys, one algorithm, one seed")
    sweep.add_argument("--algorithm", required=True, help="an ALGORITHMS name (rllib_ppo, ...)")
    sweep.add_argument(
        "--param",
        action="append",
        required=True,
        metavar="SECTION.KEY=V1,V2",
        help="a job-config key and its values (repeat for a grid over several)",
    )
    sweep.add_argument(
        "--seed", default="0", help="training.seed of every trial (comma-separated: each seed)"
    )
    compare = sub.add_parser("compare", help="several algorithms on one scenario")
    compare.add_argument(
        "--algorithms", required=True, help="comma-separated ALGORITHMS names (rllib_ppo,mappo)"
    )
    compare.add_argument("--seeds", default="0", help="comma-separated seeds (each algorithm)")
    for q in (sweep, compare):
        q.add_argument("--out", required=True, type=Path, help="a new folder for the results")
        q.add_argument("--updates", type=int, help="training.total_updates")
        q.add_argument("--time-budget", type=float, help="training.time_budget_s (seconds)")
        q.add_argument("--scenario", help="training.scenario (standard, ambush, ...)")
        q.add_argument("--model-type", help="training.model_type (pack_coordination, combat)")
        q.add_argument("--eval-every", type=int, help="training.eval_every (updates)")
        q.add_argument("--eval-episodes", type=int, help="training.eval_episodes")
        q.add_argument("--config", help="a job config every trial starts from: JSON or a file")
        q.add_argument("--address", help="a Ray cluster to join (default: RAGNAROK_RAY_ADDRESS)")
        q.add_argument("--cpus", type=int, help="CPUs of a local Ray (default: this machine's)")
        q.add_argument("--quiet", action="store_true", help="no Tune progress, only the table")
    return p


def base_config(args: argparse.Namespace) -> dict[str, Any]:
    """--config with the flags' "training" keys over it."""
    try:
        return command_job_config(args, TRAINING_FLAGS)
    except TrainingConfigError as exc:
        raise TuneError(str(exc)) from None


def _ints(text: str, flag: str) -> list[int]:
    try:
        return [int(v) for v in split_values(text)]
    except ValueError:
        raise TuneError(f"{flag} {text!r}: expected comma-separated integers") from None


def main(argv: Sequence[str] | None = None) -> int:
    """The command; 0 when every trial finished, 1 when one failed, 2 for a bad argument."""
    p = parser()
    args = p.parse_args(argv)
    command = shlex.join(["python", "-m", "models.rllib.tune", *(argv or sys.argv[1:])])
    try:
        base = base_config(args)
        if args.updates is not None and args.updates < 1:
            raise TuneError("--updates must be at least 1")
        if args.command == "sweep":
            params = [parse_param(text) for text in args.param]
            seeds = _ints(args.seed, "--seed")
            grid = plan([args.algorithm], seeds, params, base)
            title = f"Tune sweep: {args.algorithm}, seed {args.seed}"
        else:
            algorithms = [a for a in split_values(args.algorithms) if a]
            grid = plan(algorithms, _ints(args.seeds, "--seeds"), (), base)
            title = f"Tune comparison: {', '.join(algorithms)}"
        first = grid.trials[0]
        settings = parse_job_config(first.job, first.algorithm)[1]
        title += f" on {settings.scenario} ({settings.model_type})"
        results = run_and_report(grid, args, title, command, 0 if args.quiet else 1)
    except (TuneError, json.JSONDecodeError, OSError) as exc:
        p.error(str(exc))
    return 1 if any(r.error for r in results) else 0


def run_and_report(
    grid: Plan,
    args: argparse.Namespace,
    title: str,
    command: str,
    verbose: int,
    printer: Callable[[str], None] = print,
) -> list[TrialResult]:
    results = run(
        grid,
        args.out,
        title=title,
        command=command,
        address=args.address,
        num_cpus=args.cpus,
        verbose=verbose,
    )
    printer(f"\n{title}\n\n{results_table(results)}\n")
    for r in results:
        if r.error:
            printer(f"trial {r.trial} failed: {r.error.strip().splitlines()[-1]}")
    printer(f"results: {args.out / RESULTS_MD}, {args.out / RESULTS_PNG}")
    return results


if __name__ == "__main__":
    # Run as the importable module, so Tune ships run_trial to its workers by reference.
    from models.rllib.tune import main as _main

    sys.exit(_main())
