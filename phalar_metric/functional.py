"""The metric as pure functions: embed each clip once, then score windows by matrix products.

Every function takes a `PhaLar` model and audio arguments (paths, or arrays with
`sample_rate`; see `audio.py` for validation, resampling and the windowing policy), runs the
model in eval mode under `torch.inference_mode()` in batches of `batch_size` windows, and
returns numpy values. A pair's score is the mean over time-aligned windows of the symmetric
score `Re(x^H W_h y)`, `W_h = (W + W^H) / 2`: higher = more coherent, negative = anti-phase.
A window in which the mix or the stem is below `gate.SILENCE_DBFS` (-70 dBFS RMS) scores 0,
counts in the mean, and is reported with a `SilentInputWarning`. Pair scores also check
whether the stem is a copy of the mix (`copy_check.py`, a `StemCopyWarning`).
Scores are deterministic, symmetric in mix and stem, and do not depend on what else is in
the batch, up to float32 rounding (oneDNN/cuDNN choose conv algorithms by batch size: about
1e-5 relative for the default model). Windows are cut lazily, clip by clip, so memory grows
with `batch_size`, not with the number or length of the clips.
"""

from __future__ import annotations

from numbers import Real
from typing import Iterator, NamedTuple, Sequence

import numpy as np
import torch

from .audio import AudioError, AudioInput, crop_to_shortest, iter_windows, load_audio, window_starts
from .embedding import embed_clips, embed_windows, window_score_matrix, window_scores
from .gate import gate, silent_windows
from .model import PhaLar
from .pair_score import PairScore, paired_details, warn_silence, warned


class BestOffset(NamedTuple):
    """Result of `phalar_best_offset`.

    `seconds`: the offset with the highest score; > 0 means the stem lags the mix (it is
    delayed), so advancing the stem by `seconds` aligns it.
    `scores`: `[n_shifts, 2]` rows of (offset in seconds, score).
    """

    seconds: float
    scores: np.ndarray


def phalar_embed(
    model: PhaLar,
    clips: AudioInput | Sequence[AudioInput],
    sample_rate: int | None = None,
    batch_size: int = 16,
    *,
    start: float | None = None,
    end: float | None = None,
) -> np.ndarray | list[np.ndarray]:
    """Window embeddings of one clip, or of each clip of a list.

    Args:
        model: the PhaLar model.
        clips: one clip, or a list of clips (paths, or arrays at `sample_rate`).
        sample_rate: rate of array inputs in Hz.
        batch_size: windows per model call.
        start: seconds into each clip where the embedded span starts (default 0).
        end: seconds into each clip where the span ends (default: the end).

    Returns:
        `[n_windows, n]` (n = `out_dim + harmony_dim`; complex64 for the default model) for
        one clip, or a list of such arrays for a list of clips. A window below
        `gate.SILENCE_DBFS` embeds to a zero row (it scores 0 with anything).

    Raises:
        ValueError: an invalid clip (the message names it: `clips`, `clips[2]`, ...).
    """
    if isinstance(clips, (list, tuple)):
        wavs = _load_list(clips, sample_rate, model, "clips", start, end)
        return [e.cpu().numpy() for e in embed_clips(model, wavs, batch_size)[0]]
    wav = load_audio(clips, sample_rate, model.config, "clips", start, end)
    return embed_clips(model, [wav], batch_size)[0][0].cpu().numpy()


def phalar_score(
    model: PhaLar,
    mix: AudioInput,
    stem: AudioInput,
    sample_rate: int | None = None,
    batch_size: int = 16,
    *,
    start: float | None = None,
    end: float | None = None,
) -> float:
    """The coherence score of a stem with a mix (symmetric: the roles can be swapped).

    Args:
        model: the PhaLar model.
        mix: the context (path, or array at `sample_rate`).
        stem: the candidate part (path, or array at `sample_rate`).
        sample_rate: rate of array inputs in Hz.
        batch_size: windows per model call.
        start: seconds into both clips where the scored span starts (default 0; a file is
            read from there without loading the rest).
        end: seconds into both clips where the span ends (default: the end).

    Returns:
        The mean over time-aligned windows of the symmetric score; higher = more coherent.
        Windows where either input is silent score 0 (with a `SilentInputWarning`).

    Raises:
        ValueError: an invalid `mix` or `stem` (the message names it).
    """
    return warned(phalar_score_details(model, mix, stem, sample_rate, batch_size, start=start, end=end)).score


