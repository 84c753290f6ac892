"""Embed each audio file once, score pairs from the cached embeddings, store them in `.npz` files.

A stored embeddings file (`save_embeddings`) is an `.npz` with one complex64 array
`[n_windows, out_dim]` per clip under the clip's path as written (`np.load(f)["mix.wav"]`),
plus `__paths__` and `__samples__`: each clip's length in samples at the model rate, so that
a pair is scored from embeddings only when its two clips have the same windows. Silent
windows (below `gate.SILENCE_DBFS`) are stored as zero rows, so they stay gated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .audio import load_audio
from .functional import PairScore, pair_score, window_scores
from .gate import silent_rows
from .manifest import resolve

PATHS_KEY = "__paths__"
SAMPLES_KEY = "__samples__"


@dataclass
class Embedding:
    """The window embeddings `[n_windows, out_dim]` of one clip of `samples` samples at the model rate."""

    windows: np.ndarray
    samples: int


class EmbeddingCache:
    """Embeddings of audio files by path, each file embedded at most once.

    Args:
        metric: the `PhaLarScore` that embeds and scores.
        folder: relative paths are read from this folder (a manifest's folder).
        stored: embeddings already computed (`load_embeddings`), looked up by the path as
            written before any audio is read.
    """

    def __init__(self, metric: Any, folder: Path = Path("."), stored: dict[str, Embedding] | None = None) -> None:
        self.metric = metric
        self.folder = folder
        self.stored = stored or {}
        self._cache: dict[str, Embedding | Exception] = {}

    def get(self, value: Any, name: str = "audio") -> Embedding:
        """The embedding of the clip at path `value` (a failure to load it is raised again on every call).

        Args:
            value: the path as written (relative to `folder`).
            name: the argument's name in error messages.

        Raises:
            ValueError: the path is empty or the audio cannot be used.
        """
        key = value if isinstance(value, str) else repr(value)
        if key in self.stored:
            return self.stored[key]
        if key not in self._cache:
            try:
                wav = load_audio(resolve(value, self.folder), None, self.metric.model.config, name)
                windows = self.metric.embed(wav, sample_rate=self.metric.sample_rate)
                self._cache[key] = Embedding(windows, len(wav))
            except ValueError as err:
                self._cache[key] = err
        found = self._cache[key]
        if isinstance(found, Exception):
            raise found
        return found

    def score(self, mix: Any, stem: Any) -> float:
        """The PhaLar score of the clips at paths `mix` and `stem` (as `PhaLarScore.score`).

        Raises:
            ValueError: a path is empty or its audio cannot be used.
        """
        return self.details(mix, stem).score

    def details(self, mix: Any, stem: Any) -> PairScore:
        """The `PairScore` of the clips at paths `mix` and `stem` (as `PhaLarScore.score_details`).

        Clips of equal length are scored from their cached embeddings (the silent windows
        are their zero rows); for clips of different lengths (both cut to the shorter one)
        the audio is read and scored again.

        Raises:
            ValueError: a path is empty or its audio cannot be used.
        """
        ex, ey = self.get(mix, "mix"), self.get(stem, "stem")
        if ex.samples != ey.samples:
            return self.metric.score_details(resolve(mix, self.folder), resolve(stem, self.folder))
        device = next(self.metric.model.parameters()).device
        x, y = (torch.from_numpy(e.windows).to(device) for e in (ex, ey))
        scores = window_scores(self.metric.model, x, y).cpu().numpy()
        return pair_score(scores, silent_rows(ex.windows), silent_rows(ey.windows))


def save_embeddings(path: Path, embeddings: dict[str, Embedding]) -> None:
    """Write `embeddings` (by path, in order) to the `.npz` file `path` (any file name)."""
    keys = list(embeddings)
    arrays = {k: embeddings[k].windows for k in keys}
    with path.open("wb") as f:
        np.savez(
            f,
            **arrays,
            **{PATHS_KEY: np.array(keys, dtype=str), SAMPLES_KEY: np.array([embeddings[k].samples for k in keys])},
        )


def load_embeddings(path: Path) -> dict[str, Embedding]:
    """Read a file written by `save_embeddings`.

    Raises:
        ValueError: the file is not such an embeddings file.
        OSError: the file cannot be read.
    """
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz file")
        with z:
            keys, samples = z[PATHS_KEY].tolist(), z[SAMPLES_KEY].tolist()
            return {k: Embedding(z[k], int(n)) for k, n in zip(keys, samples)}
    except (KeyError, ValueError) as err:
        raise ValueError(f"{path} is not a PhaLar embeddings file (`phalar embed -o FILE.npz`): {err}") from None
