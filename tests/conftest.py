"""Shared fixtures: a tiny random PhaLar, its checkpoint folder, and synthetic music at 16 kHz
(`helpers.synth`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import RATE, synth

from phalar_metric import PhaLar, PhaLarScore, save_pretrained
from phalar_metric.config import tiny_config

torch.set_num_threads(1)  # the test machine is small and shared


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
