"""Export a run's best weights for `PhaLarScore.from_pretrained` (and the package default).

    python -m training.export --run RUNS/negatives --version 0.2.0 \
        --recipe training/recipes/default.toml --stage negatives      # -> phalar_metric/weights
    python -m training.export --run RUNS/NAME --to DIR --push owner/phalar

Writes model.safetensors + config.json + checksums.json + README.md (the model card: weights
version, data, steps, wall time, the exact commands, the recipe, validation numbers), read
from the run folder. `python -m training.recipe --export` calls this with the recipe's stage.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import re
import shlex
from pathlib import Path

from phalar_metric.config import PhaLarConfig
from phalar_metric.hub import default_weights_dir, load_pretrained, push_to_hub, save_pretrained
from phalar_metric.model import count_parameters

from .train import TrainConfig
from .validation import selection_value

REPO = Path(__file__).resolve().parents[1]
VERSION = re.compile(r"\d+\.\d+\.\d+")  # the weights version: MAJOR.MINOR.PATCH, as the package's


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open())) if path.exists() else []


def train_command(config: dict, aliases: dict[str, str] | None = None) -> str:
    """The `python -m training.train` command line of a run's `config.json` ({"train": ..., "model": ...}):
    every value that differs from the defaults, the resolved model config as `--model`.
    `aliases` maps folders to the names the card shows instead (`{"/data/rendered": "DATA"}`);
    a string value that is such a folder or lies inside one is shown by that name."""
    defaults, model_defaults = dataclasses.asdict(TrainConfig()), PhaLarConfig().to_dict()
    model = {k: v for k, v in config["model"].items() if model_defaults.get(k) != v}
    args = [f"--{k}={_alias(v, aliases or {}) if isinstance(v, str) else repr(v)}"
            for k, v in {**config["train"], "model": model}.items() if v != defaults[k]]
    return shlex.join(["python", "-m", "training.train", *args])


def _alias(value: str, aliases: dict[str, str]) -> str:
    """`value` with a leading folder of `aliases` replaced by its name."""
    for folder, name in aliases.items():
        if value == folder or value.startswith(folder.rstrip("/") + "/"):
            return name + value[len(folder.rstrip("/")):]
    return value


def recipe_section(recipe: Path, stage: str) -> list[str]:
    """The card's lines on the recipe (`training.recipe`) whose stage `stage` made the run:
    the command that runs every stage up to it and exports, and the recipe file itself."""
    shown = recipe.resolve().relative_to(REPO) if recipe.resolve().is_relative_to(REPO) else recipe
    return ["", "## Recipe",
            f"Stage `{stage}` of the recipe `{shown}`; the stages up to it, from scratch, and the export:", "",
            f"    python -m training.recipe --recipe {shown} --data DATA --runs RUNS --until {stage} --export", "",
            "(DATA: the render cache of `python -m training.render --out DATA`; RUNS: a folder for the",
            "stages' run folders, RUNS/<stage>.) The recipe:", "",
            "```toml", recipe.read_text().rstrip("\n"), "```"]


def model_card(run: Path, history_note: str = "", version: str | None = None,
               recipe: Path | None = None, stage: str | None = None) -> str:
    """The model card (Markdown) of a run folder; `version` is the weights version it names, and
    `recipe` with `stage` the recipe stage that made the run (its folders then shown as DATA and RUNS)."""
    config = json.loads((run / "config.json").read_text())
    val = _rows(run / "val.csv")
    log = _rows(run / "log.csv")
    train = config["train"]
    aliases = {train["data"]: "DATA", str(Path(train["out_dir"]).parent): "RUNS"} if recipe else {}
    best = max(val, key=lambda r: selection_value(r, train["select_on"])) if val else None
    model = load_pretrained(run / "best")
    harmony = model.config.harmony_dim
    lines = [
        "# PhaLar default model",
        "",
        "A PhaLar coherence model (phase-equivariant complex embeddings of 5 s, 16 kHz mono audio;",
        "score = Re(z_mix^H W_h z_stem), higher = more coherent), trained contrastively on a CPU.",
        *([f"The embedding ends with {harmony} real features of the harmony branch (the time average of",
           "the backbone's output; phalar_metric/harmony.py), scored by W_h's real block V."] if harmony else []),
        "",
        "## Data",
        "Multi-track music rendered stem by stem with FluidSynth (`python -m training.render`; the",
        "stages' data: docs/training.md): procedural multi-track songs, music21's corpus (Bach",
        "chorales and other multi-part works), MMA groove-library songs and Freedoom's training",
        "half; soundfonts Fluid R3 GM, csound GM bank and OPL3 FM, drawn per song or per stem, and",
        "AVL drum kits. Validation: unseen songs/works (`val`), the same songs rendered only with",
        "TimGM6mb (`val_timbre`, a soundfont never used in training), and Freedoom's held-out",
        "human-composed half with TimGM6mb (`ood`).",
        "",
        "## Training",
        *([f"- weights_version: {version}"] if version else []),
        f"- sources: {train['sources']}; steps: {log[-1]['step'] if log else 0} of {train['max_steps']}; "
        f"batch {train['batch_size']} pairs; lr {train['lr']}; hard-negative share {train['hard_fraction']}",
        f"- parameters: {count_parameters(model):,}",
        f"- throughput (last logged): {log[-1]['clips_per_s'] if log else '?'} clips/s",
        f"- command: `{train_command(config, aliases)}`",
    ]
    if recipe:
        lines += recipe_section(recipe, stage)
    if history_note:
        lines += ["", "## Run history", history_note]
    if best:
        lines += ["", f"## Validation (best checkpoint, step {best['step']}; selected on {train['select_on']})",
                  "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {float(v):.3f} |" for k, v in best.items() if k != "step"]
    lines += ["", "## Limitations",
              "Trained on synthesised (General MIDI) music only; 5 s windows; the RFFT pooling assumes",
              "locally steady tempo (rubato degrades it); Western tonal music."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, required=True, help="a run folder of training.train")
    p.add_argument("--to", type=Path, default=default_weights_dir())
    p.add_argument("--history", type=Path, help="a Markdown file with the run's history, added to the card")
    p.add_argument("--version", help="the weights version the card names, MAJOR.MINOR.PATCH (e.g. 0.2.0)")
    p.add_argument("--recipe", type=Path, help="the recipe file (training.recipe) of which the run is a stage")
    p.add_argument("--stage", help="the run's stage in --recipe")
    p.add_argument("--push", help="also upload to this Hub repo id")
    args = p.parse_args(argv)
    if args.version is not None and not VERSION.fullmatch(args.version):
        p.error(f"--version expects MAJOR.MINOR.PATCH, e.g. 0.2.0, got {args.version!r}")
    if (args.recipe is None) != (args.stage is None):
        p.error("--recipe and --stage go together")
    model = load_pretrained(args.run / "best")
    card = model_card(args.run, args.history.read_text() if args.history else "", args.version,
                      args.recipe, args.stage)
    save_pretrained(model, args.to, model_card=card)
    print(f"exported {args.run / 'best'} -> {args.to}")
    if args.push:
        print(push_to_hub(model, args.push, model_card=card))


if __name__ == "__main__":
    main()
