"""Projection heads (complex and the real ablations) and the pairwise score."""

from __future__ import annotations

import torch
from torch import nn

from .complex_nn import ComplexLinear, ComplexRMSNorm, ModReLU, unit_rms
from .config import PhaLarConfig


class ComplexHead(nn.Module):
    """complex linear -> complex RMSNorm -> modReLU -> complex linear, unit-RMS output.

    `[B, D, C]` complex -> `[B, out_dim]` complex; exactly phase equivariant.
    """

    def __init__(self, config: PhaLarConfig) -> None:
        super().__init__()
        d_in = config.embed_dim * config.n_pool_bins
        self.layers = nn.Sequential(
            ComplexLinear(d_in, config.hidden_dim),
            ComplexRMSNorm(config.hidden_dim),
            ModReLU(config.hidden_dim),
            ComplexLinear(config.hidden_dim, config.out_dim),
        )

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return unit_rms(self.layers(s.flatten(1)))


class RealHead(nn.Module):
    """Real MLP for the ablations: `|S|` (magnitude-only) or GAP features -> `[B, out_dim]` real."""

    def __init__(self, config: PhaLarConfig) -> None:
        super().__init__()
        d_in = config.embed_dim * (config.n_pool_bins if config.head == "magnitude" else 1)
        self.magnitude = config.head == "magnitude"
        self.layers = nn.Sequential(
            nn.LayerNorm(d_in),
            nn.Linear(d_in, config.hidden_dim, bias=False),
            nn.LayerNorm(config.hidden_dim),
            nn.ReLU(),
            nn.Linear(config.hidden_dim, config.out_dim, bias=False),
        )

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        feats = s.abs().flatten(1) if self.magnitude else s
        return unit_rms(self.layers(feats))


class Similarity(nn.Module):
    """Pairwise score `Re(x^H W y)` between unit-RMS embeddings.

    `hermitian`: W unconstrained (indefinite), symmetric use via `W_h = (W + W^H) / 2`;
    `psd`: `W = A^H A` (ablation); `cosine`: a learned scale times the complex cosine
    (ablation). Real embeddings (the real-head ablations) use a real W the same way.
    With the harmony branch (`harmony_dim` E > 0) the embeddings' last E entries are real and
    the matrix is block-diagonal, `[[W, 0], [0, V]]`, V a real E x E matrix initialised to 0
    (the score starts as the one without the branch).
    """

    def __init__(self, config: PhaLarConfig) -> None:
        super().__init__()
        n = config.out_dim
        self.kind = config.similarity
        self.complex = config.head == "complex"
        shape = (n, n, 2) if self.complex else (n, n)
        if self.kind == "cosine":
            self.log_scale = nn.Parameter(torch.tensor(float(config.init_scale)).log())
            return
        eye = torch.eye(n)
        if self.complex:
            eye = torch.stack([eye, torch.zeros(n, n)], dim=-1)
        if self.kind == "psd":  # A = sqrt(s / n) I  ->  W = (s / n) I
            self.weight = nn.Parameter(eye * (config.init_scale / n) ** 0.5 + torch.randn(shape) * 0.01 / n**0.5)
        else:
            self.weight = nn.Parameter(eye * config.init_scale / n + torch.randn(shape) * 0.01 / n)
        if config.harmony_dim:
            self.harmony_weight = nn.Parameter(torch.zeros(config.harmony_dim, config.harmony_dim))

    def matrix(self, symmetric: bool = True) -> torch.Tensor:
        """The score matrix `[n, n]` (complex for the complex head); Hermitian if `symmetric`."""
        w = torch.view_as_complex(self.weight) if self.complex else self.weight
        if self.kind == "psd":
            return w.conj().transpose(0, 1) @ w
        if hasattr(self, "harmony_weight"):
            w = torch.block_diag(w, self.harmony_weight.to(w.dtype))
        return (w + w.conj().transpose(0, 1)) / 2 if symmetric else w

    def forward(self, x: torch.Tensor, y: torch.Tensor, symmetric: bool = True) -> torch.Tensor:
        """Score matrix `[Bx, By]` between embeddings `x` `[Bx, n]` and `y` `[By, n]`.

        Always float32 (complex64): under bf16 autocast the real heads' logits would be rounded
        to steps of 1/16 at the initial scale of 10.
        """
        with torch.autocast(x.device.type, enabled=False):
            x, y = _full(x), _full(y)
            return _real(x.conj() @ self.apply_matrix(y, symmetric).transpose(0, 1))

    def harmony(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The harmony block's share of `forward(x, y)`: `[Bx, By]`, `u_x^T V_h u_y` over the
        embeddings' last `harmony_dim` entries (real), `V_h = (V + V^T) / 2`; float32."""
        e = self.harmony_weight.shape[0]
        with torch.autocast(x.device.type, enabled=False):
            v_h = _real(self.matrix()[-e:, -e:])  # the symmetrised block of W_h
            return _real(x[:, -e:]).float() @ v_h @ _real(y[:, -e:]).float().transpose(0, 1)

    def paired(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Symmetric scores of paired rows: `[..., n]` and `[..., n]` -> `[...]`.

        `out[k] = Re(x[k]^H W_h y[k])`, the diagonal of `forward(x, y)` without the matrix.
        """
        with torch.autocast(x.device.type, enabled=False):
            x, y = _full(x), _full(y)
            return _real((x.conj() * self.apply_matrix(y)).sum(-1))

    def windowed(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean over aligned windows of the symmetric score, for every pair of clips, as one product.

        Args:
            x: embeddings `[N, W, n]` (W windows per clip).
            y: embeddings `[M, W, n]`, the same W windows in time.

        Returns:
            `[N, M]`: `out[i, j] = mean_w Re(x[i, w]^H W_h y[j, w])`.
        """
        n_windows = x.shape[1]
        assert y.shape[1] == n_windows, "clips must have the same windows"
        with torch.autocast(x.device.type, enabled=False):
            x, y = _full(x), _full(y)
            wy = self.apply_matrix(y)  # [M, W, n]
            return _real(x.conj().reshape(len(x), -1) @ wy.reshape(len(y), -1).transpose(0, 1)) / n_windows

    def apply_matrix(self, y: torch.Tensor, symmetric: bool = True) -> torch.Tensor:
        """`W y` for every row of `y` `[..., n]` (cosine: the scale over n; W_h if `symmetric`)."""
        if self.kind == "cosine":  # unit-RMS rows have squared norm n
            return y * (self.log_scale.exp() / y.shape[-1])
        return y @ self.matrix(symmetric).transpose(0, 1)


def _full(x: torch.Tensor) -> torch.Tensor:
    """Complex tensors as they are, real ones as float32."""
    return x if x.is_complex() else x.float()


def _real(out: torch.Tensor) -> torch.Tensor:
    """The real part of a complex score (a real score as it is)."""
    return out.real if out.is_complex() else out
