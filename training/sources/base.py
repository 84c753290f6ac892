"""The song interface every data source provides to the sampler and the evaluation."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from phalar_metric.config import SAMPLE_RATE  # every source delivers stems at this rate


class Song(ABC):
    """A multi-track song: stems readable window by window at `SAMPLE_RATE`.

    Attributes:
        name: unique id, e.g. "procedural/00012" or "slakh/Track00001".
        source: the data source ("procedural", "corpus", "moisesdb", "slakh", "cocochorales").
        stem_names: one name per stem, in `read()` order.
        num_samples: length in samples at `SAMPLE_RATE`.
        beats: ground-truth beat times in seconds, where the source has them (else None).
        is_drum: per stem, whether it is unpitched percussion, where the source knows (else None).
    """

    name: str
    source: str
    stem_names: list[str]
    num_samples: int
    beats: list[float] | None = None
    is_drum: list[bool] | None = None

    @abstractmethod
    def read(self, start: int, length: int) -> np.ndarray:
        """Stems `[n_stems, length]` float32 from sample `start`, zero-padded past the end."""

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.num_samples / SAMPLE_RATE


def pad_to(audio: np.ndarray, length: int) -> np.ndarray:
    """Zero-pad (or crop) `[..., n]` to `[..., length]` along the last axis."""
    if audio.shape[-1] >= length:
        return audio[..., :length]
    pad = [(0, 0)] * (audio.ndim - 1) + [(0, length - audio.shape[-1])]
    return np.pad(audio, pad)
