"""Per-system summary of scored pairs: mean raw score, mean probability, bootstrap 95% intervals."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

ALL = "all"  # the system of rows without a `system` field


def mean_ci(values: np.ndarray, n_resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the mean of `values` `[n]` (`n_resamples` resamples with replacement)."""
    rng = np.random.default_rng(seed)
    means = np.concatenate([
        values[rng.integers(0, len(values), (min(100, n_resamples - i), len(values)))].mean(1)
        for i in range(0, n_resamples, 100)
    ])  # fmt: skip
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def summarise(records: Iterable[dict[str, Any]], n_resamples: int = 1000, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Per system (the records' `system` field, else `ALL`), in order of first appearance.

    Args:
        records: output lines of `phalar score` (`score` and `probability`, or `error`).
        n_resamples: bootstrap resamples of each interval.
        seed: seed of the resampling.

    Returns:
        `{system: {"n", "failed", "mean_score", "score_ci", "mean_probability",
        "probability_ci"}}`; the probability entries are None without calibration, the
        means and intervals None when no pair of the system was scored.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(str(record.get("system", ALL)), []).append(record)
    out = {}
    for system, rows in groups.items():
        scored = [r for r in rows if "error" not in r]
        entry: dict[str, Any] = {"n": len(scored), "failed": len(rows) - len(scored)}
        for key, name in (("score", "score"), ("probability", "probability")):
            values = np.array([r[key] for r in scored if r.get(key) is not None], dtype=np.float64)
            usable = len(values) == len(scored) and len(values) > 0
            entry[f"mean_{name}"] = float(values.mean()) if usable else None
            entry[f"{name}_ci"] = mean_ci(values, n_resamples, seed) if usable else None
        out[system] = entry
    return out


def format_summary(summary: dict[str, dict[str, Any]]) -> str:
    """The summary as a text table, one row per system."""

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    def interval(ci: tuple[float, float] | None) -> str:
        return "-" if ci is None else f"[{ci[0]:.4f}, {ci[1]:.4f}]"

    lines = [f"{'system':<20} {'n':>6} {'failed':>6} {'score':>9} {'95% CI':>20} {'prob.':>7} {'95% CI':>18}"]
    for system, s in summary.items():
        lines.append(
            f"{system:<20} {s['n']:>6} {s['failed']:>6} {number(s['mean_score']):>9} {interval(s['score_ci']):>20} "
            f"{number(s['mean_probability']):>7} {interval(s['probability_ci']):>18}"
        )
    return "\n".join(lines)
