"""The COCOLA-style benchmark model: features equal COCOLA's published librosa pipeline, shapes, parameters."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from benchmarks.cocola_reference import CocolaStyle, count_parameters
from benchmarks.common import synth_music


def cocola_librosa_features(wav: np.ndarray) -> np.ndarray:
    """COCOLA's feature extractor (its `HPSS` module), transcribed: one clip `[samples]` -> `[2, 64, frames]`."""
    stft = librosa.stft(wav, n_fft=1024, win_length=400, hop_length=160)
    harmonic, percussive = librosa.decompose.hpss(stft)
    mels = [
        librosa.feature.melspectrogram(S=np.abs(s) ** 2, sr=16000, fmin=60.0, fmax=7800.0, n_mels=64)
        for s in (harmonic, percussive)
    ]
    return np.stack([librosa.power_to_db(m, ref=np.max) for m in mels])


@pytest.fixture(scope="module")
def model() -> CocolaStyle:
    torch.manual_seed(0)
    return CocolaStyle().eval()


def test_features_match_cocola_librosa_pipeline(model: CocolaStyle) -> None:
    wav = np.stack([synth_music(2.0, 16000, seed=s) for s in (0, 1)])
    with torch.inference_mode():
        ours = model.features(torch.from_numpy(wav)).numpy()
    assert ours.shape == (2, 2, 64, 201)
    for clip, feats in zip(wav, ours):
        expected = cocola_librosa_features(clip)
        # dB, floor -80: float32 STFTs by two FFT libraries differ by < 0.01 dB
        np.testing.assert_allclose(feats, expected, atol=0.02)


def test_embed_and_score_shapes(model: CocolaStyle) -> None:
    wav = torch.from_numpy(np.stack([synth_music(1.0, 16000, seed=s) for s in range(3)]))
    with torch.inference_mode():
        emb = model.embed(wav)
        scores = model.score(emb, emb[:2])
    assert emb.shape == (3, 512) and emb.abs().max() < 1
    assert scores.shape == (3, 2)


def test_parameter_count(model: CocolaStyle) -> None:
    counts = count_parameters(model)
    # EfficientNet-B0 without its 1000-class head, 2 input channels; 1280 -> 512 + LayerNorm; W
    assert counts == {"encoder": 4_007_260, "projection": 656_896, "score": 262_144, "total": 4_926_300}
