"""PhaLar: front-end -> backbone -> pooling -> head, with `embed()` and `score()`."""

from __future__ import annotations

import torch
from torch import nn

from .backbone import Backbone
from .config import PhaLarConfig
from .frontend import Frontend
from .harmony import HarmonyBranch
from .head import ComplexHead, RealHead, Similarity
from .pooling import GlobalAveragePooling, SpectralPooling


class PhaLar(nn.Module):
    """The PhaLar coherence model.

    `embed(wav)`: `[B, samples]` float at `config.sample_rate` -> `[B, n]` embeddings
    (complex64 for the complex head, float32 for the real-head ablations): the head's `out_dim`
    entries, unit RMS, then the harmony branch's `harmony_dim` real ones, unit RMS (if any).
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
        self.harmony = HarmonyBranch(config) if config.harmony_dim else None
        self.similarity = Similarity(config)

    def embed(self, wav: torch.Tensor) -> torch.Tensor:
        """`[B, samples]` -> `[B, n]` embedding (`n = out_dim + harmony_dim`)."""
        return self.embed_spectrogram(self.frontend(wav))

    def embed_spectrogram(self, spec: torch.Tensor) -> torch.Tensor:
        """The front-end's output `[B, F, T]` -> `[B, n]` embedding (`n = out_dim + harmony_dim`)."""
        feats = self.backbone(spec)
        out = self.head(self.pooling(feats))
        if self.harmony is None:
            return out
        return torch.cat([out, self.harmony(feats).to(out.dtype)], dim=-1)

    def score(self, ex: torch.Tensor, ey: torch.Tensor, symmetric: bool = True) -> torch.Tensor:
        """Scores `[Bx, By]` between embeddings `[Bx, n]` and `[By, n]`."""
        return self.similarity(ex, ey, symmetric=symmetric)

    def forward(self, wav_x: torch.Tensor, wav_y: torch.Tensor) -> torch.Tensor:
        """Score matrix `[Bx, By]` between two batches of waveforms."""
        return self.score(self.embed(wav_x), self.embed(wav_y))


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (a complex weight counts as two reals)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
