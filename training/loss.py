"""InfoNCE over the score matrix."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(scores: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Symmetric cross-entropy of `[B, B]` scores (context i vs target j) whose diagonal
    holds the positives: mean of the row (context -> target) and column (target -> context) losses."""
    labels = torch.arange(scores.shape[0], device=scores.device)
    rows = F.cross_entropy(scores, labels, label_smoothing=label_smoothing)
    cols = F.cross_entropy(scores.transpose(0, 1), labels, label_smoothing=label_smoothing)
    return (rows + cols) / 2
