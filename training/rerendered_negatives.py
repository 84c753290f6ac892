"""Harmonic negatives made as a real transposition sounds: re-rendered from the notes.

The trainer's own harmonic negatives crop a widened CQT (`negatives.TransposedCQT`): every
stem moves, drums and each sound's spectral envelope too. A model can learn to hear that and
not the harmony: trained on them, run cp2 beat crop-transposed targets at ±4 semitones 7.6
points more often than 0.3.0 does, real transpositions 4.1 points more often; every model hears
a moved drum stem by crop far better than by re-render (docs/results/transposition_gap.md).
Here a pair's target stems are re-rendered from `notes.json` (`training.rerender`, the same
soundfont and program per stem, as the validity suite's pitch rows): once as they are, which
replaces the pair's target, and once per interval with the pitched stems transposed (drums
kept). All of them are mixed stem by stem with one augmentation draw (`sampler.mix` from one
seed), so the true target and its transposed copies differ by the transposition alone, not by
how they were made.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .rerender import WindowRenderer, fit_gain, has_notes
from .sampler import Augment, Batch, mix
from .sources.base import Song


class RerenderedNegatives:
    """Re-renders chosen pairs' targets, as they are and transposed.

    Args:
        augment: the sampler's augmentation (None: clean sums), applied alike to a target and
            its transposed copies.
        renderer: a `WindowRenderer` (default: FluidSynth's, made on first use).
    """

    def __init__(self, augment: Augment | None, renderer: WindowRenderer | None = None) -> None:
        self.augment, self._renderer = augment, renderer

    def target_and_copies(self, rng: np.random.Generator, song: Song, start: int, stems: np.ndarray,
                          length: int, semitones: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The target (`stems` of `song` over `[start, start + length)` samples) re-rendered,
        `[length]`, and re-rendered with its pitched stems moved by each of `semitones`,
        `[len(semitones), length]`; float32, at the cache's level (`fit_gain` over the stems'
        sum), each mixed by `mix` with the same draw of `rng`."""
        if self._renderer is None:
            self._renderer = WindowRenderer()

        plain = np.stack([self._renderer.render(song, [i], start, length) for i in stems])
        moving = [k for k, i in enumerate(stems) if song.is_drum is None or not song.is_drum[i]]

        def moved(shift: int) -> np.ndarray:  # drums never move: their plain render is reused
            out = plain.copy()
            for k in moving:
                out[k] = self._renderer.render(song, [stems[k]], start, length, semitones=shift)
            return out

        gain = np.float32(fit_gain(plain.sum(0), song.read(start, length)[stems].sum(0)))
        seed = int(rng.integers(2**63))
        target = mix(np.random.default_rng(seed), gain * plain, self.augment)
        copies = [mix(np.random.default_rng(seed), gain * moved(int(s)), self.augment) for s in semitones]
        return target, np.stack(copies).astype(np.float32)

    def apply(self, rng: np.random.Generator, batch: Batch, n_pairs: int,
              semitones: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Re-render the targets of up to `n_pairs` of `batch`'s pitched pairs whose songs have
        notes (drawn without replacement; `batch.target` is replaced in place), each with
        `semitones.shape[1]` transposed copies (row k of `semitones` `[n_pairs, copies]` for the
        k-th chosen pair). Returns the copies `[P * copies, samples]` and, per copy, its pair's
        row `[P * copies]` (P <= n_pairs: fewer where fewer pairs qualify)."""
        eligible = [i for i, (song, _, _) in enumerate(batch.windows) if batch.pitched[i] and has_notes(song)]
        chosen = np.sort(rng.permutation(eligible)[:n_pairs]) if eligible else np.zeros(0, int)
        copies, rows = [], []
        length = batch.target.shape[1]
        for k, i in enumerate(chosen):
            song, start, stems = batch.windows[i]
            batch.target[i], moved = self.target_and_copies(rng, song, start, stems, length, semitones[k])
            copies.append(moved)
            rows += [i] * len(moved)
        if not copies:
            return np.zeros((0, length), np.float32), np.zeros(0, int)
        return np.concatenate(copies), np.array(rows)
