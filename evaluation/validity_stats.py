"""Win rates with bootstrap intervals, mean scores and curves from the validity suite's trial scores.

Input: per trial, `scores[scorer][clip]` (floats) and the trial's `TrialClips` (which clip each
row compares with which reference, which clips make the curves). A row's win rate is the share
of the trials that have the row where the reference clip scores strictly higher than the
degraded clip (ties lose), with a percentile bootstrap 95% interval over trials.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .validity_trials import TrialClips, row_names

Scores = dict[str, dict[str, float]]  # scorer -> clip -> score, for one trial
Z95 = 1.959964  # two-sided 95% normal quantile


def bootstrap_ci(values: np.ndarray, n_resamples: int, seed: int) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the mean of `values` `[n]`, resampling with replacement."""
    rng = np.random.default_rng(seed)
    means = np.asarray(values, float)[rng.integers(0, len(values), size=(n_resamples, len(values)))].mean(1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(lo), float(hi)


def win_rates(trial_scores: Sequence[Scores], trials: Sequence[TrialClips], n_resamples: int,
              seed: int) -> dict[str, dict[str, Any]]:
    """Per scorer: `{"true": {"mean_score", "n"}, <row>: {"win_rate", "ci95", "mean_score",
    "reference_mean", "reference", "n"}}` for every row that at least one trial has."""
    out: dict[str, dict[str, Any]] = {}
    for scorer in trial_scores[0]:
        true = np.array([s[scorer]["true"] for s in trial_scores])
        rows: dict[str, Any] = {"true": {"mean_score": float(true.mean()), "n": len(true)}}
        for row in row_names():
            have = [(s[scorer], t.rows[row]) for s, t in zip(trial_scores, trials) if row in t.rows]
            if not have:
                continue
            degraded = np.array([s[clip] for s, (clip, _) in have])
            reference = np.array([s[ref] for s, (_, ref) in have])
            wins = (reference > degraded).astype(float)
            rows[row] = {"win_rate": float(wins.mean()), "ci95": list(bootstrap_ci(wins, n_resamples, seed)),
                         "mean_score": float(degraded.mean()), "reference_mean": float(reference.mean()),
                         "reference": sorted({ref for _, (_, ref) in have}), "n": len(have)}  # fmt: skip
        out[scorer] = rows
    return out


def curves(trial_scores: Sequence[Scores], trials: Sequence[TrialClips]) -> dict[str, dict[str, Any]]:
    """Per scorer and curve ("offset_ms", "transpose_st"), over the trials that have the curve:
    `x`, the `mean` and `std` of the score at each x, and the mean change from x = 0 within each
    trial (`delta_mean`) with its normal 95% interval (`delta_ci95_lo`, `delta_ci95_hi`)."""
    out: dict[str, dict[str, Any]] = {}
    for scorer in trial_scores[0]:
        out[scorer] = {}
        for key, attr in (("offset_ms", "offset"), ("transpose_st", "transpose")):
            have = [(s[scorer], getattr(t, attr)) for s, t in zip(trial_scores, trials) if getattr(t, attr)]
            if not have:
                continue
            xs = sorted(have[0][1])
            values = np.array([[s[points[x]] for x in xs] for s, points in have])  # [trials, points]
            delta = values - values[:, [xs.index(0)]]
            half = Z95 * delta.std(0) / np.sqrt(len(values))
            out[scorer][key] = {"x": xs, "mean": values.mean(0).tolist(), "std": values.std(0).tolist(),
                                "delta_mean": delta.mean(0).tolist(), "delta_ci95_lo": (delta.mean(0) - half).tolist(),
                                "delta_ci95_hi": (delta.mean(0) + half).tolist(), "n": len(values)}  # fmt: skip
    return out
