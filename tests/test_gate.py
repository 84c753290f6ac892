"""The silence gate (issue 11): windows below -70 dBFS RMS score exactly 0, are counted and reported.

Gain invariance above the gate is checked on the tiny random model, whose front-end is
normalised to each window's peak like the shipped one.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from helpers import RATE

from phalar_metric import PhaLar, PhaLarScore, SilentInputWarning, phalar_paired_details
from phalar_metric.config import tiny_config
from phalar_metric.gate import SILENCE_DBFS, silent_windows, window_levels

CONFIG = tiny_config()  # 1 s windows at 16 kHz


def at_dbfs(wav: np.ndarray, dbfs: float) -> np.ndarray:
    """`wav` scaled to an RMS level of `dbfs` (0 dBFS = RMS 1.0), float32."""
    return (wav * 10 ** (dbfs / 20) / np.sqrt(np.mean(np.square(wav, dtype=np.float64)))).astype(np.float32)


def noise(seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    """White noise `[samples]` at 16 kHz at an RMS level of `dbfs`."""
    return at_dbfs(np.random.default_rng(seed).standard_normal(int(seconds * RATE)), dbfs)


@pytest.fixture
def metric1(tiny_model: PhaLar) -> PhaLarScore:
    return PhaLarScore(model=tiny_model, batch_size=1)


def test_window_levels_are_rms_dbfs_per_window() -> None:
    t = np.arange(2 * RATE) / RATE
    sine = np.sin(2 * np.pi * 440 * t).astype(np.float32)  # full scale: RMS 1/sqrt(2) = -3.01 dBFS
    wav = np.concatenate([sine[:RATE], 0.01 * sine[RATE:], np.zeros(RATE // 2, np.float32)])  # 2.5 s
    levels = window_levels(wav, CONFIG)  # windows at 0, 1 and 1.5 s (the last ends at the clip end)
    np.testing.assert_allclose(levels[:2], [-3.0103, -43.0103], atol=1e-3)
    assert levels[2] == pytest.approx(-43.0103 - 10 * np.log10(2), abs=1e-3)  # half of it is silence
    assert window_levels(np.zeros(RATE, np.float32), CONFIG)[0] == -np.inf
    short = 0.01 * sine[: RATE // 2]  # shorter than a window: its own samples, not the zero padding
    assert window_levels(short, CONFIG)[0] == pytest.approx(-43.0103, abs=1e-3)
    assert window_levels(wav, CONFIG, hop=RATE // 2).shape == (4,)  # the scoring grid of score_curve


@pytest.mark.parametrize(("dbfs", "silent"), [(-69.0, False), (-71.0, True)])
def test_the_gate_is_an_absolute_level(dbfs: float, silent: bool) -> None:
    assert SILENCE_DBFS == -70.0
    assert silent_windows(noise(1.0, dbfs), CONFIG).tolist() == [silent]


def test_gain_above_the_gate_does_not_change_the_score(metric1: PhaLarScore, mix: np.ndarray, stem: np.ndarray) -> None:
    loud, quiet = at_dbfs(mix, -20.0), at_dbfs(mix, -50.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SilentInputWarning)  # no window is gated
        assert metric1.score(quiet, stem, RATE) == pytest.approx(metric1.score(loud, stem, RATE), rel=1e-4)  # float32


@pytest.mark.parametrize("quiet", ["digital silence", "noise at -80 dBFS"])
def test_silent_stems_score_exactly_zero_with_a_warning(metric1: PhaLarScore, mix: np.ndarray, quiet: str) -> None:
    stem = np.zeros_like(mix) if quiet == "digital silence" else noise(len(mix) / RATE, -80.0)
    with pytest.warns(SilentInputWarning, match=r"below -70 dBFS RMS are silent and score 0: `stem` \(2 of 2\)"):
        assert metric1.score(mix, stem, RATE) == 0.0
    with pytest.warns(SilentInputWarning, match=r"`mix` \(2 of 2\)"):
        assert metric1.score(stem, mix, RATE) == 0.0  # either input gates the window
    details = metric1.score_details(mix, stem, RATE)
    assert (details.windows, details.silent_windows, details.score) == (2, 2, 0.0)
    assert [type(w) for w in details.warnings] == [SilentInputWarning]


def test_a_silent_window_counts_as_zero_in_the_mean(metric1: PhaLarScore, mix: np.ndarray, stem: np.ndarray) -> None:
    """1.5 s = windows at 0-1 s and 0.5-1.5 s; a stem silent from 0.5 s gates the second only."""
    gated = stem.copy()
    gated[RATE // 2 :] = 0
    details = metric1.score_details(mix, gated, RATE)
    first = metric1.score(mix[:RATE], gated[:RATE], RATE)
    assert details.silent.tolist() == [False, True] and details.silent_windows == 1
    np.testing.assert_allclose(details.window_scores, [first, 0.0], rtol=1e-5)
    assert details.score == pytest.approx(first / 2, rel=1e-5)


def test_score_matrix_gates_each_pair_of_windows(metric1: PhaLarScore, mix: np.ndarray, stem: np.ndarray) -> None:
    silent = np.zeros_like(stem)
    with pytest.warns(SilentInputWarning, match=r"`stems\[1\]` \(2 of 2\)"):
        matrix = metric1.score_matrix([mix, stem], [stem, silent], RATE)
    np.testing.assert_array_equal(matrix[:, 1], [0.0, 0.0])
    assert matrix[0, 0] == pytest.approx(metric1.score(mix, stem, RATE), rel=1e-5)


def test_score_curve_is_zero_in_silent_windows(metric1: PhaLarScore, mix: np.ndarray, stem: np.ndarray) -> None:
    quiet = np.concatenate([stem[:RATE], np.zeros(RATE, np.float32)])  # 2 s: sound, then silence
    loud = np.concatenate([mix[:RATE], mix[:RATE]])
    with pytest.warns(SilentInputWarning, match=r"`stem` \(1 of 3\)"):
        times, scores = metric1.score_curve(loud, quiet, RATE, hop_seconds=0.5)
    np.testing.assert_allclose(times, [0.5, 1.0, 1.5])
    assert scores[2] == 0.0 and scores[0] != 0.0 and scores[1] != 0.0  # the middle window is half sound


def test_best_offset_of_a_silent_stem_is_zero(metric1: PhaLarScore, mix: np.ndarray) -> None:
    with pytest.warns(SilentInputWarning):
        best = metric1.best_offset(mix, np.zeros_like(mix), RATE, max_shift=0.05)
    assert best.seconds == 0.0 and np.all(best.scores[:, 1] == 0.0)


def test_embeddings_of_silent_windows_are_zero(metric1: PhaLarScore, stem: np.ndarray) -> None:
    emb = metric1.embed(np.concatenate([stem[:RATE], np.zeros(RATE, np.float32)]), RATE)
    assert emb.shape == (2, 16) and np.all(emb[1] == 0) and np.all(np.abs(emb[0]) > 0)


def test_a_clip_silent_throughout_is_not_an_error(metric1: PhaLarScore, mix: np.ndarray) -> None:
    silence = np.zeros(RATE, np.float32)
    with pytest.warns(SilentInputWarning):
        assert metric1.score(silence, silence, RATE) == 0.0
    details = phalar_paired_details(metric1.model, [mix[:RATE], silence], [mix[:RATE], mix[:RATE]], RATE)
    assert [d.silent_windows for d in details] == [0, 1] and details[1].score == 0.0
    assert not any(isinstance(w, SilentInputWarning) for w in details[0].warnings)  # (a copy: itself)
    assert "`mixes[1]` (1 of 1)" in str(details[1].warnings[0])


def test_torchmetrics_counts_silent_windows(tiny_model: PhaLar, mix: np.ndarray, stem: np.ndarray) -> None:
    pytest.importorskip("torchmetrics")
    from phalar_metric.torchmetrics import PhaLarCoherence

    metric = PhaLarCoherence(sample_rate=RATE, model=tiny_model, batch_size=1)
    mixes = torch.from_numpy(np.stack([mix, mix]))
    stems = torch.from_numpy(np.stack([stem, np.zeros_like(stem)]))
    with pytest.warns(SilentInputWarning, match=r"`stems\[1\]` \(2 of 2\)"):
        metric.update(mixes, stems)
    assert (int(metric.windows), int(metric.silent_windows)) == (4, 2)
    want = PhaLarScore(model=tiny_model, batch_size=1).score(mix, stem, RATE) / 2
    assert float(metric.compute()) == pytest.approx(want, rel=1e-5)


def test_gate_applies_to_the_ablation_heads(mix: np.ndarray) -> None:
    torch.manual_seed(1)
    for overrides in (dict(similarity="cosine"), dict(pooling="gap", head="real")):
        metric = PhaLarScore(model=PhaLar(tiny_config(**overrides)).eval(), batch_size=1)
        with pytest.warns(SilentInputWarning):
            assert metric.score(mix, np.zeros_like(mix), RATE) == 0.0
