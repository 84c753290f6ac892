"""`PhaLarCoherence`: PhaLar as a `torchmetrics.Metric` (optional extra `phalar-metric[torchmetrics]`).

The class only validates, keeps the running state and calls `functional.phalar_paired_details`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

try:
    from torchmetrics import Metric
except ImportError as err:
    raise ImportError(
        "PhaLarCoherence needs torchmetrics: pip install 'phalar-metric[torchmetrics]'"
    ) from err

from .embedding import check_batch_size
from .functional import phalar_paired_details
from .hub import load_default, load_pretrained
from .model import PhaLar


class PhaLarCoherence(Metric):
    """Mean PhaLar score of (mix, stem) pairs accumulated over batches.

    Windows where a mix or a stem is silent (below `gate.SILENCE_DBFS`) score 0 and are
    counted in the states `windows` and `silent_windows` (with a `SilentInputWarning`).

    Args:
        sample_rate: rate in Hz of the waveforms passed to `update`.
        model: a `PhaLar` model; default the one from `repo_id_or_path`, else the shipped weights.
        repo_id_or_path: a checkpoint folder or Hub repo id to load when `model` is not given.
        revision: Hub revision of `repo_id_or_path`.
        batch_size: model windows per forward pass.
        kwargs: passed to `torchmetrics.Metric`.

    Example::

        metric = PhaLarCoherence(sample_rate=44100)
        metric.update(mixes, stems)     # [B, samples] each
        metric.compute()                # tensor(), the mean score
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
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
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
        self.total += len(details)
        self.windows += sum(d.windows for d in details)
        self.silent_windows += sum(d.silent_windows for d in details)

    def compute(self) -> torch.Tensor:
        """The mean score over all pairs seen (NaN before any update)."""
        return self.sum_scores / self.total
