"""Negatives that teach what the score must mean, beyond the other pairs of a batch.

- Harmonic: the true target transposed by 1-11 semitones with its timing kept, made by
  reading the front-end's bins shifted along frequency out of a CQT that reaches
  MAX_SEMITONES further down and up (`TransposedCQT`): the bins shifted in hold the clip's
  real content beyond the front-end's range. (Weights 0.2.0 were trained with the CQT itself
  shifted and the vacated bins at the floor: an empty edge band that a network could detect
  without hearing harmony; 0.2.0 scores both kinds of transposed target alike: `ood` pitch
  check 0.715 with the old operation, 0.691 with this one, docs/training.md.) The validity
  suite transposes differently (re-rendered MIDI or a real pitch shifter), so it measures
  rather than echoes this operation.
- Tempo: the true target time-stretched by a few percent about a random anchor frame
  (`stretch_spec`: linear interpolation along frames, pitch kept).
- Offset: the true target moved by 50-600 ms, earlier or later, the gap filled with silence
  (`offset_clips`, the operation of examples/stem_shifted.flac): ranked below its true target
  by the InfoNCE and, with the trainer's `offset_rank_weight`, above other songs' targets (it
  keeps the song's harmony and tempo).
- Not a negative: with `draw_pair_shifts`, a share of the pairs move whole (context and target
  by one interval), so that a transposed spectrogram is no cue by itself; only the interval
  between target and context is.
- Degenerate (`degenerate_clips`): digital silence, near-silence, white and pink noise at
  random levels, click trains at random tempi (noise clicks and, as an opt-in kind, pitched
  tone bursts of random pitch, length and level: `tone_clicks`).
All of them enter the InfoNCE as extra candidate columns that are never positives.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from phalar_metric.config import PhaLarConfig
from phalar_metric.frontend import Frontend, unit_db

DEGENERATE_KINDS = ("silence", "quiet_noise", "white", "pink", "clicks")  # the trainer's default
OPTIONAL_DEGENERATE_KINDS = ("tone_clicks",)


MAX_SEMITONES = 11  # harmonic negatives transpose by 1..MAX_SEMITONES semitones, up or down


def semitone_bins(config: PhaLarConfig) -> int:
    """Front-end bins per semitone: 0 where a shift by whole bins is no exact semitone (a Mel
    front-end, or a CQT whose `bins_per_octave` is not a multiple of 12)."""
    if config.frontend != "cqt" or config.bins_per_octave % 12:
        return 0
    return config.bins_per_octave // 12


class TransposedCQT(nn.Module):
    """Waveforms -> the front-end's spectrogram of each clip transposed by whole bins.

    The front-end of a config widened by `margin` bins at each end (its lowest bin `margin`
    bins below `config.fmin`; `PhaLarConfig` checks that its top bin lies below the Nyquist
    frequency) gives a linear magnitude that is cropped to `config.n_bins`, shifted by each
    clip's bins, then scaled as the front-end scales (`unit_db`). With a shift of 0 the result
    matches the front-end's output (tests/training/test_negatives.py). Needs a CQT front-end
    whose bins per octave are a multiple of 12 (`semitone_bins`).
    """

    def __init__(self, config: PhaLarConfig, max_semitones: int = MAX_SEMITONES) -> None:
        super().__init__()
        per_semitone = semitone_bins(config)
        if per_semitone == 0:
            raise ValueError("TransposedCQT needs a CQT front-end with a multiple of 12 bins per octave, got "
                             f"frontend={config.frontend!r}, bins_per_octave={config.bins_per_octave}")
        self.margin, self.n_bins = max_semitones * per_semitone, config.n_bins
        self.frontend = Frontend(dataclasses.replace(
            config, fmin=config.fmin * 2.0 ** (-self.margin / config.bins_per_octave),
            n_bins=config.n_bins + 2 * self.margin))

    def forward(self, wav: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
        """`wav` `[B, samples]`, `bins` `[B]` (up when positive) -> `[B, n_bins, frames]` in [0, 1],
        as `Frontend.forward` gives for the clip transposed by `bins[b]` bins."""
        return self.crop(self.magnitude(wav), bins)

    def magnitude(self, wav: torch.Tensor) -> torch.Tensor:
        """`wav` `[B, samples]` -> the widened CQT's linear magnitude `[B, n_bins + 2 margin, frames]`."""
        return self.frontend.linear(wav)

    def crop(self, mag: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
        """`magnitude`'s `[B, n_bins + 2 margin, frames]`, `bins` `[B]` (|bins| <= margin) -> the
        spectrograms `[B, n_bins, frames]` in [0, 1] shifted up by `bins[b]` bins."""
        if bins.numel() and int(bins.abs().max()) > self.margin:
            raise ValueError(f"TransposedCQT shifts by at most {self.margin} bins, got {int(bins.abs().max())}")
        src = torch.arange(self.n_bins, device=mag.device)[None, :] - bins[:, None] + self.margin  # [B, F]
        with torch.autocast(mag.device.type, enabled=False):
            return unit_db(torch.gather(mag.float(), 1, src[:, :, None].expand(-1, -1, mag.shape[-1])),
                           self.frontend.top_db)


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


SMALL_SEMITONES = 2  # the intervals `draw_transpositions` favours with `small_p`: ±1..2 semitones


def interval_probabilities(weights: list[float]) -> np.ndarray:
    """`[MAX_SEMITONES]` probabilities of the intervals 1..MAX_SEMITONES semitones from their
    `weights`; ValueError unless there are MAX_SEMITONES non-negative weights with a positive sum."""
    w = np.asarray(weights, dtype=float)
    if w.shape != (MAX_SEMITONES,) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"`weights` must be {MAX_SEMITONES} non-negative numbers (intervals 1..{MAX_SEMITONES} "
                         f"semitones) with a positive sum, got {list(weights)}")
    return w / w.sum()


