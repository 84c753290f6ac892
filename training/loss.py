"""InfoNCE over the score matrix, with optional extra negative columns."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(scores: torch.Tensor, label_smoothing: float = 0.0, extra: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric cross-entropy of `[B, B]` scores (context i vs target j) whose diagonal
    holds the positives: mean of the row (context -> target) and column (target -> context) losses.

    `extra` `[B, M]`: scores of every context against M extra candidates (transposed,
    stretched or degenerate targets) appended to the rows' candidates; they are never
    positives, and they have no partner, so the column loss ignores them.
    """
    labels = torch.arange(scores.shape[0], device=scores.device)
    row_scores = scores if extra is None else torch.cat([scores, extra], dim=1)
    rows = F.cross_entropy(row_scores, labels, label_smoothing=label_smoothing)
    cols = F.cross_entropy(scores.transpose(0, 1), labels, label_smoothing=label_smoothing)
    return (rows + cols) / 2


def pairwise_margin(true: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """Mean of softplus(negative - true) over paired scores (`[P]`, or any shape both share): a
    logistic loss that each context score its true target above that target's own negative (e.g.
    transposed), however many other candidates the InfoNCE row holds. 0 for P = 0."""
    if true.numel() == 0:
        return true.new_zeros(())
    return F.softplus(negative - true).mean()


def masked_info_nce(scores: torch.Tensor, allowed: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the rows `rows` `[R]` of `scores` `[B, C]`, row i's positive at
    column i, over the columns `allowed[i]` only (`[B, C]` bool, the positive allowed): the
    other columns neither count nor get a gradient. 0 for R = 0."""
    if rows.numel() == 0:
        return scores.new_zeros(())
    return F.cross_entropy(scores[rows].masked_fill(~allowed[rows], float("-inf")), rows)
