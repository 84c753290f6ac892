"""Front-end: waveform -> log-magnitude spectrogram in [0, 1], `[B, F, T]`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from nnAudio.features import CQT2010v2, MelSpectrogram
from nnAudio.utils import get_cqt_complex
from torch import nn

from .config import PhaLarConfig


def _make_buffers_non_persistent(module: nn.Module) -> None:
    """Keep fixed kernels out of state_dict: they are rebuilt at init, never stored."""
    for sub in module.modules():
        sub._non_persistent_buffers_set.update(name for name, _ in sub.named_buffers(recurse=False))


class StridedLowpass(nn.Module):
    """`conv1d(x, taps, stride=stride, padding=(len(taps) - 1) // 2)` on one channel, as one matmul.

    nnAudio downsamples with that 1-channel conv, which is slow on CPU. Here the padded signal is cut
    into overlapping windows of `block` outputs, each multiplied by a fixed banded matrix whose
    column j holds the taps shifted by `stride * j`: the same products, with exact zeros in between.
    """

    def __init__(self, taps: torch.Tensor, stride: int, block: int = 64) -> None:
        super().__init__()
        taps = taps.flatten()
        self.n_taps, self.stride, self.block = taps.numel(), stride, block
        self.pad = (self.n_taps - 1) // 2
        window = stride * (block - 1) + self.n_taps  # input samples behind `block` outputs
        matrix = torch.zeros(window, block, dtype=taps.dtype)
        for j in range(block):
            matrix[stride * j : stride * j + self.n_taps, j] = taps
        self.register_buffer("matrix", matrix, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`x` `[B, samples]` -> `[B, (samples + 2 * pad - n_taps) // stride + 1]`."""
        n_out = (x.shape[-1] + 2 * self.pad - self.n_taps) // self.stride + 1
        if n_out < 1:
            raise ValueError(f"StridedLowpass needs at least {self.n_taps - 2 * self.pad} samples, got {x.shape[-1]}")
        # one spare block of right padding so the windows cover every output; the excess is cut
        x = F.pad(x, (self.pad, self.pad + self.stride * self.block))
        windows = x.unfold(-1, self.matrix.shape[0], self.stride * self.block)  # [B, blocks, window]
        return (windows @ self.matrix).flatten(-2)[..., :n_out]


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
        self.is_cqt = config.frontend == "cqt"
        if self.is_cqt:
            self.spec = CQT2010v2(
                sr=config.sample_rate,
                hop_length=config.hop_length,
                fmin=config.fmin,
                n_bins=config.n_bins,
                bins_per_octave=config.bins_per_octave,
                output_format="Magnitude",
                verbose=False,
            )
            # nnAudio's low-pass filters, applied by the fast equivalent of its strided conv1d
            self.early_lowpass = (
                StridedLowpass(self.spec.early_downsample_filter, self.spec.downsample_factor)
                if self.spec.earlydownsample
                else None
            )
            self.halve = StridedLowpass(self.spec.lowpass_filter, 2)
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
        # float32 even under autocast (the dB scale of quiet bins needs it); TF32 on CUDA is not excluded
        with torch.autocast(wav.device.type, enabled=False):
            # CQT2010v2's early downsampling rounds the length up: drop the frame past the end it can add
            mag = self.magnitude(wav.float())[..., : wav.shape[-1] // self.hop_length + 1]
        peak = mag.amax(dim=(1, 2), keepdim=True).clamp_min(1e-30)
        # the floor is relative to the peak (top_db below it), so quiet clips keep gain invariance
        db = 20.0 * torch.log10((mag / peak).clamp_min(10.0 ** (-self.top_db / 20.0)))
        return (db / self.top_db + 1.0).clamp_min(0.0)

    def magnitude(self, wav: torch.Tensor) -> torch.Tensor:
        """`wav` `[B, samples]` -> linear magnitude `[B, F, frames]`, frames untrimmed.

        The CQT is `CQT2010v2.forward` (Magnitude, librosa normalisation) step for step, with its
        kernels and buffers; only its downsampling conv1d runs as `StridedLowpass`.
        """
        if wav.ndim != 2:
            raise ValueError(f"Frontend expects `wav` of shape [batch, samples], got {tuple(wav.shape)}")
        if not self.is_cqt:
            return self.spec(wav)
        spec = self.spec
        x = wav if self.early_lowpass is None else self.early_lowpass(wav)
        kernels, hop = (spec.cqt_kernels_real, spec.cqt_kernels_imag), spec.hop_length
        octaves = []  # complex `[B, bins_per_octave, frames, 2]`, lowest octave first
        for octave in range(spec.n_octaves):
            if octave:
                x, hop = self.halve(x), hop // 2
            octaves.insert(0, get_cqt_complex(x[:, None], *kernels, hop, spec.padding))
        cqt = torch.cat(octaves, 1)[:, -spec.n_bins :] * spec.downsample_factor
        cqt = cqt * torch.sqrt(spec.lenghts.view(-1, 1, 1))
        return torch.sqrt(cqt.pow(2).sum(-1))
