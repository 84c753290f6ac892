"""The chroma + onset baseline on generated tones and click trains."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation import baseline

RATE = 16000
SECONDS = 2.0


def chord(midi: list[int], seconds: float = SECONDS) -> np.ndarray:
    """Sustained sine tones at MIDI pitches `[samples]`."""
    t = np.arange(int(seconds * RATE)) / RATE
    return sum(0.2 * np.sin(2 * np.pi * 440 * 2 ** ((m - 69) / 12) * t) for m in midi).astype(np.float32)


def clicks(times: list[float], delay: float = 0.0, seconds: float = SECONDS) -> np.ndarray:
    """Decaying 1 kHz bursts at `times + delay` seconds `[samples]`."""
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    for c in times:
        d = t - c - delay
        out += np.where(d >= 0, np.exp(-d / 0.01) * np.sin(2 * np.pi * 1000 * d), 0.0)
    return out.astype(np.float32)


def test_features_are_normalised_and_silence_is_finite() -> None:
    wav = np.stack([chord([60, 64, 67]), clicks([0.3, 0.9]), np.zeros(int(SECONDS * RATE), np.float32)])
    f = baseline.features(wav)
    assert f.chroma.shape == (3, 12) and f.onset.shape[0] == 3
    assert np.linalg.norm(f.chroma[:2], axis=1) == pytest.approx(1.0, abs=1e-5)
    assert np.linalg.norm(f.onset[:2], axis=1) == pytest.approx(1.0, abs=1e-5)
    assert f.onset[:2].mean(1) == pytest.approx(0.0, abs=1e-6)
    assert np.isfinite(f.chroma).all() and np.isfinite(f.onset).all()


def test_chroma_prefers_the_same_pitch_classes() -> None:
    c_major = baseline.features(chord([48, 52, 55])[None])  # C3 E3 G3
    candidates = baseline.features(np.stack([chord([72, 76, 79]), chord([54, 58, 61])]))  # C major up, F# major
    sims = baseline.similarities(c_major, candidates)[0, 0]
    assert sims[0] > 0.9 > 0.3 > sims[1]


def test_onset_correlation_tolerates_one_frame_and_no_more() -> None:
    """A delay of one onset frame (16 ms) scores as well as none within the ±1-frame window."""
    times = [0.2, 0.55, 0.7, 1.1, 1.45]
    ref = baseline.features(clicks(times)[None])
    hop = baseline.ONSET_HOP / RATE
    delayed = baseline.features(np.stack([clicks(times), clicks(times, hop), clicks(times, 4 * hop)]))
    onset = baseline.similarities(ref, delayed, max_lag=1)[1, 0]
    assert onset[0] == pytest.approx(1.0, abs=1e-4)
    assert onset[1] > 0.9 > 0.5 > onset[2]
    assert baseline.similarities(ref, delayed, max_lag=0)[1, 0, 1] < onset[1]


def test_similarities_are_symmetric() -> None:
    wav = np.stack([chord([60, 64]) + clicks([0.3, 1.2]), chord([62, 65]) + clicks([0.5, 0.8]), clicks([0.1])])
    f = baseline.features(wav)
    sims = baseline.similarities(f, f)
    assert np.allclose(sims, sims.transpose(0, 2, 1), atol=1e-6)


def test_combine_and_tune() -> None:
    sims = np.stack([np.eye(3), 2 * np.eye(3)])
    assert np.allclose(baseline.combine(sims, (0.5, -1.0)), -1.5 * np.eye(3))
    target = 2.0  # radians
    w = baseline.tune(lambda w: -abs(np.arctan2(w[1], w[0]) - target), n_angles=36)
    assert np.hypot(*w) == pytest.approx(1.0, abs=1e-5)
    assert abs(np.arctan2(w[1], w[0]) - target) <= np.pi / 36 + 1e-6
