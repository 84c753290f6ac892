"""Helpers shared by the tests (import them with `from helpers import ...`; a test module
never imports `conftest` by name, which is ambiguous once tests/training/conftest.py loads)."""

from __future__ import annotations

import numpy as np

from phalar_metric.config import SAMPLE_RATE

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
