"""Online positive pairs: two disjoint sub-mixes of one song over the same time window.

The stems active in a window are split at random into a non-empty context (the mix) and a
disjoint non-empty target (the stem). Other pairs of the batch are the negatives; a share
of each batch comes in groups of windows from the same song with the same split (same
tempo, key and instruments, different time): hard negatives that only alignment separates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from .sources.base import SAMPLE_RATE, Song

ACTIVE_DB = -50.0  # a stem is active in a window if its RMS is above this (dBFS) ...
RELATIVE_DB = -35.0  # ... and within this of the loudest stem of the window


@dataclass
class Augment:
    """Per-stem gain in dB (uniform in ±gain_db) and, with probability `humanise_p`, a per-stem
    timing offset of up to ±humanise_ms; on the sum, each with its probability: a random smooth
    EQ (`random_eq`, ±eq_db) for timbres the soundfonts lack, reverb from a synthetic room
    impulse (`room_reverb`), a low-pass at 4-8 kHz (`band_limit`), tanh saturation
    (`saturate`), and white noise at an SNR drawn in `snr_db`. Context and target are
    augmented independently. The defaults without the new effects (reverb_p = lowpass_p =
    saturate_p = humanise_p = 0) are the sampler of weights 0.1.x."""

    gain_db: float = 6.0
    eq_p: float = 0.5
    eq_db: float = 9.0
    noise_p: float = 0.3
    snr_db: tuple[float, float] = (20.0, 50.0)
    reverb_p: float = 0.0
    lowpass_p: float = 0.0
    saturate_p: float = 0.0
    humanise_p: float = 0.0
    humanise_ms: float = 5.0


def active_stems(stems: np.ndarray) -> np.ndarray:
    """Indices of the active stems of a window `[n_stems, samples]`."""
    db = 10 * np.log10(np.mean(stems.astype(np.float64) ** 2, axis=1) + 1e-12)
    return np.flatnonzero((db > ACTIVE_DB) & (db > db.max() + RELATIVE_DB))


def split_stems(rng: np.random.Generator, active: np.ndarray) -> np.ndarray:
    """A random non-empty target subset of `active` (one stem 60% of the time), leaving
    at least one active stem for the context. Returns the target indices."""
    n = len(active)
    k = 1 if rng.random() < 0.6 else int(rng.integers(1, n))
    return np.sort(rng.choice(active, size=k, replace=False))


def has_pitched_stem(song: Song, target: np.ndarray) -> bool:
    """Whether the stems `target` of `song` include a pitched (non-drum) one; True when the
    source does not say which stems are drums."""
    return song.is_drum is None or not all(song.is_drum[t] for t in target)


def random_eq(rng: np.random.Generator, x: np.ndarray, max_db: float, n_points: int = 6) -> np.ndarray:
    """`x` `[samples]` through a random zero-phase EQ: gains uniform in ±max_db at `n_points`
    log-spaced frequencies from 50 Hz to Nyquist, linear in dB between them (flat outside).
    Zero phase, so onsets stay where they are."""
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    points = np.geomspace(50.0, SAMPLE_RATE / 2, n_points)
    db = np.interp(np.log(np.maximum(freqs, 1.0)), np.log(points), rng.uniform(-max_db, max_db, n_points))
    return np.fft.irfft(spectrum * 10 ** (db / 20), n=len(x))


def room_reverb(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """`x` `[samples]` through a synthetic room: an exponentially decaying noise impulse with
    RT60 uniform in 0.2-1.2 s, mixed with the dry signal at a wet/dry ratio in 0.1-0.5; the
    direct path stays at time 0, so onsets do not move."""
    rt60 = rng.uniform(0.2, 1.2)
    n = int(rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    impulse = rng.standard_normal(n) * 10 ** (-3 * t / rt60)  # -60 dB at rt60
    wet = signal.fftconvolve(x, impulse)[: len(x)]
    wet *= np.sqrt(np.mean(x**2) / (np.mean(wet**2) + 1e-12))
    return x + rng.uniform(0.1, 0.5) * wet


def band_limit(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """`x` low-passed at a cutoff uniform in 4-8 kHz (4th-order Butterworth, zero phase)."""
    cutoff = rng.uniform(4000.0, min(8000.0, 0.49 * SAMPLE_RATE))
    return signal.sosfiltfilt(signal.butter(4, cutoff, fs=SAMPLE_RATE, output="sos"), x)


def saturate(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """`x` through tanh saturation with a drive of 1-4 on the peak-normalised signal, level kept."""
    peak = np.abs(x).max() + 1e-12
    drive = rng.uniform(1.0, 4.0)
    return np.tanh(drive * x / peak) / np.tanh(drive) * peak


def humanise(rng: np.random.Generator, stems: np.ndarray, max_ms: float) -> np.ndarray:
    """Each of `[n, samples]` stems delayed or advanced by up to `max_ms` (zero-filled)."""
    out = np.zeros_like(stems)
    shifts = np.round(rng.uniform(-max_ms, max_ms, size=len(stems)) * SAMPLE_RATE / 1000).astype(int)
    for i, shift in enumerate(shifts):
        if shift >= 0:
            out[i, shift:] = stems[i, : stems.shape[1] - shift]
        else:
            out[i, :shift] = stems[i, -shift:]
    return out


def mix(rng: np.random.Generator, stems: np.ndarray, augment: Augment | None) -> np.ndarray:
    """Sum `[n, samples]` stems with random gains and timing, then EQ, reverb, low-pass,
    saturation and noise -> `[samples]`."""
    if augment is None:
        return stems.sum(axis=0)
    gains = 10 ** (rng.uniform(-augment.gain_db, augment.gain_db, size=(len(stems), 1)) / 20)
    if augment.humanise_p and rng.random() < augment.humanise_p:
        stems = humanise(rng, stems, augment.humanise_ms)
    out = (stems * gains).sum(axis=0)
    if rng.random() < augment.eq_p:
        out = random_eq(rng, out, augment.eq_db)
    for p, effect in ((augment.reverb_p, room_reverb), (augment.lowpass_p, band_limit),
                      (augment.saturate_p, saturate)):
        if p and rng.random() < p:
            out = effect(rng, out)
    if rng.random() < augment.noise_p:
        power = np.mean(out**2) + 1e-12
        snr = rng.uniform(*augment.snr_db)
        out = out + rng.standard_normal(out.shape) * np.sqrt(power / 10 ** (snr / 10))
    return out.astype(np.float32)


@dataclass
class Batch:
    """`context`, `target`: `[B, window]` float32 at SAMPLE_RATE; `group`: `[B]` ids shared by
    the pairs of one same-song group; `song`: `[B]` song names; `pitched`: `[B]` bool, the
    target holds a pitched (non-drum) stem (transposing it makes a harmonic negative);
    `windows`: per pair (song, window start in samples, the target's stem indices), where the
    sampler drew them (`PairSampler.batch`; empty otherwise)."""

    context: np.ndarray
    target: np.ndarray
    group: np.ndarray
    song: np.ndarray
    pitched: np.ndarray
    windows: list[tuple[Song, int, np.ndarray]] = field(default_factory=list)


def check_source_weights(weights: dict[str, float]) -> None:
    """ValueError unless `weights` maps source names to finite non-negative numbers with a positive sum."""
    if (not isinstance(weights, dict)
            or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and 0 <= w < math.inf
                       for w in weights.values())
            or sum(weights.values()) <= 0):
        raise ValueError(f"`source_weights` must map sources to finite non-negative numbers with a positive sum, "
                         f"e.g. {{\"procedural\": 1, \"corpus\": 2}}, got {weights!r}")


def song_probabilities(songs: list[Song], weights: dict[str, float]) -> np.ndarray:
    """`[len(songs)]` draw probabilities: source s gets weights[s] / sum(weights) of the draws,
    shared alike by its songs. ValueError if `weights` is malformed, names a source with no song
    or leaves a source of `songs` out."""
    check_source_weights(weights)
    sources = np.array([song.source for song in songs])
    present = set(sources.tolist())
    if missing := sorted(present - set(weights)):
        raise ValueError(f"`source_weights` {weights!r} has no weight for the sources {missing} of the songs")
    if absent := sorted(set(weights) - present):
        raise ValueError(f"`source_weights` names sources with no song: {absent} (the songs' sources: "
                         f"{sorted(present)})")
    counts = {name: int((sources == name).sum()) for name in present}
    p = np.array([weights[name] / counts[name] for name in sources.tolist()])
    return p / p.sum()


class PairSampler:
    """Draws batches of (context, target) windows from `songs`.

    Args:
        songs: the sources' songs (any mix of loaders).
        window: samples per window at SAMPLE_RATE.
        hard_fraction: share of each batch made of same-song groups.
        group_size: windows per same-song group.
        augment: augmentation, or None for clean sums (validation).
        source_weights: each source's share of the song draws, in proportion (e.g. {"procedural": 1,
            "corpus": 2}), its songs alike within it; None or {}: every song alike. A window with
            fewer than two sounding stems is drawn again from a new song, so sparse songs' sources
            end up a little below their share.
    """

    def __init__(self, songs: list[Song], window: int, hard_fraction: float = 0.25,
                 group_size: int = 4, augment: Augment | None = Augment(),
                 source_weights: dict[str, float] | None = None) -> None:
        self.songs = [s for s in songs if s.num_samples >= window and len(s.stem_names) >= 2]
        if not self.songs:
            raise ValueError("No song is long enough and has at least two stems")
        self.window, self.hard_fraction, self.group_size, self.augment = window, hard_fraction, group_size, augment
        self.song_p = song_probabilities(self.songs, source_weights) if source_weights else None

    def _song(self, rng: np.random.Generator) -> Song:
        if self.song_p is None:
            return self.songs[int(rng.integers(len(self.songs)))]
        return self.songs[int(rng.choice(len(self.songs), p=self.song_p))]

    def _window(self, rng: np.random.Generator, song: Song, near: int | None = None) -> tuple[int, np.ndarray]:
        last = song.num_samples - self.window
        if near is None:
            start = int(rng.integers(0, last + 1))
        else:  # another time of the same song: 0.3-2.5 s away half the time, anywhere otherwise
            shift = int(rng.uniform(0.3, 2.5) * SAMPLE_RATE) * (1 if rng.random() < 0.5 else -1)
            start = int(np.clip(near + shift, 0, last)) if rng.random() < 0.5 else int(rng.integers(0, last + 1))
        return start, song.read(start, self.window)

    def pair(self, rng: np.random.Generator, song: Song, stems: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Context and target waveforms `[window]` for a split of `stems`."""
        is_target = np.zeros(len(stems), bool)
        is_target[target] = True
        return mix(rng, stems[~is_target], self.augment), mix(rng, stems[is_target], self.augment)

    def _group(self, rng: np.random.Generator,
               size: int) -> tuple[Song, np.ndarray, list[tuple[np.ndarray, np.ndarray]], list[int]]:
        """`size` pairs from one song with one stem split (size 1: an ordinary pair): the song,
        the target's stem indices, the pairs and their window starts (samples)."""
        for _ in range(100):
            song = self._song(rng)
            start, stems = self._window(rng, song)
            active = active_stems(stems)
            if len(active) < 2:
                continue
            target = split_stems(rng, active)
            out, starts = [self.pair(rng, song, stems, target)], [start]
            for _ in range(20 * size):
                if len(out) == size:
                    return song, target, out, starts
                s2, stems2 = self._window(rng, song, near=start)
                act2 = active_stems(stems2)
                # the same split must leave an active context and target at the other time
                if s2 != start and np.isin(target, act2).any() and np.setdiff1d(act2, target).size:
                    out.append(self.pair(rng, song, stems2, target))
                    starts.append(s2)
            if len(out) == size:
                return song, target, out, starts
        raise RuntimeError("Could not draw a valid pair in 100 tries: are the songs silent?")

    def batch(self, rng: np.random.Generator, size: int) -> Batch:
        """`size` pairs, the same-song groups first."""
        n_groups = int(round(size * self.hard_fraction / self.group_size))
        pairs, groups, names, pitched, windows = [], [], [], [], []
        while len(pairs) < size:
            group_size = self.group_size if len(groups) < n_groups * self.group_size else 1
            song, target, group, starts = self._group(rng, min(group_size, size - len(pairs)))
            groups += [len(groups)] * len(group)
            names += [song.name] * len(group)
            pitched += [has_pitched_stem(song, target)] * len(group)
            windows += [(song, start, target) for start in starts]
            pairs += group
        ctx, tgt = map(np.stack, zip(*pairs))
        return Batch(ctx.astype(np.float32), tgt.astype(np.float32), np.array(groups), np.array(names),
                     np.array(pitched), windows)