def draw_transpositions(rng: np.random.Generator, n: int, bins_per_semitone: int = 1,
                        small_p: float = 0.0, weights: list[float] | None = None) -> np.ndarray:
    """`[n]` bin shifts of ±1..MAX_SEMITONES semitones, the sign uniform: with probability
    `small_p` uniform over ±1..SMALL_SEMITONES (the intervals hardest to hear), otherwise over
    all of them, uniform or in proportion to `weights` (MAX_SEMITONES non-negative numbers, one
    per interval 1..MAX_SEMITONES: the intervals a model confuses most can be drawn more)."""
    if not 0.0 <= small_p <= 1.0:
        raise ValueError(f"`small_p` must be in [0, 1], got {small_p}")
    if weights:  # draws nothing else when empty: the same shifts as before `weights` existed
        sizes = rng.choice(np.arange(1, MAX_SEMITONES + 1), size=n, p=interval_probabilities(weights))
    else:
        sizes = rng.integers(1, MAX_SEMITONES + 1, size=n)
    semitones = sizes * rng.choice([-1, 1], size=n)
    if small_p > 0:  # draws nothing more when 0: the same shifts as before `small_p` existed
        small = rng.random(n) < small_p
        semitones[small] = np.sign(semitones[small]) * rng.integers(1, SMALL_SEMITONES + 1, size=int(small.sum()))
    return semitones * bins_per_semitone


PAIR_SEMITONES = 5  # whole pairs transpose by ±1..PAIR_SEMITONES semitones


def draw_pair_shifts(rng: np.random.Generator, b: int, p: float, pitch_idx: np.ndarray, pitch_bins: np.ndarray,
                     bins_per_semitone: int) -> tuple[np.ndarray, np.ndarray]:
    """`[b]` bin shifts, ±1..PAIR_SEMITONES semitones for a share `p` of the pairs (else 0), and
    `pitch_bins` with the sign of a transposed target flipped where its pair's shift plus its
    own would pass MAX_SEMITONES (the widened CQT's reach; the interval between the target and
    its context is kept)."""
    shift = rng.integers(1, PAIR_SEMITONES + 1, size=b) * rng.choice([-1, 1], size=b) * (rng.random(b) < p)
    shift = shift * bins_per_semitone
    total = shift[pitch_idx] + pitch_bins
    flipped = np.where(np.abs(total) > MAX_SEMITONES * bins_per_semitone, -pitch_bins, pitch_bins)
    return shift, flipped


