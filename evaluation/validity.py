"""The validity suite: does the true stem score above broken versions of itself?

    python -m evaluation.validity --model DIR_OR_REPO [--model ... --variant NAME ...] \
        --source rendered:../data/rendered --split val_timbre --trials 200 --seed 0 \
        --json out.json --markdown out.md --figures docs/figures

For each trial (a window of a song, its active stems split into a context and a true target;
`validity_trials`) every model and the chroma + onset baseline score the true target and each
degraded version of it against the same context. Per degradation: the win rate (share of
trials where the reference, normally the true target, scores strictly higher; ties lose) with
a bootstrap 95% interval over trials, and the mean scores. A second process makes the clips
and scores them with the baseline while the models embed the trial before (`--workers 1`,
`validity_prepare`). Each distinct clip of a trial is embedded once and scored through
`phalar_metric.functional.phalar_score_matrix`, the library's public scoring path (its
silence gate applies). Also two curves per scorer, score against time offset and against
transposition (`--figures`). Deterministic from `--seed` (trials, noise, bootstrap);
re-rendered clips depend on FluidSynth's version. See evaluation/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from phalar_metric.functional import phalar_score_matrix
from phalar_metric.model import PhaLar
from training.sampler import Batch
from training.sources.base import SAMPLE_RATE, Song
from training.validation import eval_pairs

from .report import (Parser, add_baseline_args, add_model_args, add_run_args, describe_models, load_models,
                     markdown_table, run_command, songs_from)
from .retrieval import BASELINE, baseline_weights, select_songs
from .validity_figures import curve_figures
from .validity_prepare import PrepSpec, prepared
from .validity_stats import Scores, curves, win_rates
from .validity_trials import row_names

PROG = "python -m evaluation.validity"
TUNE_K = 64  # the baseline is tuned as evaluation.retrieval tunes it: acc@64 and hard@8


def get_parser() -> argparse.ArgumentParser:
    """The validity suite's arguments."""
    p = Parser(prog=PROG, description="Win rates of true stems over degraded ones, for PhaLar checkpoints and "
                                      "the baseline.")
    add_model_args(p)
    p.add_argument("--split", default="val_timbre", help="the evaluated split (default: val_timbre)")
    p.add_argument("--songs", action="append", default=[], metavar="PREFIX",
                   help="keep only songs whose name starts with PREFIX (repeatable; applies to the tuning split too)")
    p.add_argument("--trials", type=int, default=200, help="(song, window, stem split) trials (default: 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the trials, noises and bootstrap (default: 0)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples of the intervals (default: 1000)")
    p.add_argument("--audio-only", action="store_true",
                   help="pitch and tempo by librosa for every song, never re-rendered (e.g. without FluidSynth)")
    p.add_argument("--workers", type=int, default=1,
                   help="1 (default): clips, re-renders and baseline in a second process, beside the models; 0: all "
                        "in this process")
    add_baseline_args(p)
    p.add_argument("--tune-pairs", type=int, default=512, help="pairs of the baseline tuning (default: 512)")
    p.add_argument("--tune-groups", type=int, default=32, help="same-song groups of the tuning (default: 32)")
    p.add_argument("--figures", type=Path, help="write validity_offset.png and validity_transpose.png here")
    add_run_args(p)
    return p


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the suite; returns the JSON result. User errors exit with one line on stderr."""
    args = get_parser().parse_args(argv)
    result = run_command(PROG, args, run, lambda r: results_table(r["results"]))
    if args.figures is not None:
        for path in curve_figures(result["curves"], args.figures):
            print(path)
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Draw the trials, score every clip with every model and the baseline; the JSON result."""
    for name in ("trials", "bootstrap"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} expects a positive integer, got {getattr(args, name)}")
    if args.workers not in (0, 1):
        raise ValueError(f"--workers expects 0 or 1, got {args.workers}")
    torch.set_num_threads(args.threads)
    models, seconds = load_models(args)
    window = int(round(seconds * SAMPLE_RATE))

    def split_songs(split: str) -> list[Song]:
        return select_songs(songs_from(args.source, split), args.songs, split)

    def pair_sets(split: str) -> tuple[Batch, Batch]:
        return eval_pairs(split_songs(split), window, args.tune_pairs, args.tune_groups)

    n_songs = len(split_songs(args.split))  # a bad --split or --songs fails here, before the tuning
    weights, tuned_on = (None, None) if args.no_baseline else baseline_weights(args, pair_sets, TUNE_K)
    spec = PrepSpec(tuple(args.source), args.split, tuple(args.songs), window, args.trials, args.seed,
                    args.audio_only, weights)
    began = time.perf_counter()
    clips, scores, described = [], [], []
    for trial in tqdm(prepared(spec, args.workers), total=args.trials, desc="validity trials", file=sys.stderr,
                      disable=None):
        clips.append(trial.clips)
        scores.append(score_clips(models, trial.context, trial.clips.clips))
        if trial.baseline is not None:
            scores[-1][BASELINE] = trial.baseline
        described.append(trial.trial)
    print(f"{PROG}: {args.trials} trials in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    out: dict[str, Any] = {
        "split": args.split, "song_prefixes": args.songs, "sources": args.source, "songs": n_songs,
        "seconds": seconds, "trials": args.trials, "seed": args.seed, "bootstrap": args.bootstrap,
        "models": describe_models(models, args),
        "rerendered_trials": sum(t["rerendered"] for t in described), "trial_list": described,
    }  # fmt: skip
    if weights is not None:
        out["baseline"] = {"weights": {"chroma": weights[0], "onset": weights[1]}, "tuned_on": tuned_on}
    out["results"] = win_rates(scores, clips, args.bootstrap, args.seed)
    out["curves"] = curves(scores, clips)
    return out


def score_clips(models: dict[str, PhaLar], mix: np.ndarray, clips: dict[str, np.ndarray]) -> Scores:
    """Scores of `mix` `[window]` with every clip `[window]` (16 kHz): model name -> clip ->
    score, one `phalar_score_matrix` per model (each clip embedded once)."""
    out: Scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # silent and near-silent clips are intended here
        for scorer, model in models.items():
            row = phalar_score_matrix(model, [mix], list(clips.values()), sample_rate=SAMPLE_RATE, batch_size=32)[0]
            out[scorer] = dict(zip(clips, row.tolist()))
    return out


def results_table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown: a row per degradation (the true stem first), per scorer its win rate with the
    95% interval and its mean score."""
    scorers = list(results)
    header = ["degradation", "n"] + [h for s in scorers for h in (f"{s}: win [95% CI]", f"{s}: mean")]
    first = results[scorers[0]]
    rows = [["true stem", first["true"]["n"]] + [c for s in scorers for c in ("", results[s]["true"]["mean_score"])]]
    for row in (r for r in row_names() if r in first):
        cells = [(f"{results[s][row]['win_rate']:.3f} [{results[s][row]['ci95'][0]:.2f}, "
                  f"{results[s][row]['ci95'][1]:.2f}]", results[s][row]["mean_score"]) for s in scorers]
        rows.append([row, first[row]["n"]] + [c for pair in cells for c in pair])
    return markdown_table(header, rows)


if __name__ == "__main__":
    main()
