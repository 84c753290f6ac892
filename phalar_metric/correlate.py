"""Correlation of metric scores with listening-test ratings: Pearson, Spearman, Kendall.

With `groups` (e.g. one group per listener or per item), ratings and scores are centred
within each group before correlating and the bootstrap resamples whole groups; with
`systems`, the mean score of each system is reported beside its mean rating.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from .embedding_cache import EmbeddingCache
from .manifest import read_manifest
from .metric import PhaLarScore

METHODS = ("pearson", "spearman", "kendall")
MISSING = frozenset({"", "na", "n/a", "nan", "none", "null"})  # cells read as a missing value


@dataclass
class Correlation:
    """One correlation coefficient and its bootstrap 95% percentile interval (`None` if no bootstrap)."""

    value: float
    ci: tuple[float, float] | None


@dataclass
class SystemMeans:
    """Mean rating and mean score of one system over its `n` usable rows."""

    n: int
    rating: float
    score: float


@dataclass
class CorrelationResult:
    """Pearson, Spearman and Kendall correlations over `n` rows (`skipped` rows had a missing value)."""

    pearson: Correlation
    spearman: Correlation
    kendall: Correlation
    n: int
    skipped: int
    systems: dict[str, SystemMeans] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready `{"pearson": {"value", "ci"}, ..., "n", "skipped"[, "systems"]}`."""
        out = asdict(self)
        for name in METHODS:
            ci = out[name]["ci"]
            out[name]["ci"] = None if ci is None else list(ci)
        if self.systems is None:
            del out["systems"]
        return out


def correlate(
    ratings: Sequence[float] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    groups: Sequence[Any] | None = None,
    systems: Sequence[Any] | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
) -> CorrelationResult:
    """Correlate scores with ratings, one entry per rating.

    Rows where the rating or score is NaN/None, or the group or system is None, are skipped
    and counted.

    Args:
        ratings: `[n]` listening-test ratings.
        scores: `[n]` metric scores of the same rows.
        groups: optional `[n]` group labels; ratings and scores are centred within each group
            (group mean subtracted) and the bootstrap resamples whole groups.
        systems: optional `[n]` system labels; mean rating and mean score per system are reported.
        bootstrap: number of bootstrap resamples for the 95% intervals (0: no intervals).
        seed: seed of the bootstrap resampling.

    Returns:
        A `CorrelationResult`.

    Raises:
        ValueError: if the arguments differ in length, `bootstrap` is negative, fewer than 3
            rows are usable, or the ratings or scores are constant.
    """
    r, s = _as_float(ratings, "ratings"), _as_float(scores, "scores")
    labels = {"groups": groups, "systems": systems}
    for name, values in [("scores", s), *labels.items()]:
        if values is not None and len(values) != len(r):
            raise ValueError(f"Argument `{name}` expected {len(r)} entries (one per rating), but got {len(values)}")
    if bootstrap < 0:
        raise ValueError(f"Argument `bootstrap` expected a non-negative integer, but got {bootstrap}")
    keep = ~(np.isnan(r) | np.isnan(s))
    for values in labels.values():
        if values is not None:
            keep &= np.array([v is not None for v in values], dtype=bool)
    n = int(keep.sum())
    if n < 3:
        raise ValueError(f"Argument `ratings` expected at least 3 rows with a rating and a score, but got {n}")
    r, s = r[keep], s[keep]
    group_of = None if groups is None else _codes([g for g, k in zip(groups, keep) if k])
    rc, sc = (r, s) if group_of is None else (_centre(r, group_of), _centre(s, group_of))
    for name, values in (("ratings", rc), ("scores", sc)):
        if np.ptp(values) == 0:
            where = " within groups" if groups is not None else ""
            raise ValueError(f"Argument `{name}` is constant{where}: no correlation")
    values = _coefficients(rc, sc)
    cis = _bootstrap(rc, sc, group_of, bootstrap, seed) if bootstrap else [None] * len(METHODS)
    corr = {m: Correlation(float(v), ci) for m, v, ci in zip(METHODS, values, cis)}
    means = None if systems is None else _system_means([v for v, k in zip(systems, keep) if k], r, s)
    return CorrelationResult(**corr, n=n, skipped=len(keep) - n, systems=means)