def phalar_score_details(
    model: PhaLar,
    mix: AudioInput,
    stem: AudioInput,
    sample_rate: int | None = None,
    batch_size: int = 16,
    *,
    start: float | None = None,
    end: float | None = None,
) -> PairScore:
    """`phalar_score` with its per-window scores, the silent windows and the warnings (not emitted).

    Args:
        model: the PhaLar model.
        mix: the context (path, or array at `sample_rate`).
        stem: the candidate part (path, or array at `sample_rate`).
        sample_rate: rate of array inputs in Hz.
        batch_size: windows per model call.
        start: seconds into both clips where the scored span starts (default 0; a file is
            read from there without loading the rest).
        end: seconds into both clips where the span ends (default: the end).

    Returns:
        A `PairScore` (`probability` None).

    Raises:
        ValueError: an invalid `mix` or `stem` (the message names it).
    """
    mix_wav, stem_wav = _load_pair(model, mix, stem, sample_rate, start, end)
    return paired_details(model, [mix_wav], [stem_wav], [("mix", "stem")], batch_size)[0]


def phalar_paired_scores(
    model: PhaLar,
    mixes: Sequence[AudioInput],
    stems: Sequence[AudioInput],
    sample_rate: int | None = None,
    batch_size: int = 16,
) -> np.ndarray:
    """Scores of `mixes[i]` with `stems[i]` for each i (the diagonal of `phalar_score_matrix`).

    Args:
        model: the PhaLar model.
        mixes: list of B clips.
        stems: list of B clips.
        sample_rate: rate of array inputs in Hz.
        batch_size: windows per model call.

    Returns:
        Scores `[B]` float32, each equal to `phalar_score(model, mixes[i], stems[i])`.

    Raises:
        ValueError: the lists differ in length or hold an invalid clip (named: `stems[3]`).
    """
    details = phalar_paired_details(model, mixes, stems, sample_rate, batch_size)
    return np.array([warned(d).score for d in details], dtype=np.float32)


def phalar_paired_details(
    model: PhaLar,
    mixes: Sequence[AudioInput],
    stems: Sequence[AudioInput],
    sample_rate: int | None = None,
    batch_size: int = 16,
) -> list[PairScore]:
    """`phalar_paired_scores` as a `PairScore` per pair (warnings returned, not emitted).

    Raises:
        ValueError: the lists differ in length or hold an invalid clip (named: `stems[3]`).
    """
    mix_wavs = _load_list(mixes, sample_rate, model, "mixes")
    stem_wavs = _load_list(stems, sample_rate, model, "stems")
    if len(mix_wavs) != len(stem_wavs):
        raise AudioError(
            f"Arguments `mixes` and `stems` expected the same number of clips, got {len(mix_wavs)} and {len(stem_wavs)}"
        )
    names = [(f"mixes[{i}]", f"stems[{i}]") for i in range(len(mix_wavs))]
    return paired_details(model, mix_wavs, stem_wavs, names, batch_size)


