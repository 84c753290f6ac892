"""Harmonic backbone: axial residual blocks, `[B, 1, F, T]` -> `[B, H, F, T']`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import PhaLarConfig


class AxialBlock(nn.Module):
    """A residual 3x1 conv along frequency, a 1x3 conv along time (optionally strided by 2)
    and a residual pointwise MLP. GroupNorm(1, ·) keeps each sample independent of the batch.
    """

    def __init__(self, c_in: int, c_out: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.norm_freq = nn.GroupNorm(1, c_in)
        self.freq = nn.Conv2d(c_in, c_in, (3, 1), padding=(1, 0))
        self.norm_time = nn.GroupNorm(1, c_in)
        self.time = nn.Conv2d(c_in, c_out, (1, 3), stride=(1, stride), padding=(0, 1))
        # the strided skip is a 1x1 conv of every second frame: the same map as a strided 1x1
        # conv, which torch 2.13's oneDNN backward mishandles in channels_last (heap corruption)
        self.stride = stride
        self.skip = nn.Identity() if c_in == c_out and stride == 1 else nn.Conv2d(c_in, c_out, 1)
        self.norm_mlp = nn.GroupNorm(1, c_out)
        self.mlp = nn.Sequential(nn.Conv2d(c_out, 2 * c_out, 1), nn.SiLU(), nn.Conv2d(2 * c_out, c_out, 1))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.freq(F.silu(self.norm_freq(x)))
        x = self.skip(x[..., :: self.stride]) + self.time(F.silu(self.norm_time(x)))
        return x + self.dropout(self.mlp(self.norm_mlp(x)))


class Backbone(nn.Module):
    """A 1x1 stem, then per stage two blocks, the first strided by 2 in time in the first
    `config.strided_stages` stages.

    Default: 5 stages = 10 blocks, 16x compression in time, none in frequency.
    Input `[B, F, T]`; output `[B, channels[-1], F, output_frames(T, strided_stages)]`.
    """

    def __init__(self, config: PhaLarConfig) -> None:
        super().__init__()
        ch = config.channels
        self.stem = nn.Conv2d(1, ch[0], 1)
        blocks = []
        for stage, (c_in, c_out) in enumerate(zip(ch[:-1], ch[1:])):
            stride = 2 if stage < config.strided_stages else 1
            blocks.append(AxialBlock(c_in, c_out, stride=stride, dropout=config.dropout))
            blocks.append(AxialBlock(c_out, c_out, stride=1, dropout=config.dropout))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        x = self.stem(spec.unsqueeze(1)).contiguous(memory_format=torch.channels_last)  # ~2x faster on CPU
        return self.blocks(x)


def output_frames(frames: int, n_stages: int) -> int:
    """Frames after `n_stages` stride-2 convs with kernel 3, padding 1."""
    for _ in range(n_stages):
        frames = (frames - 1) // 2 + 1
    return frames
