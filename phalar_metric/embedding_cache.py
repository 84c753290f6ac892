"""Embed each audio file once, score pairs from the cached embeddings, store them in `.npz` files.

A stored embeddings file (`save_embeddings`) is an `.npz` with one complex64 array
`[n_windows, n]` (n = `out_dim + harmony_dim`) per clip under the clip's path as written
(`np.load(f)["mix.wav"]`), plus `__paths__`, `__samples__` (each clip's length in samples at
the model rate, so that a pair is scored from embeddings only when its two clips have the
same windows) and `__provenance__` (JSON: `phalar_version`, `weights_sha256` and the model
`config`; a file is scored only by a model with the same weights and config). Silent windows
(below `gate.SILENCE_DBFS`) are stored as zero rows, so they stay gated.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .audio import load_audio
from .copy_check import copy_coherence
from .embedding import window_scores
from .pair_score import PairScore, pair_score
from .gate import silent_rows
from .manifest import resolve

PATHS_KEY = "__paths__"
SAMPLES_KEY = "__samples__"
PROVENANCE_KEY = "__provenance__"


@dataclass
class Embedding:
    """The window embeddings `[n_windows, n]` of one clip of `samples` samples at the model rate."""

    windows: np.ndarray
    samples: int


Span = tuple[float | None, float | None]  # (start, end) seconds; None: the clip's beginning / end
WHOLE: Span = (None, None)


class EmbeddingCache:
    """Embeddings of audio files (or spans of them) by path, each embedded at most once.

    The audio of the last `WAV_CACHE` clips read is kept for the copy check of a pair
    (`copy_check.py`); a clip that has left it is read again, not embedded again.

    Args:
        metric: the `PhaLarScore` that embeds and scores.
        folder: relative paths are read from this folder (a manifest's folder).
        stored: embeddings already computed (`load_embeddings`), looked up by the path as
            written before any audio is read (whole clips only); pairs scored from them skip
            the copy check.
    """

    WAV_CACHE = 4

    def __init__(self, metric: Any, folder: Path = Path("."), stored: dict[str, Embedding] | None = None) -> None:
        self.metric = metric
        self.folder = folder
        self.stored = stored or {}
        self._cache: dict[tuple[str, Span], Embedding | Exception] = {}
        self._wavs: OrderedDict[tuple[str, Span], np.ndarray] = OrderedDict()

    def get(self, value: Any, name: str = "audio", span: Span = WHOLE) -> Embedding:
        """The embedding of the clip at path `value` (a failure to load it is raised again on every call).

        Args:
            value: the path as written (relative to `folder`).
            name: the argument's name in error messages.
            span: `(start, end)` seconds of the clip to embed (`WHOLE`: all of it).

        Raises:
            ValueError: the path is empty, the audio cannot be used or the span is invalid.
        """
        key = (_key(value), span)
        if span == WHOLE and key[0] in self.stored:
            return self.stored[key[0]]
        if key not in self._cache:
            try:
                wav = self.audio(value, name, span)
                windows = self.metric.embed(wav, sample_rate=self.metric.sample_rate)
                self._cache[key] = Embedding(windows, len(wav))
            except ValueError as err:
                self._cache[key] = err
        found = self._cache[key]
        if isinstance(found, Exception):
            raise found
        return found

    def audio(self, value: Any, name: str = "audio", span: Span = WHOLE) -> np.ndarray:
        """The clip (span) at path `value` as `[samples]` at the model rate (kept for the next few calls).

        Raises:
            ValueError: the path is empty, the audio cannot be used or the span is invalid.
        """
        key = (_key(value), span)
        if key not in self._wavs:
            config = self.metric.model.config
            self._wavs[key] = load_audio(resolve(value, self.folder), None, config, name, *span)
            while len(self._wavs) > self.WAV_CACHE:
                self._wavs.popitem(last=False)
        self._wavs.move_to_end(key)
        return self._wavs[key]

    def score(self, mix: Any, stem: Any) -> float:
        """The PhaLar score of the clips at paths `mix` and `stem` (as `PhaLarScore.score`).

        Raises:
            ValueError: a path is empty or its audio cannot be used.
        """
        return self.details(mix, stem).score

    def details(self, mix: Any, stem: Any, span: Span = WHOLE) -> PairScore:
        """The `PairScore` of the clips at paths `mix` and `stem` (as `PhaLarScore.score_details`,
        with its probability when the metric is calibrated).

        Clips of equal length are scored from their cached embeddings (the silent windows
        are their zero rows) and checked for a copy on their audio (not for stored
        embeddings); clips of different lengths (both cut to the shorter one) are read and
        scored again.

        Args:
            mix: the mix's path as written.
            stem: the stem's path as written.
            span: `(start, end)` seconds of both clips to score (`WHOLE`: all of them).

        Raises:
            ValueError: a path is empty, its audio cannot be used or the span is invalid.
        """
        ex, ey = self.get(mix, "mix", span), self.get(stem, "stem", span)
        if ex.samples != ey.samples:
            start, end = span
            return self.metric.score_details(
                resolve(mix, self.folder), resolve(stem, self.folder), start=start, end=end
            )
        device = next(self.metric.model.parameters()).device
        x, y = (torch.from_numpy(e.windows).to(device) for e in (ex, ey))
        scores = window_scores(self.metric.model, x, y).cpu().numpy()
        stored = span == WHOLE and (_key(mix) in self.stored or _key(stem) in self.stored)
        audio = None if stored else (self.audio(mix, "mix", span), self.audio(stem, "stem", span))
        coherence = None if audio is None else copy_coherence(*audio)
        details = pair_score(scores, silent_rows(ex.windows), silent_rows(ey.windows), coherence)
        return self.metric.with_probability(details)


def _key(value: Any) -> str:
    """The cache key of a path as written."""
    return value if isinstance(value, str) else repr(value)


def save_embeddings(path: Path, embeddings: dict[str, Embedding], provenance: dict[str, Any]) -> None:
    """Write `embeddings` (by path, in order) and their `provenance` to the `.npz` file `path` (any name).

    Args:
        path: the output file.
        embeddings: the clips' embeddings by path as written.
        provenance: what made them (`embedding_provenance`), stored as JSON under `__provenance__`.
    """
    keys = list(embeddings)
    arrays = {k: embeddings[k].windows for k in keys}
    with path.open("wb") as f:
        np.savez(
            f,
            **arrays,
            **{
                PATHS_KEY: np.array(keys, dtype=str),
                SAMPLES_KEY: np.array([embeddings[k].samples for k in keys]),
                PROVENANCE_KEY: np.array(json.dumps(provenance)),
            },
        )


def embedding_provenance(metric: Any) -> dict[str, Any]:
    """What an embeddings file depends on: the metric's `provenance` and its model config."""
    return {**metric.provenance, "config": metric.model.config.to_dict()}


def load_embeddings(path: Path, expected: dict[str, Any] | None = None) -> dict[str, Embedding]:
    """Read a file written by `save_embeddings`.

    Args:
        path: the `.npz` file.
        expected: if given, the `embedding_provenance` of the metric that will score them:
            a file made with other weights (`weights_sha256`) or another `config` is refused.

    Raises:
        ValueError: the file is not such an embeddings file, or does not match `expected`
            (the message names both weights and the config keys that differ).
        OSError: the file cannot be read.
    """
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz file")
        with z:
            keys, samples = z[PATHS_KEY].tolist(), z[SAMPLES_KEY].tolist()
            stored = json.loads(str(z[PROVENANCE_KEY])) if PROVENANCE_KEY in z.files else None
            embeddings = {k: Embedding(z[k], int(n)) for k, n in zip(keys, samples)}
    except (KeyError, ValueError) as err:
        raise ValueError(f"{path} is not a PhaLar embeddings file (`phalar embed -o FILE.npz`): {err}") from None
    if expected is not None:
        _check_provenance(path, stored, expected)
    return embeddings


def _check_provenance(path: Path, stored: dict[str, Any] | None, expected: dict[str, Any]) -> None:
    """Raise `ValueError` unless `stored` was made with the weights and config of `expected`."""
    if stored is None:
        raise ValueError(
            f"{path} has no provenance (written before phalar-metric stored it): its weights are unknown; "
            f"embed the clips again (model weights {expected['weights_sha256']})"
        )
    config_diff = [
        f"{k}: {stored['config'].get(k)!r} vs {v!r}" for k, v in expected["config"].items() if stored["config"].get(k) != v
    ]
    if stored["weights_sha256"] != expected["weights_sha256"] or config_diff:
        config = f"; config differs ({', '.join(config_diff)})" if config_diff else ""
        raise ValueError(
            f"{path} was made with weights {stored['weights_sha256']} (phalar {stored['phalar_version']}), "
            f"but the model scoring it has weights {expected['weights_sha256']} "
            f"(phalar {expected['phalar_version']}){config}: embed the clips again with this model, "
            "or score with the model that embedded them"
        )
