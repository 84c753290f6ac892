"""Degraded versions of a stem for the validity suite: signal operations on `[samples]` clips.

All clips are float32 at 16 kHz (`SAMPLE_RATE`), full scale = 1.0. Levels in dBFS are RMS
levels relative to full scale, `20 log10(rms)` (a full-scale sine reads -3 dBFS).
The zero-filled time shift is `training.negatives.delay` (the trainer's offset negatives use it
too); `np.roll` is the circular shift.
- `white_noise`, `pink_noise` (power ∝ 1/f, DC removed): Gaussian noise at a given RMS.
- `click_train`: 20 ms decaying 1.5 kHz bursts (a metronome) at a tempo, the first at 0 s.
- `pitch_shift`, `time_stretch`: librosa's phase-vocoder pitch shifter (tempo kept) and time
  stretcher (pitch kept), for sources without notes to re-render.
"""

from __future__ import annotations

import librosa
import numpy as np

from training.negatives import rms
from training.sources.base import SAMPLE_RATE

CLICK_SECONDS, CLICK_HZ, CLICK_DECAY = 0.02, 1500.0, 0.004  # burst length, tone, decay time (s)


def white_noise(rng: np.random.Generator, n: int, level: float) -> np.ndarray:
    """`[n]` Gaussian white noise with RMS `level`."""
    noise = rng.standard_normal(n)
    return (noise * level / rms(noise)).astype(np.float32)


def pink_noise(rng: np.random.Generator, n: int, level: float) -> np.ndarray:
    """`[n]` Gaussian noise with power ∝ 1/f (DC removed) and RMS `level`."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0.0
    noise = np.fft.irfft(spectrum, n=n)
    return (noise * level / rms(noise)).astype(np.float32)


def click_train(n: int, bpm: float, level: float, rate: int = SAMPLE_RATE) -> np.ndarray:
    """`[n]` metronome clicks at `bpm` beats per minute from 0 s, scaled to RMS `level`."""
    t = np.arange(int(CLICK_SECONDS * rate)) / rate
    click = np.sin(2 * np.pi * CLICK_HZ * t) * np.exp(-t / CLICK_DECAY)
    out = np.zeros(n)
    for at in np.arange(0, n, 60.0 / bpm * rate).astype(int):
        out[at : at + len(click)] += click[: n - at]
    return (out * level / rms(out)).astype(np.float32)


def pitch_shift(x: np.ndarray, semitones: float) -> np.ndarray:
    """`x` `[samples]` transposed by `semitones`, tempo kept (librosa phase vocoder + resampling)."""
    return librosa.effects.pitch_shift(x.astype(np.float32), sr=SAMPLE_RATE, n_steps=semitones)


def time_stretch(x: np.ndarray, tempo: float, length: int) -> np.ndarray:
    """`x` `[samples]` played `tempo` times as fast, pitch kept (librosa phase vocoder), cut or
    zero-padded to `length` samples; give `x` at least `length * tempo` samples."""
    out = librosa.effects.time_stretch(x.astype(np.float32), rate=tempo)
    return np.pad(out, (0, max(length - len(out), 0)))[:length]
