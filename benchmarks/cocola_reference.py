"""A COCOLA-style coherence model, as published, to time PhaLar against (random weights).

COCOLA (Ciranni et al., ICASSP 2025, arXiv 2404.16969; the authors' code,
gladia-research-group/cocola, read for facts only):
- audio at 16 kHz; `librosa.stft` with n_fft 1024, win_length 400 (periodic Hann, zero-padded
  to 1024 and centred), hop 160, `center=True` with constant (zero) padding (librosa 0.10):
  501 frames for 5 s;
- harmonic-percussive separation by `librosa.decompose.hpss` with its defaults (median
  filters of 31 frames along time / 31 bins along frequency, soft masks with power 2), run in
  numpy on the CPU (COCOLA calls it clip by clip; here one call per batch, the same filters);
- per component a 64-band mel power spectrogram (librosa's Slaney mel filters, 60-7800 Hz)
  in dB with `power_to_db(ref=np.max)` (top_db 80), stacked as two channels `[2, 64, 501]`;
- EfficientNet-B0 (`efficientnet_pytorch`, `include_top=False`, `in_channels=2`) with its
  global average pooling, a linear projection 1280 -> 512, LayerNorm, tanh;
- the bilinear score `x W y^T` with W `[512, 512]` initialised N(0, 0.05^2).
This module computes the STFT, the mel filterbank and the dB scaling in torch (the same maths
as librosa, batched; tests/test_cocola_reference.py checks it against librosa) and keeps
librosa's HPSS, as COCOLA does. Weights are random: only the cost is measured.
"""

from __future__ import annotations

import librosa
import numpy as np
import torch
from efficientnet_pytorch import EfficientNet
from torch import nn

from phalar_metric.config import SAMPLE_RATE  # COCOLA's rate too: both embed the same 16 kHz clips

N_FFT, WIN_LENGTH, HOP_LENGTH = 1024, 400, 160  # samples
N_MELS, F_MIN, F_MAX = 64, 60.0, 7800.0  # mel bands, Hz
TOP_DB = 80.0  # dB, librosa's power_to_db default
AMIN = 1e-10  # power floor of power_to_db
FEATURES = 1280  # EfficientNet-B0 channels after global average pooling


class CocolaStyle(nn.Module):
    """COCOLA-style encoder and bilinear score.

    `embed(wav)`: `[B, samples]` float at 16 kHz -> `[B, embed_dim]` in (-1, 1).
    `score(x, y)`: `[Bx, By]` bilinear scores `x W y^T`.
    """

    def __init__(self, embed_dim: int = 512) -> None:
        super().__init__()
        mel = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=F_MIN, fmax=F_MAX)
        self.register_buffer("mel_basis", torch.from_numpy(mel), persistent=False)  # [64, 513]
        self.register_buffer("window", torch.hann_window(WIN_LENGTH), persistent=False)
        self.encoder = EfficientNet.from_name("efficientnet-b0", in_channels=2, include_top=False)
        self.projection = nn.Linear(FEATURES, embed_dim)
        self.norm = nn.LayerNorm(embed_dim)
        self.weight = nn.Parameter(torch.randn(embed_dim, embed_dim) * 0.05)

    def features(self, wav: torch.Tensor) -> torch.Tensor:
        """`[B, samples]` at 16 kHz -> harmonic and percussive log-mel `[B, 2, 64, frames]` in dB (max 0)."""
        spec = torch.stft(
            wav.float(), N_FFT, HOP_LENGTH, WIN_LENGTH, self.window, center=True, pad_mode="constant",
            return_complex=True,
        ).abs()  # [B, 513, frames]
        harmonic, percussive = librosa.decompose.hpss(spec.cpu().numpy())  # magnitudes, numpy, CPU
        power = torch.from_numpy(np.stack([harmonic, percussive], axis=1)).to(wav.device).square()
        return power_to_db(self.mel_basis @ power)  # [B, 2, 64, frames]

    def embed(self, wav: torch.Tensor) -> torch.Tensor:
        """`[B, samples]` at 16 kHz -> embeddings `[B, embed_dim]` (LayerNorm, then tanh)."""
        pooled = self.encoder(self.features(wav)).flatten(1)  # [B, 1280]
        return torch.tanh(self.norm(self.projection(pooled)))

    def score(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Bilinear scores `[Bx, By]` between embeddings `x` `[Bx, n]` and `y` `[By, n]`."""
        return x @ self.weight @ y.transpose(0, 1)


def power_to_db(power: torch.Tensor) -> torch.Tensor:
    """`librosa.power_to_db(S, ref=np.max)` of each `[F, T]` map of `power` `[..., F, T]`."""
    db = 10.0 * torch.log10(power.clamp_min(AMIN))
    return (db - db.amax(dim=(-2, -1), keepdim=True)).clamp_min(-TOP_DB)  # ref = the map's max, so max = 0 dB


def count_parameters(model: CocolaStyle) -> dict[str, int]:
    """Parameters of the model, in all and by part (encoder, projection + LayerNorm, score W)."""
    parts = {
        "encoder": model.encoder,
        "projection": nn.ModuleList([model.projection, model.norm]),
    }
    counts = {name: sum(p.numel() for p in part.parameters()) for name, part in parts.items()}
    counts["score"] = model.weight.numel()
    counts["total"] = sum(p.numel() for p in model.parameters())
    return counts