def phalar_score_matrix(
    model: PhaLar,
    mixes: Sequence[AudioInput],
    stems: Sequence[AudioInput],
    sample_rate: int | None = None,
    batch_size: int = 16,
) -> np.ndarray:
    """Scores of every mix with every stem, embedding each clip once.

    When clip lengths differ, all clips are cut to the shortest (with a warning) so that
    the windows stay time-aligned; for equal lengths `matrix[i, j] == phalar_score(...)`.
    The silence gate applies per pair of windows: window w of mix i and stem j scores 0
    when either is silent.

    Args:
        model: the PhaLar model.
        mixes: list of N clips.
        stems: list of M clips.
        sample_rate: rate of array inputs in Hz.
        batch_size: windows per model call.

    Returns:
        Scores `[N, M]`, float32.

    Raises:
        ValueError: an invalid clip (named: `mixes[3]`).
    """
    mix_wavs = _load_list(mixes, sample_rate, model, "mixes")
    stem_wavs = _load_list(stems, sample_rate, model, "stems")
    names = [f"mixes[{i}]" for i in range(len(mix_wavs))] + [f"stems[{j}]" for j in range(len(stem_wavs))]
    wavs = crop_to_shortest(mix_wavs + stem_wavs, names, model.config.sample_rate)
    emb, silent = embed_clips(model, wavs, batch_size)
    warn_silence(names, silent)
    emb = torch.stack(emb)  # [N + M, W, n]
    n = len(mix_wavs)
    return window_score_matrix(model, emb[:n], emb[n:]).cpu().numpy()


