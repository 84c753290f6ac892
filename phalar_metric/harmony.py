"""The harmony branch: what sounds in a clip, whenever it sounds.

The spectral pooling keeps modulation bins 1..C and drops the time average (DC), so a
sustained chord or drone, with no change over the window, embeds near zero, and a transposed
stem differs from the true one only through its changes. This branch keeps the time average
of the backbone's output, which still has every frequency bin (the backbone never pools
frequency): `[B, H, F, T']` -> mean over time -> `[B, H*F]` -> linear -> `[B, E]` real, unit
RMS. The score adds `u_x^T V u_y` for a learnt real E x E matrix V (head.Similarity); a time
shift does not change this term, so the shift checks stay with the complex embedding.
"""

from __future__ import annotations

import torch
from torch import nn

from .complex_nn import unit_rms
from .config import PhaLarConfig


class HarmonyBranch(nn.Module):
    """Backbone output `[B, H, F, T']` -> time-averaged features `[B, harmony_dim]` real, unit RMS."""

    def __init__(self, config: PhaLarConfig) -> None:
        super().__init__()
        self.proj = nn.Linear(config.channels[-1] * config.n_bins, config.harmony_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return unit_rms(self.proj(x.mean(dim=-1).flatten(1)).float())
