"""Phase-equivariant complex layers: f(x * e^{i theta}) == f(x) * e^{i theta}.

Complex weights are stored as real tensors `[..., 2]` (real, imaginary) so that optimisers,
DDP all-reduce and safetensors see ordinary float parameters.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ComplexLinear(nn.Module):
    """Bias-free complex linear map `[..., in] -> [..., out]` (a bias would break equivariance)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        std = 1.0 / math.sqrt(2.0 * in_features)  # unit output variance for unit-variance input
        self.weight = nn.Parameter(torch.randn(out_features, in_features, 2) * std)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z @ torch.view_as_complex(self.weight).transpose(0, 1)


class ComplexRMSNorm(nn.Module):
    """Per-sample `z / sqrt(mean |z|^2 + eps) * g` over the last dim, with a real gain `g`."""

    def __init__(self, features: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.gain = nn.Parameter(torch.ones(features))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        power = (z.real.square() + z.imag.square()).mean(dim=-1, keepdim=True)
        return z * torch.rsqrt(power + self.eps) * self.gain


class ModReLU(nn.Module):
    """`relu(|z| + b) * z / |z|` with `|z|` smoothed by eps: finite at z = 0, forward and backward."""

    def __init__(self, features: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.bias = nn.Parameter(torch.full((features,), -0.1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        mag = torch.sqrt(z.real.square() + z.imag.square() + self.eps)
        return z * (torch.relu(mag + self.bias) / mag)


def unit_rms(z: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Scale each row (last dim) to unit root-mean-square magnitude; real or complex."""
    power = z.abs().square().mean(dim=-1, keepdim=True) if z.is_complex() else z.square().mean(-1, keepdim=True)
    return z * torch.rsqrt(power + eps)
