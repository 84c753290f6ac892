"""`PhaLarCoherence`: PhaLar as a `torchmetrics.Metric` (optional extra `phalar-metric[torchmetrics]`).

The class only validates, keeps the running state and calls `functional.phalar_paired_details`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

try:
    from torchmetrics import Metric
    from torchmetrics.utilities import dim_zero_cat
except ImportError as err:
    raise ImportError(
        "PhaLarCoherence needs torchmetrics: pip install 'phalar-metric[torchmetrics]'"
    ) from err

from .embedding import check_batch_size
from .functional import phalar_paired_details
from .hub import load_default, load_pretrained
from .model import PhaLar

REDUCTIONS = ("mean", "none")


class PhaLarCoherence(Metric):
    """PhaLar scores of (mix, stem) pairs accumulated over batches: their mean, or each one.

    Windows where a mix or a stem is silent (below `gate.SILENCE_DBFS`) score 0 and are
    counted in the states `windows` and `silent_windows` (with a `SilentInputWarning`).

    Args:
        sample_rate: rate in Hz of the waveforms passed to `update`.
        model: a `PhaLar` model; default the one from `repo_id_or_path`, else the shipped weights.
        repo_id_or_path: a checkpoint folder or Hub repo id to load when `model` is not given.
        revision: Hub revision of `repo_id_or_path`.
        batch_size: model windows per forward pass.
        reduction: ``"mean"``: `compute()` is the mean score, a 0-d tensor; ``"none"``: one
            score per pair, `[n_pairs]` float64, in the order of the `update` calls (across
            processes: rank 0's pairs, then rank 1's, ...).
        kwargs: passed to `torchmetrics.Metric`.

    Raises:
        ValueError: `sample_rate`, `batch_size` or `reduction` is invalid.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> mixes, stems = 0.1 * torch.randn(3, 5 * 16000), 0.1 * torch.randn(3, 5 * 16000)  # [B, samples]
        >>> metric = PhaLarCoherence(sample_rate=16000)  # the shipped weights
        >>> metric.update(mixes, stems)
        >>> metric.compute().shape  # the mean score
        torch.Size([])
        >>> per_pair = PhaLarCoherence(sample_rate=16000, reduction="none")
        >>> per_pair.update(mixes[:2], stems[:2])
        >>> per_pair.update(mixes[2:], stems[2:])
        >>> per_pair.compute().shape  # one score per pair, in order
        torch.Size([3])
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(
        self,
        sample_rate: int,
        model: PhaLar | None = None,
        repo_id_or_path: str | Path | None = None,
        revision: str | None = None,
        batch_size: int = 16,
        reduction: str = "mean",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if reduction not in REDUCTIONS:
            raise ValueError(f"Argument `reduction` expected one of {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ValueError(f"Argument `sample_rate` expected a positive integer (Hz), got {sample_rate!r}")
        self.sample_rate = sample_rate
        self.batch_size = check_batch_size(batch_size)
        if model is None:
            model = load_default() if repo_id_or_path is None else load_pretrained(repo_id_or_path, revision=revision)
        self.model = model
        self.add_state("sum_scores", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("windows", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("silent_windows", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        if reduction == "none":
            self.add_state("scores", [], dist_reduce_fx="cat")

    def update(self, mixes: torch.Tensor, stems: torch.Tensor) -> None:
        """Add a batch of pairs: `mixes` and `stems` `[B, samples]` at `sample_rate`.

        Raises:
            ValueError: the tensors are not 2-D with the same batch size, or a clip is invalid.
        """
        for name, x in (("mixes", mixes), ("stems", stems)):
            if not isinstance(x, torch.Tensor) or x.ndim != 2:
                shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
                raise ValueError(f"Argument `{name}` expected a tensor [B, samples], got {shape}")
        if len(mixes) != len(stems):
            raise ValueError(
                f"Arguments `mixes` and `stems` expected the same batch size, got {len(mixes)} and {len(stems)}"
            )
        details = phalar_paired_details(self.model, list(mixes), list(stems), self.sample_rate, self.batch_size)
        for warning in (w for d in details for w in d.warnings):
            warnings.warn(warning, stacklevel=2)
        scores = torch.tensor([d.score for d in details], dtype=torch.float64, device=self.sum_scores.device)
        self.sum_scores += scores.sum()
        if self.reduction == "none":
            self.scores.append(scores)
        self.total += len(details)
        self.windows += sum(d.windows for d in details)
        self.silent_windows += sum(d.silent_windows for d in details)

    def compute(self) -> torch.Tensor:
        """The mean score over all pairs seen (NaN before any update), or with ``reduction="none"``
        every pair's score `[n_pairs]` (empty before any update)."""
        if self.reduction == "none":
            empty = isinstance(self.scores, list) and not self.scores  # (a tensor once synced)
            return torch.zeros(0, dtype=torch.float64) if empty else dim_zero_cat(self.scores)
        return self.sum_scores / self.total
