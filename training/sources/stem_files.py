"""Songs stored as one audio file (or several, summed) per stem: the real multi-track corpora.

Files are read window by window (soundfile's `start`/`frames`), mixed to mono (mean of the
channels) and resampled to 16 kHz with the metric's resampler (`phalar_metric.audio.resample`)
where their rate differs.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import soundfile as sf

from phalar_metric.audio import resample, resample_ratio

from .base import SAMPLE_RATE, Song, pad_to

MARGIN = 64  # extra output samples read on each side so the resampling filter sees real context


def resampled_length(path: Path) -> int:
    """Length of an audio file in samples at SAMPLE_RATE (as a whole-file `resample_poly` gives)."""
    info = sf.info(str(path))
    up, down = resample_ratio(info.samplerate, SAMPLE_RATE)
    return -(-info.frames * up // down)


def read_mono(path: Path, start: int, length: int) -> np.ndarray:
    """`[length]` float32 mono at SAMPLE_RATE from output sample `start`, zero-padded past the end.

    Matches resampling the whole file, up to float rounding: the span read starts on a
    boundary where input and output samples coincide and has MARGIN samples either side.
    """
    with sf.SoundFile(str(path)) as f:
        rate = f.samplerate
        up, down = resample_ratio(rate, SAMPLE_RATE)
        first = max(0, start - MARGIN) // up * up  # an output sample that falls on an input sample
        frames = -(-(start + length + MARGIN - first) * down // up)
        f.seek(min(first // up * down, f.frames))  # past the end: reads nothing, padded below
        audio = f.read(frames, dtype="float32", always_2d=True).mean(axis=1)
    return pad_to(resample(audio, rate, SAMPLE_RATE)[start - first :], length)


class StemFilesSong(Song):
    """A song whose stem `i` is the sum of the audio files `stem_files[i]` (any rate, any channels).

    Args:
        name: unique id, e.g. "slakh/Track00001".
        source: the corpus name.
        stem_names: one name per stem.
        stem_files: per stem, the files summed into it.
    """

    def __init__(self, name: str, source: str, stem_names: list[str], stem_files: list[list[Path]]) -> None:
        if len(stem_names) != len(stem_files) or not all(stem_files):
            raise ValueError(f"{name}: every stem needs at least one file")
        self.name, self.source = name, source
        self.stem_names, self.stem_files = stem_names, stem_files

    @cached_property
    def num_samples(self) -> int:  # read on first use: indexing a large corpus stays cheap
        return max(resampled_length(p) for files in self.stem_files for p in files)

    def read(self, start: int, length: int) -> np.ndarray:
        return np.stack([sum(read_mono(p, start, length) for p in files) for files in self.stem_files])
