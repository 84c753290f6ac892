"""Pitch checks on real transpositions, for the trainer's validation: `pitch_real`, `pitch_real@k`,
`pitch_real_min`.

The trainer's `pitch` checks transpose a target by cropping its widened CQT (`TransposedCQT`),
as its harmonic negatives are made; the validity suite transposes by re-rendering the notes
(`training.rerender`), and the two disagree: at ±4 semitones 0.3.0 beats 61% of crop
transpositions and 54% of re-rendered ones (docs/results/transposition_gap.md). A `best/` picked
by crop checks follows the crop. Here, once per run, up to `n_pairs` pitched pairs of a split
whose songs have notes get their target re-rendered as it is and with its pitched stems
transposed by ±1..±6 semitones (REAL_SEMITONES; drums kept; `RerenderedNegatives` without
augmentation, so both differ by the transposition alone). Each validation scores them against
the pairs' contexts: `pitch_real` is the share of (pair, interval) whose untransposed re-render
beats the transposed one, `pitch_real@k` that share at +k and -k, `pitch_real_min` the lowest
of those six. The validity suite's pitch rows make the same comparison on other trials.

    python -m training.real_pitch --data DATA --pairs 96 MODEL [MODEL ...]  # the checks of saved weights
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

import numpy as np
import torch

from phalar_metric.embedding import embed_windows, window_scores
from phalar_metric.hub import load_pretrained
from phalar_metric.model import PhaLar

from .eval_windows import every_window_pairs
from .rerender import WindowRenderer, has_notes
from .rerendered_negatives import RerenderedNegatives
from .sampler import Batch
from .sources import load_songs

REAL_SEMITONES = (1, 2, 3, 4, 5, 6)  # each tried up and down, as the validity suite's pitch rows
REAL_CHECKS = tuple(f"pitch_real@{k}" for k in REAL_SEMITONES)
REAL_SUMMARY = ("pitch_real", "pitch_real_min")


@dataclass
class RealPitchSet:
    """Re-rendered targets of some pitched pairs of one validation split.

    rows: `[P]` the pairs' rows in the split's `Batch`; target: `[P, samples]` each target
    re-rendered as it is; copies: `[P, 2 * len(REAL_SEMITONES), samples]` re-rendered
    transposed by +1, -1, +2, -2, ... semitones. float32 at the cache's level.
    """

    rows: np.ndarray
    target: np.ndarray
    copies: np.ndarray

    @classmethod
    def build(cls, pairs: Batch, n_pairs: int, renderer: WindowRenderer | None = None,
              seed: int = 4321) -> "RealPitchSet | None":
        """Re-render up to `n_pairs` of `pairs`' pitched pairs whose songs have notes (drawn
        with `seed`; `pairs.windows` says where each was cut); None when none qualifies."""
        eligible = [i for i, (song, _, _) in enumerate(pairs.windows) if pairs.pitched[i] and has_notes(song)]
        if not eligible:
            return None
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(eligible, min(n_pairs, len(eligible)), replace=False))
        semitones = [sign * k for k in REAL_SEMITONES for sign in (1, -1)]
        negatives = RerenderedNegatives(None, renderer)
        made = [negatives.target_and_copies(rng, *pairs.windows[i], pairs.target.shape[1], semitones) for i in rows]
        return cls(rows, np.stack([t for t, _ in made]), np.stack([c for _, c in made]))

    @torch.inference_mode()
    def checks(self, model: PhaLar, context: torch.Tensor) -> dict[str, float]:
        """{"pitch_real": ..., "pitch_real_min": ..., "pitch_real@1": ..., ..., "pitch_real@6": ...}
        (module docstring), given the embeddings `[P, out_dim]` of the contexts of `rows`."""
        n, copies, samples = self.copies.shape
        own = window_scores(model, context, embed_windows(model, self.target, batch_size=64))
        moved = window_scores(model, context.repeat_interleave(copies, 0),
                              embed_windows(model, self.copies.reshape(n * copies, samples), batch_size=64))
        wins = (own[:, None] > moved.reshape(n, copies)).double()  # [P, +1, -1, +2, -2, ...]
        per_interval = wins.reshape(n, len(REAL_SEMITONES), 2).mean((0, 2)).tolist()
        return {"pitch_real": float(wins.mean()), "pitch_real_min": min(per_interval),
                **dict(zip(REAL_CHECKS, per_interval))}


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Print (and return) the checks of each model folder on one re-rendered set of a split's
    every-window pairs (as the trainer's validation builds it), a JSON line per model."""
    p = argparse.ArgumentParser(prog="python -m training.real_pitch", description=main.__doc__)
    p.add_argument("models", nargs="+", help="folders written by phalar_metric.hub.save_pretrained")
    p.add_argument("--data", required=True, help="the render cache (with notes.json)")
    p.add_argument("--split", default="ood")
    p.add_argument("--pairs", type=int, default=96, help="pitched pairs re-rendered (default: 96)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    models = {m: load_pretrained(m) for m in args.models}
    window = {model.config.window_samples for model in models.values()}
    if len(window) > 1:
        p.error(f"the models have different windows {sorted(window)} (samples): score them in separate runs")
    pairs = every_window_pairs(load_songs(["rendered"], args.data, args.split), window.pop())
    real = RealPitchSet.build(pairs, args.pairs)
    if real is None:
        p.error(f"no pitched pair of {args.data}/{args.split} has notes.json to re-render")
    out = {}
    for name, model in models.items():
        out[name] = real.checks(model, embed_windows(model, pairs.context[real.rows], batch_size=64))
        print(json.dumps({"model": name, **{k: round(v, 4) for k, v in out[name].items()}}), flush=True)
    return out


if __name__ == "__main__":
    main()
