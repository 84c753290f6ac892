"""The copy check: is the stem (nearly) the mix itself, or a scaled, time-aligned part of it?

A generator that leaks its input returns the mix, or a filtered or scaled piece of it, as
the "stem"; PhaLar would score such a stem at the top, since it is perfectly coherent. The
check looks at the waveforms, not at the embeddings: a copy is *phase-locked* to the mix.

"Nearly" is defined by the in-phase coherence of the two short-time spectra (Hann window
of `N_FFT` = 1024 samples, hop `HOP` = 256, at the 16 kHz model rate):

    C = |Re sum_tf M(t, f) S*(t, f)| / sum_tf |M(t, f)| |S(t, f)|      in [0, 1]

A copy is `stem = g * mix` or `g * (a part of the mix)` with a real gain g of either sign,
time-aligned: then M S* is real (phase 0, or pi for g < 0) in every bin the stem fills, and
C = 1 for the whole mix at any gain or sign. For a part, M = S + O: the stem's share adds
up in phase while the rest adds up with random phase, so C stays high where the stem is
prominent. Independent music, even when coherent, has phases unrelated to the mix's (two
tones at one pitch keep a constant but arbitrary phase difference, which the real part
discounts), and C is small. A delay turns the phase with frequency, so only time-aligned
copies count. The stem is reported as a copy when C >= `COPY_COHERENCE` = 0.5.

Measured by `python -m evaluation.copy_threshold` on 5 s windows of the val render, 179 songs
(docs/results/copy_threshold_val.md): a stem inside the mix it came from scores below 0.5 in
1.9% of 738 cases (quiet parts under loud ones); a stem against the rest of its own song
(not a copy) reaches 0.5 in 0.7% (parts doubled in unison with the same sound, which the
waveform cannot tell from a leak); stems of other songs never did. On the bundled example a
copy 4 samples (0.25 ms) late no longer counts. The score itself is not changed: the check
only warns. `score_matrix` and `score_curve` do not run it (check a chosen pair).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

COPY_COHERENCE = 0.5
N_FFT = 1024  # samples at the model rate (64 ms)
HOP = 256  # samples (16 ms)
_FRAMES_PER_CHUNK = 1024  # bounds memory for long clips: ~4 MB of spectra per signal at a time


class StemCopyWarning(UserWarning):
    """The stem looks like a copy of the mix, or a time-aligned part of it (a leaked input)."""


def copy_coherence(mix: np.ndarray, stem: np.ndarray) -> float:
    """The in-phase coherence C in [0, 1] of two clips (see the module docstring).

    Args:
        mix: `[samples]` at the model rate.
        stem: `[samples]` at the model rate; both are cut to the shorter length.

    Returns:
        C; 0.0 when either clip is digital silence.
    """
    n = min(len(mix), len(stem))
    frames = [sliding_window_view(np.pad(x[:n], (0, max(0, N_FFT - n))), N_FFT)[::HOP] for x in (mix, stem)]
    window = np.hanning(N_FFT).astype(np.float32)
    cross, magnitude = 0j, 0.0
    for i in range(0, len(frames[0]), _FRAMES_PER_CHUNK):
        m, s = (np.fft.rfft(f[i : i + _FRAMES_PER_CHUNK] * window) for f in frames)
        cross += np.sum(m * s.conj())
        magnitude += float(np.sum(np.abs(m) * np.abs(s)))
    return abs(cross.real) / magnitude if magnitude > 0 else 0.0


def copy_warning(coherence: float, names: tuple[str, str] = ("mix", "stem")) -> StemCopyWarning | None:
    """A `StemCopyWarning` when `coherence` >= `COPY_COHERENCE`, else None."""
    if coherence < COPY_COHERENCE:
        return None
    mix, stem = names
    return StemCopyWarning(
        f"`{stem}` looks like a copy of `{mix}` or a time-aligned part of it (in-phase coherence "
        f"{coherence:.2f} >= {COPY_COHERENCE:g}): a generator that leaked its input scores at the top"
    )