def phalar_score_curve(
    model: PhaLar,
    mix: AudioInput,
    stem: AudioInput,
    sample_rate: int | None = None,
    hop_seconds: float = 1.0,
    batch_size: int = 16,
    *,
    start: float | None = None,
    end: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The score over time: one model window every `hop_seconds`.

    Args:
        model: the PhaLar model.
        mix: the context clip.
        stem: the candidate clip.
        sample_rate: rate of array inputs in Hz.
        hop_seconds: seconds between window starts (windows overlap when shorter than
            `config.window_seconds`; a tail shorter than a hop is left out).
        batch_size: windows per model call.
        start: seconds into both clips where the scored span starts (default 0; a file is
            read from there without loading the rest).
        end: seconds into both clips where the span ends (default: the end).

    Returns:
        `(times, scores)`, both `[n]`: the window centres in seconds from the span's start,
        and the symmetric score of each window (0 where the mix or the stem is silent).

    Raises:
        ValueError: an invalid `mix`, `stem` or `hop_seconds`.
    """
    rate = model.config.sample_rate
    hop = _positive_samples(hop_seconds, rate, "hop_seconds")
    mix_wav, stem_wav = _load_pair(model, mix, stem, sample_rate, start, end)
    (ex, ey), silent = embed_clips(model, [mix_wav, stem_wav], batch_size, hop)  # [n, dim] each
    warn_silence(("mix", "stem"), silent)
    scores = window_scores(model, ex, ey).cpu().numpy()
    starts = np.array(window_starts(len(mix_wav), model.config.window_samples, hop))
    return (starts + model.config.window_samples / 2) / rate, scores


def phalar_best_offset(
    model: PhaLar,
    mix: AudioInput,
    stem: AudioInput,
    sample_rate: int | None = None,
    max_shift: float = 1.0,
    step: float | None = None,
    batch_size: int = 16,
    *,
    start: float | None = None,
    end: float | None = None,
) -> BestOffset:
    """The time offset of the stem against the mix that scores highest.

    Each candidate offset `o` advances the stem by `o` seconds (zeros fill in; the clip
    length is kept) and scores it against the mix; the shifted stems are embedded in batches.
    The silence gate applies to every shifted window; among equal best scores (e.g. all 0
    for a silent stem) the offset nearest 0 wins.

    Args:
        model: the PhaLar model.
        mix: the context clip.
        stem: the candidate clip.
        sample_rate: rate of array inputs in Hz.
        max_shift: largest offset tried, in seconds, both ways.
        step: offset grid in seconds (rounded to whole samples at the model rate); default
            one front-end hop, `hop_length / config.sample_rate`.
        batch_size: windows per model call.
        start: seconds into both clips where the scored span starts (default 0; a file is
            read from there without loading the rest).
        end: seconds into both clips where the span ends (default: the end).

    Returns:
        `BestOffset(seconds, scores)`: the best offset (> 0: the stem is delayed) and all
        `[n_shifts, 2]` (offset seconds, score) rows.

    Raises:
        ValueError: an invalid `mix`, `stem`, `max_shift` or `step`.
    """
    config = model.config
    step_samples = config.hop_length if step is None else _positive_samples(step, config.sample_rate, "step")
    if not isinstance(max_shift, Real) or not 0 <= max_shift < float("inf"):
        raise ValueError(f"Argument `max_shift` expected a finite number of seconds >= 0, got {max_shift!r}")
    k = int(round(max_shift * config.sample_rate)) // step_samples
    offsets = np.arange(-k, k + 1) * step_samples
    mix_wav, stem_wav = _load_pair(model, mix, stem, sample_rate, start, end)
    warn_silence(("mix", "stem"), [silent_windows(w, config) for w in (mix_wav, stem_wav)])
    ex = embed_clips(model, [mix_wav], batch_size)[0][0][None]  # [1, W, n]
    silent: list[np.ndarray] = []  # [W] per shift, filled as the shifted stems are cut (lazily)

    def shifted() -> Iterator[np.ndarray]:
        for o in offsets:
            wav = _advance(stem_wav, int(o))
            silent.append(silent_windows(wav, config))
            yield from iter_windows(wav, config)

    ey = embed_windows(model, shifted(), batch_size)
    ey = gate(ey, np.concatenate(silent)).reshape(len(offsets), ex.shape[1], -1)  # [n_shifts, W, n]
    scores = window_score_matrix(model, ex, ey)[0].cpu().numpy()  # [n_shifts]
    table = np.stack([offsets / config.sample_rate, scores], axis=1)
    best = np.flatnonzero(scores == scores.max())
    return BestOffset(float(table[best[np.argmin(np.abs(offsets[best]))], 0]), table)


def _load_pair(
    model: PhaLar,
    mix: AudioInput,
    stem: AudioInput,
    sample_rate: int | None,
    start: float | None = None,
    end: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load the span `[start, end)` of `mix` and `stem` and cut them to their common length."""
    wavs = [load_audio(a, sample_rate, model.config, n, start, end) for a, n in ((mix, "mix"), (stem, "stem"))]
    mix_wav, stem_wav = crop_to_shortest(wavs, ("mix", "stem"), model.config.sample_rate)
    return mix_wav, stem_wav


def _load_list(
    clips: Sequence[AudioInput],
    sample_rate: int | None,
    model: PhaLar,
    name: str,
    start: float | None = None,
    end: float | None = None,
) -> list[np.ndarray]:
    """Load (the span `[start, end)` of) a non-empty list of clips, naming each `name[i]` in errors."""
    if not isinstance(clips, (list, tuple)):
        raise AudioError(f"Argument `{name}` expected a list of clips, got {type(clips).__name__}")
    if not clips:
        raise AudioError(f"Argument `{name}` is an empty list")
    return [load_audio(c, sample_rate, model.config, f"{name}[{i}]", start, end) for i, c in enumerate(clips)]


def _positive_samples(seconds: object, rate: int, name: str) -> int:
    """A positive duration in seconds as a whole number (>= 1) of samples at `rate`."""
    if not isinstance(seconds, Real) or not 0 < seconds < float("inf") or round(seconds * rate) < 1:
        raise ValueError(f"Argument `{name}` expected a positive number of seconds (>= 1 sample), got {seconds!r}")
    return int(round(seconds * rate))


def _advance(wav: np.ndarray, k: int) -> np.ndarray:
    """`out[t] = wav[t + k]`, zeros outside the clip; same length (k < 0 delays)."""
    out = np.zeros_like(wav)
    if k >= 0:
        out[: max(len(wav) - k, 0)] = wav[k:]
    else:
        out[-k:] = wav[: max(len(wav) + k, 0)]
    return out
