"""Negatives that teach what the score must mean, beyond the other pairs of a batch.

- Harmonic: the true target transposed by 1-11 semitones with its timing kept, made by
  shifting its log-magnitude CQT along frequency (`transpose_spec`, 12 bins a semitone at
  12 bins per octave; bins shifted in from outside the range get the floor, 0). The
  validity suite transposes differently (re-rendered MIDI or a real pitch shifter), so it
  measures rather than echoes this operation.
- Tempo: the true target time-stretched by a few percent about a random anchor frame
  (`stretch_spec`: linear interpolation along frames, pitch kept).
- Degenerate (`degenerate_clips`): digital silence, near-silence, white and pink noise at
  random levels, click trains at random tempi.
All of them enter the InfoNCE as extra candidate columns that are never positives.
"""

from __future__ import annotations

import numpy as np
import torch

from phalar_metric.config import PhaLarConfig

DEGENERATE_KINDS = ("silence", "quiet_noise", "white", "pink", "clicks")


def transpose_spec(spec: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """Shift each `[F, T]` spectrogram of `spec` `[B, F, T]` up by `bins[b]` frequency bins
    (down when negative); vacated bins are 0 (the front-end's floor)."""
    n_bins = spec.shape[1]
    src = torch.arange(n_bins, device=spec.device)[None, :] - bins[:, None]  # [B, F] source bin of each bin
    valid = (src >= 0) & (src < n_bins)
    out = torch.gather(spec, 1, src.clamp(0, n_bins - 1)[:, :, None].expand_as(spec))
    return out * valid[:, :, None].to(spec.dtype)


def stretch_spec(spec: torch.Tensor, rate: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
    """Time-stretch `spec` `[B, F, T]`: output frame t reads input frame
    `anchor + (t - anchor) * rate` (rate > 1: faster), linearly interpolated; frames read from
    outside the clip are 0."""
    n_frames = spec.shape[-1]
    t = torch.arange(n_frames, device=spec.device, dtype=torch.float32)[None, :]
    pos = anchor[:, None].float() + (t - anchor[:, None].float()) * rate[:, None].float()  # [B, T]
    lo = pos.floor().long()
    frac = (pos - lo.float()).to(spec.dtype)[:, None, :]

    def read(idx: torch.Tensor) -> torch.Tensor:
        inside = ((idx >= 0) & (idx < n_frames)).to(spec.dtype)[:, None, :]
        return torch.gather(spec, 2, idx.clamp(0, n_frames - 1)[:, None, :].expand_as(spec)) * inside

    return read(lo) * (1 - frac) + read(lo + 1) * frac


def semitone_bins(config: PhaLarConfig) -> int:
    """Front-end bins per semitone: 0 where a shift by whole bins is no exact semitone (a Mel
    front-end, or a CQT whose `bins_per_octave` is not a multiple of 12)."""
    if config.frontend != "cqt" or config.bins_per_octave % 12:
        return 0
    return config.bins_per_octave // 12


def draw_transpositions(rng: np.random.Generator, n: int, bins_per_semitone: int = 1) -> np.ndarray:
    """`[n]` bin shifts: ±1..11 semitones, uniform."""
    semitones = rng.integers(1, 12, size=n) * rng.choice([-1, 1], size=n)
    return semitones * bins_per_semitone


def draw_stretches(rng: np.random.Generator, n: int, n_frames: int, lo: float = 0.03,
                   hi: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
    """`[n]` rates 1 ± U(lo, hi) and `[n]` anchor frames uniform over the clip."""
    rate = 1 + rng.uniform(lo, hi, size=n) * rng.choice([-1, 1], size=n)
    return rate, rng.integers(0, n_frames, size=n)


def pink_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """`[n]` noise with a 1/f power spectrum, unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1.0))
    x = np.fft.irfft(spectrum, n=n)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def click_train(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """`[n]` clicks (2 ms decaying noise bursts) at a random tempo in 60-200 BPM from a random
    phase, accented every 4th, peak 0.5."""
    period = 60.0 / rng.uniform(60, 200) * sample_rate
    burst_len = int(0.002 * sample_rate) + 1
    burst = rng.standard_normal(burst_len) * np.exp(-np.arange(burst_len) / (burst_len / 4))
    out = np.zeros(n)
    for k, start in enumerate(np.arange(rng.uniform(0, period), n, period).astype(int)):
        seg = burst[: n - start] * (1.0 if k % 4 == 0 else 0.5)
        out[start : start + len(seg)] += seg
    return 0.5 * out / (np.abs(out).max() + 1e-12)


def degenerate_clips(rng: np.random.Generator, n: int, samples: int, sample_rate: int) -> np.ndarray:
    """`[n, samples]` float32 degenerate stems, kinds cycling through DEGENERATE_KINDS from a
    random start: silence, noise at -90..-50 dBFS RMS, white and pink noise at -40..-6 dBFS
    RMS, click trains."""
    out = np.zeros((n, samples))
    first = int(rng.integers(len(DEGENERATE_KINDS)))
    for i in range(n):
        kind = DEGENERATE_KINDS[(first + i) % len(DEGENERATE_KINDS)]
        if kind == "quiet_noise":
            out[i] = rng.standard_normal(samples) * 10 ** (rng.uniform(-90, -50) / 20)
        elif kind == "white":
            out[i] = rng.standard_normal(samples) * 10 ** (rng.uniform(-40, -6) / 20)
        elif kind == "pink":
            out[i] = pink_noise(rng, samples) * 10 ** (rng.uniform(-40, -6) / 20)
        elif kind == "clicks":
            out[i] = click_train(rng, samples, sample_rate)
    return out.astype(np.float32)
