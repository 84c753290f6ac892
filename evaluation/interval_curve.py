"""Score against transposition interval, in the trainer's own transposition (`TransposedCQT`).

    python -m evaluation.interval_curve --model phalar_metric/weights --variant "PhaLar 0.4.0" \\
        --model RUNS/v0.3.0 --variant "PhaLar 0.3.0" --source rendered:DATA --split ood \\
        --pairs 160 --threads 2 --json out.json --markdown out.md

`--pairs` pitched pairs drawn (`--seed`) from the split's every-window pairs (as the trainer
validates `ood`); each pair's true target is transposed by every interval -11..+11 semitones
by cropping a widened CQT, as the harmonic negatives of training are made (the validity suite
re-renders instead). Per model and interval: the mean score and the share of pairs whose true
target scores strictly above the transposed one. Finds intervals a model cannot hear that a
random draw per pair (the trainer's `pitch` check) averages away, e.g. 0.3.0 at ±4 semitones.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
import torch

from phalar_metric.embedding import embed_windows
from phalar_metric.model import PhaLar
from training.eval_windows import every_window_pairs
from training.negatives import MAX_SEMITONES, TransposedCQT, semitone_bins
from training.sampler import Batch
from training.sources.base import SAMPLE_RATE
from training.validation import HARD_GROUP, share_above, transposed_scores

from .report import Parser, add_model_args, add_run_args, fatal, load_models, markdown_table, songs_from, write_outputs

PROG = "python -m evaluation.interval_curve"
INTERVALS = tuple(k for k in range(-MAX_SEMITONES, MAX_SEMITONES + 1) if k)


def get_parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    p = Parser(prog=PROG, description="Score and win rate against transposition interval (trainer's transposition).")
    add_model_args(p)
    p.set_defaults(no_baseline=True)  # no baseline here: `load_models` then asks for a --model
    p.add_argument("--split", default="ood", help="split of the pairs (default: ood)")
    p.add_argument("--pairs", type=int, default=160, help="pitched pairs drawn (default: 160; fewer if fewer)")
    p.add_argument("--seed", type=int, default=0, help="seed of the draw (default: 0)")
    add_run_args(p)
    return p


@torch.inference_mode()
def interval_curve(model: PhaLar, pairs: Batch) -> dict[int, dict[str, float | None]]:
    """Per interval of INTERVALS (semitones): {"mean": mean score of the transposed target,
    "share": share of `pairs` whose true target scores strictly above it}; interval 0 holds
    the true targets' mean score (share None). Needs a CQT front-end with whole-bin semitones."""
    per_semitone = semitone_bins(model.config)
    if not per_semitone:
        raise ValueError("interval_curve needs a CQT front-end with a multiple of 12 bins per octave")
    ex = embed_windows(model, pairs.context, batch_size=64)
    shifts = torch.tensor([0, *INTERVALS])[:, None].expand(-1, len(ex)) * per_semitone
    own, *transposed = transposed_scores(model, TransposedCQT(model.config), torch.as_tensor(pairs.target), ex, shifts)
    out: dict[int, dict[str, float | None]] = {0: {"mean": float(own.mean()), "share": None}}
    out.update({k: {"mean": float(t.mean()), "share": share_above(own, t)}
                for k, t in zip(INTERVALS, transposed)})
    return out


def draw_pitched(pairs: Batch, n: int, seed: int) -> Batch:
    """`n` pitched pairs of `pairs` drawn without replacement (all of them when fewer)."""
    idx = np.flatnonzero(pairs.pitched)
    if not idx.size:
        raise ValueError("no pair of this split has a pitched target")
    pick = np.random.default_rng(seed).choice(idx, size=min(n, idx.size), replace=False)
    return Batch(pairs.context[pick], pairs.target[pick], pairs.group[pick], pairs.song[pick], pairs.pitched[pick])


def main(argv: list[str] | None = None) -> None:
    args = get_parser().parse_args(argv)
    try:
        torch.set_num_threads(args.threads)
        models, seconds = load_models(args)
        pairs = draw_pitched(every_window_pairs(songs_from(args.source, args.split), int(round(seconds * SAMPLE_RATE)),
                                                HARD_GROUP), args.pairs, args.seed)
        curves = {name: interval_curve(model, pairs) for name, model in models.items()}
    except (ValueError, OSError) as e:
        fatal(PROG, str(e))
    result: dict[str, Any] = {"command": " ".join([PROG, *sys.argv[1:]]), "split": args.split,
                              "pairs": len(pairs.context), "seed": args.seed,
                              "models": dict(zip(models, args.model)), "curves": curves}
    header = ["semitones", *(f"{name} win rate" for name in curves), *(f"{name} mean score" for name in curves)]
    rows = [[f"{k:+d}", *("-" if c[k]["share"] is None else c[k]["share"] for c in curves.values()),
             *(c[k]["mean"] for c in curves.values())]
            for k in (0, *INTERVALS)]
    write_outputs(result, markdown_table(header, rows), args.json, args.markdown)


if __name__ == "__main__":
    main()
