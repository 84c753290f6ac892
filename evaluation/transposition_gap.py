"""Crop against re-render: does a model hear the trainer's transposition as it hears a real one?

    python -m evaluation.transposition_gap --model phalar_metric/weights --variant "PhaLar 0.3.0" \\
        --source rendered:DATA --split ood --trials 200 --semitones 1 3 4 --seed 0 --threads 2 \\
        --json out.json --markdown out.md

The validity suite's trials (`validity_trials.draw_trials`; the same `--seed` and `--trials`
give the same windows and stem splits) whose target holds a pitched stem and whose song has
notes to re-render. Per trial and interval (its sign drawn per trial), two wins of the true
target over a transposed one, against the same context:
- crop: the target's widened CQT cropped that many semitones away (`TransposedCQT`), as the
  trainer makes its harmonic negatives and its `pitch@k` checks: every stem moves, drums too,
  and with them each sound's spectral envelope;
- re-render: the target re-rendered with its pitched stems transposed (`training.rerender`,
  drums kept), against the re-rendered untransposed target, both scaled by `fit_gain`: the
  validity suite's pitch rows.
Each also over the trials whose target holds a drum stem and those whose target does not. A
model that gains on crop and not on re-render learned a cue of the trainer's transposition
that a real one lacks. Needs FluidSynth (`training/install_system_deps.sh`).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from phalar_metric.embedding import embed_windows, window_scores
from phalar_metric.model import PhaLar
from training.negatives import MAX_SEMITONES, TransposedCQT, semitone_bins
from training.rerender import WindowRenderer, fit_gain, has_notes
from training.sources.base import SAMPLE_RATE

from .report import (Parser, add_model_args, add_run_args, describe_models, load_models, markdown_table, run_command,
                     songs_from)
from .retrieval import select_songs
from .validity_trials import draw_trials, pitched

PROG = "python -m evaluation.transposition_gap"
SUBSETS = ("all", "drums", "no_drums")  # the trials counted: every one, those with a drum stem in the target, the rest


@dataclass
class GapTrial:
    """One trial's clips, `[window]` float32: `context`, `target` (cached), `rerendered` (its
    untransposed re-render) and `transposed[s]` (re-rendered `sign * s` semitones away)."""

    context: np.ndarray
    target: np.ndarray
    rerendered: np.ndarray
    transposed: dict[int, np.ndarray]
    sign: int
    has_drums: bool


def get_parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    p = Parser(prog=PROG, description="Win rates against the trainer's (crop) and a real (re-rendered) transposition.")
    add_model_args(p)
    p.set_defaults(no_baseline=True)  # no baseline here: `load_models` then asks for a --model
    p.add_argument("--split", default="ood", help="the evaluated split (default: ood)")
    p.add_argument("--trials", type=int, default=200, help="validity trials drawn, before keeping the pitched "
                                                            "ones (default: 200)")
    p.add_argument("--semitones", type=int, nargs="+", default=[1, 3, 4],
                   help=f"intervals, 1..{MAX_SEMITONES} (default: 1 3 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the trials (as the validity suite's) and signs")
    add_run_args(p)
    return p


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run; returns the JSON result. User errors exit with one line on stderr."""
    return run_command(PROG, get_parser().parse_args(argv), run, lambda r: results_table(r["results"]))


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Draw and re-render the trials, score them with every model; the JSON result."""
    bad = [s for s in args.semitones if not 1 <= s <= MAX_SEMITONES]
    if bad or args.trials < 1:
        raise ValueError(f"--semitones must lie in 1..{MAX_SEMITONES} and --trials be positive, got "
                         f"{args.semitones} and {args.trials}")
    torch.set_num_threads(args.threads)
    models, seconds = load_models(args)
    window = int(round(seconds * SAMPLE_RATE))
    trials = gap_trials(select_songs(songs_from(args.source, args.split), [], args.split), window, args.trials,
                        args.semitones, args.seed)
    if not trials:
        raise ValueError(f"No trial of split {args.split!r} has a pitched stem in its target and notes to re-render")
    return {"split": args.split, "sources": args.source, "trials": args.trials, "seed": args.seed,
            "semitones": args.semitones, "models": describe_models(models, args), "pitched_trials": len(trials),
            "with_drums": sum(t.has_drums for t in trials),
            "results": {name: gap_win_rates(model, trials, args.semitones) for name, model in models.items()}}


def gap_trials(songs: list, window: int, n: int, semitones: list[int], seed: int) -> list[GapTrial]:
    """The pitched, re-renderable ones of the validity suite's `n` trials, re-rendered at 0 and
    at each of `semitones` (sign drawn per trial from `seed`)."""
    renderer = WindowRenderer()
    signs = np.random.default_rng([seed, 1]).choice([-1, 1], size=n)
    out = []
    for trial, sign in tqdm(zip(draw_trials(np.random.default_rng(seed), songs, window, n), signs), total=n,
                            desc="re-rendering", file=sys.stderr, disable=None):
        moving = pitched(trial.song, trial.stems)
        if not len(moving) or not has_notes(trial.song):
            continue
        reference = renderer.render(trial.song, trial.stems, trial.start, window)
        gain = np.float32(fit_gain(reference, trial.target))
        transposed = {s: gain * renderer.render(trial.song, trial.stems, trial.start, window, semitones=int(sign) * s)
                      for s in semitones}
        out.append(GapTrial(trial.context, trial.target, gain * reference, transposed, int(sign),
                            len(moving) < len(trial.stems)))
    return out


@torch.inference_mode()
def gap_win_rates(model: PhaLar, trials: list[GapTrial], semitones: list[int]) -> dict[str, dict[str, float | None]]:
    """Per interval (as a string): {"crop_all": ..., "rerender_all": ..., "crop_drums": ..., ...}:
    the share of trials (of each of SUBSETS) whose true target scores strictly above the
    transposed one; None for an empty subset."""
    per_semitone = semitone_bins(model.config)
    if not per_semitone:
        raise ValueError("transposition_gap needs a CQT front-end with a multiple of 12 bins per octave")
    model.eval()
    transposer = TransposedCQT(model.config)
    crop: dict[int, list[bool]] = {s: [] for s in semitones}
    real: dict[int, list[bool]] = {s: [] for s in semitones}
    for t in trials:
        ex = embed_windows(model, [t.context])
        mag = transposer.magnitude(torch.as_tensor(t.target[None]))

        def cropped(s: int) -> float:
            spec = transposer.crop(mag, torch.tensor([t.sign * s * per_semitone]))
            return float(window_scores(model, ex, model.embed_spectrogram(spec)))

        def rendered(clip: np.ndarray) -> float:
            return float(window_scores(model, ex, embed_windows(model, [clip])))

        true, reference = cropped(0), rendered(t.rerendered)
        for s in semitones:
            crop[s].append(true > cropped(s))
            real[s].append(reference > rendered(t.transposed[s]))
    drums = np.array([t.has_drums for t in trials])
    masks = {"all": np.ones_like(drums), "drums": drums, "no_drums": ~drums}

    def share(wins: list[bool], mask: np.ndarray) -> float | None:
        return float(np.mean(np.array(wins)[mask])) if mask.any() else None

    return {str(s): {f"{kind}_{subset}": share(wins[s], masks[subset])
                     for kind, wins in (("crop", crop), ("rerender", real)) for subset in SUBSETS}
            for s in semitones}


def results_table(results: dict[str, dict[str, dict[str, float | None]]]) -> str:
    """Markdown: per model and interval, crop and re-render win rates over each subset ("-"
    where a subset is empty)."""
    header = ["model", "semitones", *(f"{kind} {subset.replace('_', ' ')}" for subset in SUBSETS
                                      for kind in ("crop", "re-render"))]
    cells = [f"{kind}_{subset}" for subset in SUBSETS for kind in ("crop", "rerender")]
    rows = [[name, f"±{s}", *("-" if r[c] is None else r[c] for c in cells)]
            for name, per_interval in results.items() for s, r in per_interval.items()]
    return markdown_table(header, rows)


if __name__ == "__main__":
    main()
