"""PhaLar: front-end -> backbone -> pooling -> head, with `embed()` and `score()`."""

from __future__ import annotations

import torch
from torch import nn

from .backbone import Backbone
from .config import PhaLarConfig
from .frontend import Frontend
from .head import ComplexHead, RealHead, Similarity
from .pooling import GlobalAveragePooling, SpectralPooling


class PhaLar(nn.Module):
    """The PhaLar coherence model.

    `embed(wav)`: `[B, samples]` float at `config.sample_rate` -> `[B, out_dim]` embeddings
    (complex64 for the complex head, float32 for the real-head ablations), unit RMS.
    `score(ex, ey)`: `[Bx, By]` scores, higher = more coherent.
    """

    def __init__(self, config: PhaLarConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or PhaLarConfig()
        self.frontend = Frontend(config)
        self.backbone = Backbone(config)
        pool_cls = GlobalAveragePooling if config.pooling == "gap" else SpectralPooling
        self.pooling = pool_cls(config, config.channels[-1] * config.n_bins)
        self.head = ComplexHead(config) if config.head == "complex" else RealHead(config)
        self.similarity = Similarity(config)

    def embed(self, wav: torch.Tensor) -> torch.Tensor:
        """`[B, samples]` -> `[B, out_dim]` embedding."""
        return self.embed_spectrogram(self.frontend(wav))

    def embed_spectrogram(self, spec: torch.Tensor) -> torch.Tensor:
        """The front-end's output `[B, F, T]` -> `[B, out_dim]` embedding."""
        return self.head(self.pooling(self.backbone(spec)))

    def score(self, ex: torch.Tensor, ey: torch.Tensor, symmetric: bool = True) -> torch.Tensor:
        """Scores `[Bx, By]` between embeddings `[Bx, n]` and `[By, n]`."""
        return self.similarity(ex, ey, symmetric=symmetric)

    def forward(self, wav_x: torch.Tensor, wav_y: torch.Tensor) -> torch.Tensor:
        """Score matrix `[Bx, By]` between two batches of waveforms."""
        return self.score(self.embed(wav_x), self.embed(wav_y))


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (a complex weight counts as two reals)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
