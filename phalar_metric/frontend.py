"""Front-end: waveform -> log-magnitude spectrogram in [0, 1], `[B, F, T]`."""

from __future__ import annotations

import torch
from nnAudio.features import CQT2010v2, MelSpectrogram
from torch import nn

from .config import PhaLarConfig


def _make_buffers_non_persistent(module: nn.Module) -> None:
    """Keep fixed kernels out of state_dict: they are rebuilt at init, never stored."""
    for sub in module.modules():
        sub._non_persistent_buffers_set.update(name for name, _ in sub.named_buffers(recurse=False))


class Frontend(nn.Module):
    """CQT (default) or Mel magnitude, in dB relative to the clip's peak, scaled to [0, 1].

    Input `[B, samples]` float at `config.sample_rate`; output `[B, n_bins, frames]` with
    `frames = samples // hop_length + 1`. The per-clip peak reference makes the output
    invariant to input gain; digital silence maps to 0 (the floor) and stays finite.
    """

    def __init__(self, config: PhaLarConfig) -> None:
        super().__init__()
        self.top_db = config.top_db
        self.hop_length = config.hop_length
        if config.frontend == "cqt":
            self.spec = CQT2010v2(
                sr=config.sample_rate,
                hop_length=config.hop_length,
                fmin=config.fmin,
                n_bins=config.n_bins,
                bins_per_octave=config.bins_per_octave,
                output_format="Magnitude",
                verbose=False,
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
        _make_buffers_non_persistent(self.spec)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """`wav` `[B, samples]` -> log-magnitude `[B, F, T]` in [0, 1]."""
        # CQT2010v2's early downsampling rounds the length up: drop the frame past the end it can add
        mag = self.spec(wav.float())[..., : wav.shape[-1] // self.hop_length + 1]
        peak = mag.amax(dim=(1, 2), keepdim=True).clamp_min(1e-30)
        # the floor is relative to the peak (top_db below it), so quiet clips keep gain invariance
        db = 20.0 * torch.log10((mag / peak).clamp_min(10.0 ** (-self.top_db / 20.0)))
        return (db / self.top_db + 1.0).clamp_min(0.0)
