"""Shared plumbing of the evaluation commands (and the benchmarks): one-line errors, model loading,
JSON and Markdown out."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Callable, NoReturn, Sequence

from phalar_metric.errors import fatal
from phalar_metric.hub import load_pretrained
from phalar_metric.model import PhaLar
from training.sources import Song, load_songs
from training.sources.base import SAMPLE_RATE
from training.train import checkpoint_model


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit status 1)."""

    def error(self, message: str) -> NoReturn:
        fatal(self.prog, message)


def add_run_args(p: argparse.ArgumentParser) -> None:
    """`--threads`, `--json`, `--markdown`: the arguments every evaluation command shares."""
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    p.add_argument("--json", type=Path, help="write the results as JSON here")
    p.add_argument("--markdown", type=Path, help="write the Markdown table here")


def add_model_args(p: argparse.ArgumentParser, audio: bool = True) -> None:
    """`--model` (repeatable), `--variant`, `--revision`; with `audio`, `--source` (repeatable)
    and `--seconds`."""
    p.add_argument("--model", action="append", default=[],
                   help="checkpoint folder, run folder, a run's ckpt.pt or Hub repo id (repeatable)")
    p.add_argument("--variant", action="append", default=[],
                   help="a name for each --model in the table (default: the folder name)")
    p.add_argument("--revision", help="Hub revision of the --model repos")
    if audio:
        p.add_argument("--source", action="append", required=True, help="rendered:ROOT or NAME:PATH (repeatable)")
        p.add_argument("--seconds", type=float, help="clip length (default: the first model's window, else 5)")


def add_baseline_args(p: argparse.ArgumentParser) -> None:
    """`--no-baseline`, `--tune-split`, `--baseline-weights`: the chroma + onset baseline's arguments."""
    p.add_argument("--no-baseline", action="store_true", help="leave the chroma + onset baseline out")
    p.add_argument("--tune-split", default="val", help="split the baseline weights are tuned on (default: val)")
    p.add_argument("--baseline-weights", help="fixed baseline weights W_CHROMA,W_ONSET instead of tuning")


def load_models(args: argparse.Namespace) -> tuple[dict[str, PhaLar], float]:
    """The `--model` checkpoints by `--variant` name (`named_models`) and the clip length in
    seconds (`--seconds`, else the first model's window, else 5); every model must embed
    windows of that length."""
    if not args.model and args.no_baseline:
        raise ValueError("nothing to evaluate: give --model, or leave out --no-baseline")
    models = named_models(args)
    seconds = args.seconds or (next(iter(models.values())).config.window_seconds if models else 5.0)
    for name, model in models.items():
        if model.config.window_samples != int(round(seconds * SAMPLE_RATE)):
            raise ValueError(f"model {name!r} embeds {model.config.window_seconds:g} s windows but the clips are "
                             f"{seconds:g} s (--seconds): evaluate it in a separate run")
    return models, seconds


def named_models(args: argparse.Namespace) -> dict[str, PhaLar]:
    """The `--model` checkpoints (at `--revision`) by `--variant` name (default: the folder's
    name; for a `ckpt.pt` file, its run folder's name and the file name)."""
    names = args.variant or [str(Path(*Path(m).parts[-2:])) if m.endswith(".pt") else Path(m).name or m
                             for m in args.model]
    if len(names) != len(args.model):
        raise ValueError(f"--variant expects one name per --model ({len(args.model)}), got {len(names)}")
    if len(set(names)) != len(names):
        raise ValueError(f"two --model share a name in {names}: give each a --variant")
    return {name: load_model(spec, args.revision) for name, spec in zip(names, args.model)}


def describe_models(models: dict[str, PhaLar], args: argparse.Namespace) -> dict[str, Any]:
    """The JSON record of `load_models(args)`: per name its `--model`, `--revision` and config."""
    return {name: {"model": spec, "revision": args.revision, "config": model.config.to_dict()}
            for (name, model), spec in zip(models.items(), args.model)}


def load_model(spec: str, revision: str | None = None, device: str | None = None) -> PhaLar:
    """A PhaLar model in eval mode on `device` (default CPU) from a checkpoint folder, a
    training run folder (its `best/` checkpoint), a trainer's `ckpt.pt` file (the run's latest
    step) or a Hugging Face Hub repo id (at `revision`)."""
    if spec.endswith(".pt"):
        if not Path(spec).is_file():
            raise FileNotFoundError(f"no trainer checkpoint {spec}")
        return checkpoint_model(spec).to(device or "cpu").eval()
    run_best = Path(spec) / "best"
    return load_pretrained(run_best if run_best.is_dir() else spec, revision=revision, device=device)


def songs_from(sources: Sequence[str], split: str) -> list[Song]:
    """Songs of `split` from `--source` specs ("rendered:ROOT" or "NAME:PATH", as
    `training.sources.load_songs` reads them); none at all is an error."""
    songs = load_songs(list(sources), "", split)
    if not songs:
        raise ValueError(f"No songs in split {split!r} of {list(sources)}")
    return songs


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 3) -> str:
    """A GitHub Markdown table; floats are printed with `digits` decimals."""

    def cell(v: Any) -> str:
        return f"{v:.{digits}f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def run_command(prog: str, args: argparse.Namespace, run: Callable[[argparse.Namespace], dict[str, Any]],
                table: Callable[[dict[str, Any]], str]) -> dict[str, Any]:
    """`run(args)`, its user errors (ValueError, OSError, RuntimeError, ImportError) one line on
    stderr (exit status 1); then `write_outputs` of the result and `table(result)`."""
    try:
        result = run(args)
    except (ValueError, OSError, RuntimeError, ImportError) as err:
        fatal(prog, str(err))
    write_outputs(result, table(result), args.json, args.markdown)
    return result


def write_outputs(result: dict[str, Any], table: str, json_path: Path | None, md_path: Path | None) -> None:
    """Print the Markdown `table`, and write `result` as JSON and `table` as Markdown where asked.
    (The one writer of the evaluation commands and the benchmarks.)"""
    print(table, end="")
    for path, text in ((json_path, json.dumps(result, indent=2) + "\n"), (md_path, table)):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
