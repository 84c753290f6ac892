"""Helpers shared by the tests (import them with `from helpers import ...`; a test module
never imports `conftest` by name, which is ambiguous once tests/training/conftest.py loads)."""

from __future__ import annotations

import math

import numpy as np
import torch

from phalar_metric.config import SAMPLE_RATE, tiny_config
from phalar_metric.model import PhaLar

RATE = SAMPLE_RATE  # Hz, the model rate of tiny_config()


def synth(rate: int, seconds: float = 1.5, f0: float = 220.0, clicks: tuple[float, ...] = ()) -> np.ndarray:
    """A band-limited test signal `[samples]` (partials of `f0` + 2 kHz bursts at `clicks` s), |x| < 1.

    The same continuous-time signal at any rate >= 16 kHz (all content is below 4 kHz).
    """
    t = np.arange(int(round(seconds * rate))) / rate
    wav = sum(0.1 / k * np.sin(2 * np.pi * k * f0 * t + k) for k in range(1, 5))
    for c in clicks:
        wav = wav + 0.5 * np.exp(-0.5 * ((t - c) / 0.002) ** 2) * np.sin(2 * np.pi * 2000 * (t - c))
    return wav.astype(np.float32)


def model_with_period(period_bins: float, amplitude: float = 1.0, noise: float = 0.0, offset: float = 1.0,
                      seed: int = 0, **config: object) -> PhaLar:
    """A tiny model (`tiny_config(**config)`: 36 bins, one a semitone) in eval mode whose pooling
    projection W is `offset` plus `amplitude` times a cosine of `period_bins` along frequency
    plus `noise` times Gaussian noise (seeded)."""
    torch.manual_seed(seed)
    model = PhaLar(tiny_config(**config)).eval()
    weight = model.pooling.proj.weight
    w = weight.detach().reshape(weight.shape[0], -1, model.config.n_bins)
    f = torch.arange(w.shape[-1], dtype=torch.float32)
    planted = offset + amplitude * torch.cos(2 * math.pi * f / period_bins) + noise * torch.randn_like(w)
    weight.data.copy_(planted.reshape_as(weight))
    return model