def correlate_csv(
    path: str | Path,
    rating: str,
    score: str | None = None,
    mix: str | None = None,
    stem: str | None = None,
    group: str | None = None,
    system: str | None = None,
    metric: PhaLarScore | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
) -> CorrelationResult:
    """Correlate a ratings CSV (one row per rating) with stored or freshly computed scores.

    Either `score` names a column of scores, or `mix` and `stem` name columns of audio paths
    (relative paths are read from the CSV's folder) scored with `metric`, each unique
    (mix, stem) pair once. Empty cells (and NA, NaN, null, none) are missing values: those
    rows are skipped and counted.

    Args:
        path: the CSV file with a header row (or a `.jsonl` file of one object a line).
        rating: column of numeric ratings.
        score: column of numeric scores (instead of `mix`/`stem`).
        mix: column of mix audio paths (with `stem`).
        stem: column of stem audio paths (with `mix`).
        group: optional column of group labels (see `correlate`).
        system: optional column of system labels (see `correlate`).
        metric: the `PhaLarScore` for `mix`/`stem` (default: `PhaLarScore()`, the shipped weights).
        bootstrap: number of bootstrap resamples for the 95% intervals.
        seed: seed of the bootstrap resampling.

    Returns:
        A `CorrelationResult`.

    Raises:
        ValueError: if a named column is missing, a rating or score is not a number, the
            arguments name neither `score` nor both `mix` and `stem` (or both), an audio
            file cannot be used, or `correlate` raises.
        OSError: if the CSV file cannot be read.
    """
    audio = mix is not None or stem is not None
    if (score is None) != audio or (audio and (mix is None or stem is None)):
        raise ValueError("Arguments: give either `score`, or both `mix` and `stem`")
    path = Path(path)
    rows = read_manifest(path, [c for c in (rating, score, mix, stem, group, system) if c is not None])
    ratings = _numbers(rows, rating, "rating")
    if score is not None:
        scores = _numbers(rows, score, "score")
    else:
        scores = _audio_scores(rows, mix, stem, path.parent, metric)
    groups = None if group is None else _labels(rows, group)
    systems = None if system is None else _labels(rows, system)
    return correlate(ratings, scores, groups=groups, systems=systems, bootstrap=bootstrap, seed=seed)


def _audio_scores(
    rows: list[dict[str, Any]], mix: str, stem: str, folder: Path, metric: PhaLarScore | None
) -> list[float]:
    """PhaLar score of each row's (mix, stem) pair, NaN where a path is missing."""
    cache = EmbeddingCache(PhaLarScore() if metric is None else metric, folder)
    pairs = [(_cell(row, mix), _cell(row, stem)) for row in rows]
    scores = {pair: cache.score(*pair) for pair in dict.fromkeys(pairs) if None not in pair}
    return [scores.get(pair, math.nan) for pair in pairs]


def _coefficients(r: np.ndarray, s: np.ndarray) -> tuple[float, float, float]:
    """(Pearson, Spearman, Kendall tau-b) of `r` and `s` via scipy.stats."""
    return (
        stats.pearsonr(r, s).statistic,
        stats.spearmanr(r, s).statistic,
        stats.kendalltau(r, s).statistic,
    )


def _bootstrap(
    r: np.ndarray, s: np.ndarray, group_of: np.ndarray | None, n_resamples: int, seed: int
) -> list[tuple[float, float]]:
    """95% percentile intervals of the three coefficients over rows (or whole groups) drawn with replacement."""
    rng = np.random.default_rng(seed)
    units = np.arange(len(r)) if group_of is None else np.arange(group_of.max() + 1)
    members = None if group_of is None else [np.flatnonzero(group_of == g) for g in units]
    draws = np.empty((n_resamples, len(METHODS)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a degenerate resample (constant values) gives NaN, ignored below
        for b in range(n_resamples):
            pick = rng.choice(units, size=len(units))
            idx = pick if members is None else np.concatenate([members[g] for g in pick])
            draws[b] = _coefficients(r[idx], s[idx])
    lo, hi = np.nanpercentile(draws, [2.5, 97.5], axis=0)
    return [(float(a), float(b)) for a, b in zip(lo, hi)]


def _centre(values: np.ndarray, group_of: np.ndarray) -> np.ndarray:
    """`values` minus the mean of their group."""
    sums = np.bincount(group_of, weights=values)
    return values - (sums / np.bincount(group_of))[group_of]


def _system_means(systems: list[Any], r: np.ndarray, s: np.ndarray) -> dict[str, SystemMeans]:
    """Mean rating and score per system, in order of first appearance."""
    codes = _codes(systems)
    out = {}
    for i, name in enumerate(dict.fromkeys(str(v) for v in systems)):
        mask = codes == i
        out[name] = SystemMeans(n=int(mask.sum()), rating=float(r[mask].mean()), score=float(s[mask].mean()))
    return out


def _codes(labels: list[Any]) -> np.ndarray:
    """Integer code `[n]` of each label, in order of first appearance."""
    index: dict[str, int] = {}
    return np.array([index.setdefault(str(v), len(index)) for v in labels], dtype=np.int64)


def _as_float(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    """`values` as a float array `[n]` (None -> NaN)."""
    try:
        return np.array([math.nan if v is None else v for v in values], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"Argument `{name}` expected numbers, but got {list(values)[:5]!r}...") from None


def _cell(row: dict[str, Any], column: str) -> str | None:
    """The row's cell in `column` as a stripped string, None where missing."""
    value = row.get(column)
    cell = "" if value is None else str(value).strip()
    return None if cell.lower() in MISSING else cell


def _labels(rows: list[dict[str, Any]], column: str) -> list[str | None]:
    """The column's cells, None where missing."""
    return [_cell(row, column) for row in rows]


def _numbers(rows: list[dict[str, Any]], column: str, arg: str) -> list[float]:
    """The column's cells as floats, NaN where missing."""
    out = []
    for line, cell in enumerate(_labels(rows, column), start=2):
        try:
            out.append(math.nan if cell is None else float(cell))
        except ValueError:
            raise ValueError(
                f"Argument `{arg}`: column {column!r} expected numbers, but line {line} has {cell!r}"
            ) from None
    return out
