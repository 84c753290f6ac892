"""Stem retrieval benchmark: acc@K and hard@8 of PhaLar checkpoints and the baseline on the same pairs.

    python -m evaluation.retrieval --model DIR_OR_REPO [--model ...] [--variant NAME ...] \
        --source rendered:../data/rendered --split val_timbre --pairs 512 --groups 32 \
        --trials 2000 --seed 0 --json out.json --markdown out.md

The pairs are `training.validation.eval_pairs` (same `--pair-seed` as the trainer's
validation, 1234) and models are scored with `training.validation.score_pairs`, so a run
folder's numbers here match its `val.csv`. acc@K: seeded trials of one context against its
true target and K-1 targets of other songs; hard@8: the true target against the other
windows of the same song (same split of stems); the metrics are `training.retrieval_metrics`,
which the trainer's validation uses too. The chroma + onset baseline
(`evaluation.baseline`) is scored alongside, its weights tuned on `--tune-split` (val).
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

import numpy as np
import torch

from training.retrieval_metrics import expected_accuracy_at_k, hard_accuracy, retrieval_metrics
from training.sampler import Batch
from training.sources.base import SAMPLE_RATE, Song
from training.validation import eval_pairs, score_pairs

from . import baseline
from .report import (Parser, add_baseline_args, add_model_args, add_run_args, describe_models, fatal,
                     load_models, markdown_table, songs_from, write_outputs)

PROG = "python -m evaluation.retrieval"
BASELINE = "chroma+onset baseline"


def get_parser() -> argparse.ArgumentParser:
    """The retrieval benchmark's arguments."""
    p = Parser(prog=PROG, description="Stem retrieval acc@K and hard@8 of PhaLar checkpoints and the baseline.")
    add_model_args(p)
    add_pair_args(p)
    p.add_argument("--ks", default="2,8,16,64", help="candidate-set sizes (default: 2,8,16,64)")
    p.add_argument("--pair-seed", type=int, default=1234, help="seed of the pairs (default: 1234, as the trainer)")
    add_baseline_args(p)
    add_run_args(p)
    return p


def add_pair_args(p: argparse.ArgumentParser) -> None:
    """The evaluation set: `--split`, `--pairs`, `--groups`, `--trials`, `--seed` (shared with the ablations)."""
    p.add_argument("--split", default="val_timbre", help="the evaluated split (default: val_timbre)")
    p.add_argument("--songs", action="append", default=[], metavar="PREFIX",
                   help="keep only songs whose name starts with PREFIX, e.g. procedural/ or corpus/bach/ "
                        "(repeatable; applies to the tuning split too)")
    p.add_argument("--pairs", type=int, default=512, help="random (context, target) pairs (default: 512)")
    p.add_argument("--groups", type=int, default=32, help="same-song groups of 8 pairs for hard@8 (default: 32)")
    p.add_argument("--trials", type=int, default=2000, help="seeded trials per K (default: 2000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the trials (default: 0, as the trainer)")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns the JSON result. User errors exit with one line on stderr."""
    args = get_parser().parse_args(argv)
    try:
        result = run(args)
    except (ValueError, OSError, RuntimeError) as err:
        fatal(PROG, str(err))
    columns = list(next(iter(result["results"].values())))  # acc@K..., hard@G
    rows = [[name, *(r[c] for c in columns)] for name, r in result["results"].items()]
    write_outputs(result, markdown_table(["model", *columns], rows), args.json, args.markdown)
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Score every model (and the baseline) on the same pairs; the JSON result."""
    torch.set_num_threads(args.threads)
    ks = tuple(int(k) for k in args.ks.split(","))
    models, seconds = load_models(args)
    window = int(round(seconds * SAMPLE_RATE))

    def pair_sets(split: str) -> tuple[Batch, Batch]:
        songs = select_songs(songs_from(args.source, split), args.songs, split)
        return eval_pairs(songs, window, args.pairs, args.groups, args.pair_seed)

    pairs, groups = pair_sets(args.split)

    def metrics(pair_scores: np.ndarray, group_scores: np.ndarray) -> dict[str, float]:
        return retrieval_metrics(pair_scores, pairs.song, group_scores, groups.group, ks, args.trials, args.seed)

    results = {name: metrics(score_pairs(m, pairs), score_pairs(m, groups)) for name, m in models.items()}
    out: dict[str, Any] = {
        "split": args.split, "song_prefixes": args.songs, "sources": args.source, "seconds": seconds,
        "pairs": len(pairs.song), "groups": len(np.unique(groups.group)), "songs": len(np.unique(pairs.song)),
        "trials": args.trials, "seed": args.seed, "pair_seed": args.pair_seed,
        "models": describe_models(models, args),
    }  # fmt: skip
    if not args.no_baseline:
        weights, tuned_on = baseline_weights(args, pair_sets, max(ks))
        sims = [baseline.pair_similarities(b.context, b.target) for b in (pairs, groups)]
        results[BASELINE] = metrics(*(baseline.combine(s, weights) for s in sims))
        out["baseline"] = {"weights": {"chroma": weights[0], "onset": weights[1]}, "tuned_on": tuned_on}
    out["results"] = results
    return out


def select_songs(songs: list[Song], prefixes: list[str], split: str) -> list[Song]:
    """The songs whose name starts with one of `prefixes` (all of them if none are given)."""
    if not prefixes:
        return songs
    starts = tuple(prefixes)
    kept = [s for s in songs if s.name.startswith(starts)]
    if not kept:
        raise ValueError(f"No song of split {split!r} starts with {prefixes} (names look like {songs[0].name!r})")
    return kept


def baseline_weights(args: argparse.Namespace, pair_sets: Callable[[str], tuple[Batch, Batch]],
                     k: int) -> tuple[tuple[float, float], str | None]:
    """`((w_chroma, w_onset), tuning split)`: fixed by --baseline-weights, or tuned on
    --tune-split to maximise the mean of the exact expected acc@K (largest K) and hard@8."""
    if args.baseline_weights:
        try:
            w_chroma, w_onset = (float(w) for w in args.baseline_weights.split(","))
        except ValueError:
            raise ValueError(f"--baseline-weights expects W_CHROMA,W_ONSET, got {args.baseline_weights!r}") from None
        return (w_chroma, w_onset), None
    if args.tune_split == args.split:
        raise ValueError(f"--tune-split must differ from --split ({args.split}): the baseline is never tuned on the "
                         "split it is scored on")
    pairs, groups = pair_sets(args.tune_split)
    sim_p, sim_g = (baseline.pair_similarities(b.context, b.target) for b in (pairs, groups))

    def objective(w: tuple[float, float]) -> float:
        acc = expected_accuracy_at_k(baseline.combine(sim_p, w), pairs.song, k)
        return 0.5 * (acc + hard_accuracy(baseline.combine(sim_g, w), groups.group))

    return baseline.tune(objective), args.tune_split


if __name__ == "__main__":
    main()
