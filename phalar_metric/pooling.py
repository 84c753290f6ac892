"""Learned spectral pooling (and the GAP ablation): `[B, H, F, T']` -> `[B, D, C]` complex."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import PhaLarConfig


class SpectralPooling(nn.Module):
    """Project each frame's `H*F` features to `D`, then rfft along time.

    By the Fourier shift theorem a circular shift of the frames by `k` multiplies
    bin `c` by `exp(-2 pi i c k / T')`. Bins 1..C (or 0..C-1) are kept; missing bins are
    zero. Output `[B, D, C]` complex64.
    """

    def __init__(self, config: PhaLarConfig, in_features: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_features, config.embed_dim, bias=False)  # W_proj
        self.n_bins = config.n_pool_bins
        self.first_bin = 1 if config.pool_drop_dc else 0

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, H, F, T']` -> per-frame projection `Z` `[B, T', D]`."""
        b, h, f, t = x.shape
        return self.proj(x.reshape(b, h * f, t).transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spectrum(self.project(x))

    def spectrum(self, z: torch.Tensor) -> torch.Tensor:
        """`Z` `[B, T', D]` -> kept rfft bins `[B, D, C]` complex."""
        s = torch.fft.rfft(z, dim=1, norm="ortho")[:, self.first_bin : self.first_bin + self.n_bins]
        s = F.pad(s, (0, 0, 0, self.n_bins - s.shape[1]))
        return s.transpose(1, 2)


class GlobalAveragePooling(SpectralPooling):
    """GAP ablation: the same projection, averaged over time: `[B, H, F, T']` -> `[B, D]` real."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(x).mean(dim=1)