def draw_stretches(rng: np.random.Generator, n: int, n_frames: int, lo: float = 0.03,
                   hi: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
    """`[n]` rates 1 ± U(lo, hi) and `[n]` anchor frames uniform over the clip."""
    rate = 1 + rng.uniform(lo, hi, size=n) * rng.choice([-1, 1], size=n)
    return rate, rng.integers(0, n_frames, size=n)


def offset_clips(rng: np.random.Generator, targets: np.ndarray, n: int, sample_rate: int, lo: float = 0.05,
                 hi: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """`n` of the `[B, samples]` targets (rows drawn without replacement, n <= B), each moved by
    U(lo, hi) seconds, later or earlier at random, the vacated samples silent: (`[n, samples]`
    float32 clips, `[n]` their rows)."""
    rows = rng.choice(len(targets), size=n, replace=False)
    lags = (rng.uniform(lo, hi, size=n) * sample_rate).astype(int) * rng.choice([-1, 1], size=n)
    out = np.zeros((n, targets.shape[1]), np.float32)
    for i, (row, lag) in enumerate(zip(rows, lags)):
        out[i] = delay(targets[row], lag)
    return out, rows


def rms(x: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """Root mean square over `axis` (every sample by default, a float), float64 accumulation:
    `[N, samples]` with `axis=1` -> `[N]`."""
    out = np.sqrt(np.mean(np.square(x, dtype=np.float64), axis=axis))
    return float(out) if axis is None else out


def delay(x: np.ndarray, k: int) -> np.ndarray:
    """`out[t] = x[t - k]`, zeros outside the clip; same length (k > 0 delays, zeros in front;
    k < 0 advances, zeros at the end)."""
    padded = np.pad(x, (max(k, 0), max(-k, 0)))
    return padded[max(-k, 0) : max(-k, 0) + len(x)]


def pink_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """`[n]` noise with a 1/f power spectrum, unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1.0))
    x = np.fft.irfft(spectrum, n=n)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def _metronome(rng: np.random.Generator, burst: np.ndarray, n: int, period: float) -> np.ndarray:
    """`[n]` float64: `burst` every `period` samples from a random phase in [0, period), every
    4th at full level and the rest at half, overlapping bursts added."""
    out = np.zeros(n)
    for k, start in enumerate(np.arange(rng.uniform(0, period), n, period).astype(int)):
        seg = burst[: n - start] * (1.0 if k % 4 == 0 else 0.5)
        out[start : start + len(seg)] += seg
    return out


def click_train(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """`[n]` float64 clicks (2 ms decaying noise bursts) at a random tempo in 60-200 BPM from a
    random phase, accented every 4th, peak 0.5."""
    period = 60.0 / rng.uniform(60, 200) * sample_rate
    burst_len = int(0.002 * sample_rate) + 1
    burst = rng.standard_normal(burst_len) * np.exp(-np.arange(burst_len) / (burst_len / 4))
    out = _metronome(rng, burst, n, period)
    return 0.5 * out / (np.abs(out).max() + 1e-12)


def tone_clicks(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """`[n]` float64, a metronome of pitched bursts: a sine of 200-4000 Hz (log-uniform), 5-40 ms
    long, decaying exponentially (time constant a fifth of the length), at a random tempo in
    40-240 BPM from a random phase, accented every 4th, RMS -40..-10 dBFS."""
    period = 60.0 / rng.uniform(40, 240) * sample_rate
    t = np.arange(int(rng.uniform(0.005, 0.04) * sample_rate) + 1) / sample_rate
    burst = np.sin(2 * np.pi * np.exp(rng.uniform(np.log(200), np.log(4000))) * t) * np.exp(-5 * t / t[-1])
    out = _metronome(rng, burst, n, period)
    return out / (np.sqrt(np.mean(out**2)) + 1e-12) * 10 ** (rng.uniform(-40, -10) / 20)


def degenerate_kinds(spec: str) -> tuple[str, ...]:
    """The kinds named in a comma-separated `spec` (e.g. "silence,white,tone_clicks"); raises
    ValueError naming any kind that is not in DEGENERATE_KINDS or OPTIONAL_DEGENERATE_KINDS."""
    kinds = tuple(spec.split(","))
    unknown = sorted(set(kinds) - set(DEGENERATE_KINDS + OPTIONAL_DEGENERATE_KINDS))
    if unknown:
        raise ValueError(f"unknown degenerate kinds {unknown} in {spec!r}: the kinds are "
                         f"{DEGENERATE_KINDS + OPTIONAL_DEGENERATE_KINDS}")
    return kinds


def degenerate_clips(rng: np.random.Generator, n: int, samples: int, sample_rate: int,
                     kinds: str = ",".join(DEGENERATE_KINDS)) -> np.ndarray:
    """`[n, samples]` float32 degenerate stems, the `kinds` (`degenerate_kinds`) in turn from a
    random start: silence, noise at -90..-50 dBFS RMS, white and pink noise at -40..-6 dBFS RMS,
    click trains (`click_train`) and tone bursts (`tone_clicks`)."""
    names = degenerate_kinds(kinds)
    out = np.zeros((n, samples))
    first = int(rng.integers(len(names)))
    for i in range(n):
        kind = names[(first + i) % len(names)]
        if kind == "quiet_noise":
            out[i] = rng.standard_normal(samples) * 10 ** (rng.uniform(-90, -50) / 20)
        elif kind == "white":
            out[i] = rng.standard_normal(samples) * 10 ** (rng.uniform(-40, -6) / 20)
        elif kind == "pink":
            out[i] = pink_noise(rng, samples) * 10 ** (rng.uniform(-40, -6) / 20)
        elif kind == "clicks":
            out[i] = click_train(rng, samples, sample_rate)
        elif kind == "tone_clicks":
            out[i] = tone_clicks(rng, samples, sample_rate)
    return out.astype(np.float32)
