"""`PairScore`: one (mix, stem) pair's score with its windows and warnings, and how pairs are scored.

A pair is scored window by window (time-aligned, after cutting both to the common length);
its score is the mean over windows, where a window in which either input is silent scores 0
(`gate.py`), and the pair is checked for a copy of the mix (`copy_check.py`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from .audio import crop_to_shortest
from .copy_check import copy_coherence, copy_warning
from .embedding import embed_clips, window_scores
from .gate import SilentInputWarning, silence_message
from .model import PhaLar


@dataclass(frozen=True)
class PairScore:
    """The score of one (mix, stem) pair with what went into it.

    `score`: the mean of `window_scores` (float). `window_scores`: `[W]` the symmetric score
    of each time-aligned window (0 where gated). `silent`: `[W]` bool, the windows gated
    because the mix or the stem is below `gate.SILENCE_DBFS`. `warnings`: the warnings
    about this pair (`SilentInputWarning`, `StemCopyWarning`), as instances. `probability`: the
    calibrated score in [0, 1], or None when not computed (see `calibration.py`).
    """

    score: float
    window_scores: np.ndarray
    silent: np.ndarray
    warnings: tuple[Warning, ...] = field(default=())
    probability: float | None = None

    @property
    def windows(self) -> int:
        """The number of windows scored."""
        return len(self.window_scores)

    @property
    def silent_windows(self) -> int:
        """The number of windows that scored 0 because an input was silent."""
        return int(self.silent.sum())


def pair_score(
    window_scores: np.ndarray,
    mix_silent: np.ndarray,
    stem_silent: np.ndarray,
    coherence: float | None,
    names: tuple[str, str] = ("mix", "stem"),
) -> PairScore:
    """The `PairScore` of a pair.

    Args:
        window_scores: `[W]` the score of each window.
        mix_silent: `[W]` bool, the silent windows of the mix.
        stem_silent: `[W]` bool, the silent windows of the stem.
        coherence: the pair's `copy_check.copy_coherence`, or None when the audio was not at hand.
        names: the two inputs' names in warnings.
    """
    message = silence_message(names, [mix_silent, stem_silent])
    found = [
        None if message is None else SilentInputWarning(message),
        None if coherence is None else copy_warning(coherence, names),
    ]
    return PairScore(
        score=float(window_scores.mean()),
        window_scores=window_scores,
        silent=mix_silent | stem_silent,
        warnings=tuple(w for w in found if w is not None),
    )


def paired_details(
    model: PhaLar,
    mix_wavs: Sequence[np.ndarray],
    stem_wavs: Sequence[np.ndarray],
    names: Sequence[tuple[str, str]],
    batch_size: int,
) -> list[PairScore]:
    """A `PairScore` per aligned pair, each pair cut to its common length."""
    rate = model.config.sample_rate
    pairs = [crop_to_shortest(pair, name, rate) for pair, name in zip(zip(mix_wavs, stem_wavs), names)]
    emb, silent = embed_clips(model, [w for pair in pairs for w in pair], batch_size)  # mix 0, stem 0, mix 1, ...
    per_window = window_scores(model, torch.cat(emb[::2]), torch.cat(emb[1::2])).cpu().numpy()
    bounds = np.cumsum([len(e) for e in emb[::2]])[:-1]
    return [
        pair_score(scores, silent[2 * i], silent[2 * i + 1], copy_coherence(*pairs[i]), tuple(names[i]))
        for i, scores in enumerate(np.split(per_window, bounds))
    ]


def warned(details: PairScore) -> PairScore:
    """Emit the warnings of `details` (from the caller's caller); return it."""
    for warning in details.warnings:
        warnings.warn(warning, stacklevel=4)
    return details


def warn_silence(names: Sequence[str], silent: Sequence[np.ndarray]) -> None:
    """A `SilentInputWarning` naming the inputs with silent windows, if any."""
    message = silence_message(names, silent)
    if message is not None:
        warnings.warn(SilentInputWarning(message), stacklevel=3)
