"""Shared fixtures: a tiny random PhaLar, its checkpoint folder, and synthetic music at 16 kHz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from phalar_metric import PhaLar, PhaLarScore, save_pretrained
from phalar_metric.config import tiny_config

torch.set_num_threads(1)  # the test machine is small and shared

RATE = 16000  # Hz, the model rate of tiny_config()


def synth(rate: int, seconds: float = 1.5, f0: float = 220.0, clicks: tuple[float, ...] = ()) -> np.ndarray:
    """A band-limited test signal `[samples]` (partials of `f0` + 2 kHz bursts at `clicks` s), |x| < 1.

    The same continuous-time signal at any rate >= 16 kHz (all content is below 4 kHz).
    """
    t = np.arange(int(round(seconds * rate))) / rate
    wav = sum(0.1 / k * np.sin(2 * np.pi * k * f0 * t + k) for k in range(1, 5))
    for c in clicks:
        wav = wav + 0.5 * np.exp(-0.5 * ((t - c) / 0.002) ** 2) * np.sin(2 * np.pi * 2000 * (t - c))
    return wav.astype(np.float32)


@pytest.fixture(scope="session")
def tiny_model() -> PhaLar:
    """A tiny random PhaLar (`tiny_config()`: 1 s windows), seeded, in eval mode."""
    torch.manual_seed(0)
    return PhaLar(tiny_config()).eval()


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_model: PhaLar, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny fixture checkpoint: `tiny_model` written with `save_pretrained`."""
    return save_pretrained(tiny_model, tmp_path_factory.mktemp("tiny_checkpoint"))


@pytest.fixture
def metric(tiny_checkpoint: Path) -> PhaLarScore:
    """`PhaLarScore` on the tiny fixture checkpoint."""
    return PhaLarScore.from_pretrained(tiny_checkpoint)


@pytest.fixture(scope="session")
def mix() -> np.ndarray:
    """A 1.5 s "mix" at 16 kHz: a 110 Hz tone with clicks."""
    return synth(RATE, f0=110.0, clicks=(0.2, 0.45, 0.7, 1.1))


@pytest.fixture(scope="session")
def stem() -> np.ndarray:
    """A 1.5 s "stem" at 16 kHz: a 330 Hz tone with clicks."""
    return synth(RATE, f0=330.0, clicks=(0.2, 0.7, 1.3))
