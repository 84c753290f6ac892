"""Run a training recipe: the stages that make a set of weights, each one `training.train` run.

    python -m training.recipe --recipe training/recipes/default.toml --data DATA --runs RUNS --export
    python -m training.recipe --recipe training/recipes/default.toml --data DATA --runs RUNS \
        --until batch64 --export --to DIR                    # the stages up to batch64; export it to DIR

A recipe is a TOML file with one table per stage, run in file order. Stage NAME trains
RUNS/NAME from the `best/` of the earlier stage its `from` names (no `from`: from scratch);
its optional `version` is the weights version that its export writes into the model card;
every other key is a `TrainConfig` setting (training/train.py), and a setting it leaves out
takes today's default. A stage whose `ckpt.pt` has reached `max_steps` is skipped, an
unfinished one resumes from it (the trainer's exact resume). `--export` exports the last
stage run with `training.export`, recording the recipe, the stage and the version in the card.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import torch

from phalar_metric.hub import default_weights_dir

from . import export, train
from .config_args import parse_overrides

RUNNER_KEYS = ("data", "out_dir", "init_from")  # set from --data, --runs and `from`


@dataclass
class Stage:
    """One stage of a recipe: `start` is the earlier stage it continues (None: from scratch),
    `version` the weights version of its export, `settings` its `TrainConfig` overrides."""

    name: str
    start: str | None
    version: str | None
    settings: dict


def load_recipe(path: Path) -> list[Stage]:
    """The stages of a recipe file, in order, each checked against `TrainConfig` and
    `train.check_config`, so that a mistake in a later stage stops the recipe before it trains.

    Raises:
        ValueError: a stage that is not a table, starts from a stage that is not an earlier one,
            sets `data`, `out_dir` or `init_from`, or has an unknown key or a value that the
            trainer would refuse.
    """
    stages: list[Stage] = []
    for name, table in tomllib.loads(path.read_text()).items():
        if not isinstance(table, dict):
            raise ValueError(f"{path}: {name!r} must be a [{name}] table of a stage's settings, got {table!r}")
        settings = dict(table)
        start, version = settings.pop("from", None), settings.pop("version", None)
        earlier = [s.name for s in stages]
        if start is not None and start not in earlier:
            raise ValueError(f"{path}: stage {name!r} starts from {start!r}, which is not an earlier stage "
                             f"(earlier stages: {earlier})")
        if version is not None and not (isinstance(version, str) and export.VERSION.fullmatch(version)):
            raise ValueError(f"{path}: stage {name!r}: `version` expects \"MAJOR.MINOR.PATCH\" (e.g. \"0.2.0\"), "
                             f"got {version!r}")
        if taken := [k for k in RUNNER_KEYS if k in settings]:
            raise ValueError(f"{path}: stage {name!r} sets {taken}: the recipe runner sets them from --data, "
                             "--runs and `from`")
        stage = Stage(name, start, version, settings)
        try:
            train.check_config(parse_overrides(train.TrainConfig, train_args(stage, Path("DATA"), Path("RUNS"))))
        except ValueError as exc:
            raise ValueError(f"{path}: stage {name!r}: {exc}") from exc
        stages.append(stage)
    if not stages:
        raise ValueError(f"{path} has no stages")
    return stages


def train_args(stage: Stage, data: Path, runs: Path) -> list[str]:
    """The `python -m training.train` arguments of a stage."""
    init_from = str(runs / stage.start / "best") if stage.start else "scratch"
    values = {**stage.settings, "data": str(data), "out_dir": str(runs / stage.name), "init_from": init_from}
    return [f"--{k}={v}" if isinstance(v, str) else f"--{k}={v!r}" for k, v in values.items()]


def checkpoint_step(run: Path) -> int:
    """The step of a run folder's `ckpt.pt` (0 without one)."""
    ckpt = run / "ckpt.pt"
    return torch.load(ckpt, map_location="cpu", weights_only=False)["step"] if ckpt.exists() else 0


def run_stages(stages: list[Stage], data: Path, runs: Path) -> None:
    """Train every stage in order: skip the finished ones, resume the started ones."""
    for stage in stages:
        args = train_args(stage, data, runs)
        max_steps = parse_overrides(train.TrainConfig, args).max_steps
        step = checkpoint_step(runs / stage.name)
        if step >= max_steps:
            print(f"stage {stage.name}: finished ({step} of {max_steps} steps), skipped")
            continue
        print(f"stage {stage.name}: {f'resuming at step {step}' if step else 'starting'}: "
              f"python -m training.train {' '.join(args)}")
        train.main(args)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipe", type=Path, required=True, help="a recipe file, e.g. training/recipes/default.toml")
    p.add_argument("--data", type=Path, required=True, help="the render cache (python -m training.render --out DATA)")
    p.add_argument("--runs", type=Path, required=True, help="the folder of the stages' run folders, RUNS/<stage>")
    p.add_argument("--until", help="the last stage to run (default: the recipe's last)")
    p.add_argument("--export", action="store_true", help="export the last stage run with training.export")
    p.add_argument("--to", type=Path, default=default_weights_dir(),
                   help="where --export writes (default: the package's weights, phalar_metric/weights)")
    p.add_argument("--history", type=Path, help="with --export: a Markdown run history added to the card")
    args = p.parse_args(argv)
    try:
        stages = load_recipe(args.recipe)
        names = [s.name for s in stages]
        if args.until is not None and args.until not in names:
            raise ValueError(f"--until expects a stage of {args.recipe} ({names}), got {args.until!r}")
    except (OSError, ValueError) as exc:
        sys.exit(f"training.recipe: error: {exc}")
    stages = stages[: names.index(args.until) + 1] if args.until else stages
    run_stages(stages, args.data, args.runs)
    if args.export:
        last = stages[-1]
        export.main(["--run", str(args.runs / last.name), "--to", str(args.to), "--recipe", str(args.recipe),
                     "--stage", last.name, *(["--version", last.version] if last.version else []),
                     *(["--history", str(args.history)] if args.history else [])])


if __name__ == "__main__":
    main()
