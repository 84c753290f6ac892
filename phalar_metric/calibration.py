"""A calibrated score beside the raw one: `probability = sigmoid(a * score + b)`.

`probability` is the probability that the stem is the mix's true partner rather than a stem
of another song, given the raw score, when both are equally likely a priori (class prior
0.5). So 0.5 means "as likely the true partner as another song's stem"; above 0.5 the score
speaks for the pair. For a setting where true partners have prior `q`, add
`log(q / (1 - q))` to the logit `a * score + b`.

The map is a logistic regression of the pair label on the raw score, fitted by maximum
likelihood on held-out pairs (`fit_logistic`; `python -m evaluation.calibrate`): positives
are (mix, stem) windows of the same song and time, negatives the same mixes with stems of
other songs, each class weighted to half the total. It is fitted on single 5 s windows; a
longer clip's probability applies the same map to its mean score. The map is monotone
(`a > 0`): it never reorders candidates. It is stored as `calibration.json` inside the
checkpoint folder, listed in `checksums.json`, and used only with the weights it was fitted
for (`weights_sha256`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CALIBRATION_NAME = "calibration.json"
RIDGE = 1e-6  # on a: keeps the fit finite when the two classes are separable


@dataclass(frozen=True)
class Calibration:
    """`probability = sigmoid(a * score + b)` for the weights whose sha256 is `weights_sha256`.

    `fit`: how it was fitted (data, pairs, date, command, held-out calibration error).
    """

    a: float
    b: float
    weights_sha256: str
    fit: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.a) and np.isfinite(self.b)) or self.a <= 0:
            raise ValueError(f"Calibration expects finite `a` > 0 and finite `b` (a monotone map), got {self.a}, {self.b}")

    def probability(self, score: float | np.ndarray) -> float | np.ndarray:
        """The calibrated probability in [0, 1] of a raw score (a float, or an array of any shape)."""
        p = 0.5 * (1.0 + np.tanh(0.5 * (self.a * np.asarray(score, dtype=np.float64) + self.b)))  # stable sigmoid
        return float(p) if np.ndim(p) == 0 else p

    def save(self, path: str | Path) -> None:
        """Write the JSON file (`a`, `b`, `weights_sha256`, `fit`)."""
        record = {"a": self.a, "b": self.b, "weights_sha256": self.weights_sha256, "fit": self.fit}
        Path(path).write_text(json.dumps(record, indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Calibration":
        """Read a file written by `save`.

        Raises:
            ValueError: the file is not a calibration (missing keys, a non-monotone map).
        """
        try:
            record = json.loads(Path(path).read_text())
            return cls(float(record["a"]), float(record["b"]), str(record["weights_sha256"]), dict(record["fit"]))
        except (KeyError, TypeError, json.JSONDecodeError) as err:
            raise ValueError(f"{path} is not a PhaLar calibration file: {err!r}") from None


def fit_logistic(positives: np.ndarray, negatives: np.ndarray, iterations: int = 100) -> tuple[float, float]:
    """Maximum-likelihood `(a, b)` of `P(partner | s) = sigmoid(a s + b)`, each class weighted to half.

    Newton's method on the weighted log-likelihood (concave: it converges from 0).

    Args:
        positives: raw scores `[n_pos]` of true pairs.
        negatives: raw scores `[n_neg]` of pairs with another song's stem.
        iterations: Newton steps at most.

    Returns:
        `(a, b)`.

    Raises:
        ValueError: a class is empty or a score is not finite, or the fit is not monotone
            increasing (`a <= 0`: the scores do not rank partners first).
    """
    positives, negatives = (np.asarray(x, dtype=np.float64).ravel() for x in (positives, negatives))
    if len(positives) == 0 or len(negatives) == 0:
        raise ValueError(f"Arguments `positives` and `negatives` must not be empty, got {len(positives)}, {len(negatives)}")
    if not (np.isfinite(positives).all() and np.isfinite(negatives).all()):
        raise ValueError("Arguments `positives` and `negatives` must be finite scores")
    scores = np.concatenate([positives, negatives])
    labels = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    weights = class_weights(labels)
    x = np.stack([scores, np.ones_like(scores)], axis=1)  # [n, 2]: (s, 1)
    theta = np.zeros(2)
    for _ in range(iterations):
        p = 0.5 * (1.0 + np.tanh(0.5 * (x @ theta)))
        gradient = x.T @ (weights * (labels - p)) - np.array([RIDGE * theta[0], 0.0])
        hessian = -(x.T * (weights * p * (1 - p))) @ x - np.diag([RIDGE, 0.0])
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    a, b = float(theta[0]), float(theta[1])
    if a <= 0:
        raise ValueError(f"The fitted slope is {a:.4g} <= 0: these scores do not rank true partners above others")
    return a, b


def class_weights(labels: np.ndarray) -> np.ndarray:
    """Per-sample weights `[n]` giving each class (labels 1 and 0) half of a total of 1."""
    n_pos = labels.sum()
    return np.where(labels == 1, 0.5 / n_pos, 0.5 / (len(labels) - n_pos))


def reliability(probabilities: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> list[dict[str, float]]:
    """Per bin of predicted probability (equal widths in [0, 1]) under the class prior 0.5:
    `low`, `high`, `weight` (share of the balanced total), `predicted` (mean probability)
    and `observed` (share of true partners); empty bins are left out."""
    weights = class_weights(labels)
    index = np.minimum((probabilities * n_bins).astype(int), n_bins - 1)
    rows = []
    for k in range(n_bins):
        inside = index == k
        w = weights[inside].sum()
        if w > 0:
            rows.append({
                "low": k / n_bins, "high": (k + 1) / n_bins, "weight": float(w),
                "predicted": float((weights * probabilities)[inside].sum() / w),
                "observed": float((weights * labels)[inside].sum() / w),
            })  # fmt: skip
    return rows


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> float:
    """ECE: the weight-averaged `|observed - predicted|` over the bins of `reliability`."""
    return float(sum(r["weight"] * abs(r["observed"] - r["predicted"]) for r in reliability(probabilities, labels, n_bins)))
