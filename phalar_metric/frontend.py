"""Front-end: waveform -> log-magnitude spectrogram in [0, 1], `[B, F, T]`."""

from __future__ import annotations

import torch
from nnAudio.features import MelSpectrogram
from torch import nn

from .config import PhaLarConfig
from .nnaudio_cqt import FastCQT2010v2, make_buffers_non_persistent


def n_frames(samples: int, hop_length: int) -> int:
    """Frames of the front-end's output for a clip of `samples` samples (centred frames)."""
    return samples // hop_length + 1


def unit_db(mag: torch.Tensor, top_db: float) -> torch.Tensor:
    """Linear magnitude `[B, F, T]` -> dB relative to each clip's peak, `top_db` below it mapped
    to 0 and the peak to 1. The floor is relative to the peak, so quiet clips keep gain
    invariance; digital silence maps to 0."""
    peak = mag.amax(dim=(1, 2), keepdim=True).clamp_min(1e-30)
    db = 20.0 * torch.log10((mag / peak).clamp_min(10.0 ** (-top_db / 20.0)))
    return (db / top_db + 1.0).clamp_min(0.0)


class Frontend(nn.Module):
    """CQT (default) or Mel magnitude, in dB relative to the clip's peak, scaled to [0, 1].

    Input `[B, samples]` float at `config.sample_rate`; output `[B, n_bins, frames]` with
    `frames = n_frames(samples, hop_length)`. The per-clip peak reference makes the output
    invariant to input gain; digital silence maps to 0 (the floor) and stays finite.
    """

    def __init__(self, config: PhaLarConfig) -> None:
        super().__init__()
        self.top_db = config.top_db
        self.hop_length = config.hop_length
        self.is_cqt = config.frontend == "cqt"
        if self.is_cqt:
            self.spec = FastCQT2010v2(
                config.sample_rate, config.hop_length, config.fmin, config.n_bins, config.bins_per_octave,
                config.filter_scale,
            )
        else:
            self.spec = MelSpectrogram(
                sr=config.sample_rate,
                n_fft=config.n_fft,
                n_mels=config.n_bins,
                hop_length=config.hop_length,
                fmin=config.fmin,
                fmax=config.sample_rate / 2,
                power=1.0,
                trainable_mel=False,
                trainable_STFT=False,
                verbose=False,
            )
            make_buffers_non_persistent(self.spec)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """`wav` `[B, samples]` -> log-magnitude `[B, F, T]` in [0, 1]."""
        return unit_db(self.linear(wav), self.top_db)

    def linear(self, wav: torch.Tensor) -> torch.Tensor:
        """`wav` `[B, samples]` -> linear magnitude `[B, F, T]` in float32, `T = n_frames(samples)`."""
        # float32 even under autocast (the dB scale of quiet bins needs it); TF32 on CUDA is not excluded
        with torch.autocast(wav.device.type, enabled=False):
            # CQT2010v2's early downsampling rounds the length up: drop the frame past the end it can add
            return self.magnitude(wav.float())[..., : n_frames(wav.shape[-1], self.hop_length)]

    def magnitude(self, wav: torch.Tensor) -> torch.Tensor:
        """`wav` `[B, samples]` -> linear magnitude `[B, F, frames]`, frames untrimmed (the CQT
        through `FastCQT2010v2.fast_magnitude`)."""
        if wav.ndim != 2:
            raise ValueError(f"Frontend expects `wav` of shape [batch, samples], got {tuple(wav.shape)}")
        return self.spec.fast_magnitude(wav) if self.is_cqt else self.spec(wav)
