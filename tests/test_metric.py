"""PhaLarScore and the functional API on the tiny fixture checkpoint (random weights).

A random model cannot judge coherence, so these tests check exact properties (symmetry,
batch independence, determinism, agreement of every code path with `PhaLar.score` applied
window by window) rather than good scores. oneDNN picks conv algorithms by batch size, so
the same window embedded in different batches differs by float32 rounding (~1e-4 relative
in the tiny model's scores); exact comparisons use `batch_size=1`, which embeds every
window alone.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from helpers import RATE, synth

from phalar_metric import PhaLar, PhaLarScore, phalar_paired_scores
from phalar_metric.audio import split_windows
from phalar_metric.config import tiny_config
from phalar_metric.functional import embed_windows, window_score_matrix, window_scores

CLICKS = (0.31, 0.47, 0.58, 0.83, 0.9, 1.12)  # seconds, irregular so that no shift repeats them


def click_train(delay: int = 0) -> np.ndarray:
    """1.5 s of 2 kHz bursts at `CLICKS` seconds delayed by `delay` samples (an exact shift).

    Digital silence within 0.3 s of both ends.
    """
    clicks = synth(RATE, clicks=CLICKS) - synth(RATE)
    return np.concatenate([np.zeros(delay, np.float32), clicks[: len(clicks) - delay]])


def reference_score(model: PhaLar, mix: np.ndarray, stem: np.ndarray) -> float:
    """Independent reference: `PhaLar.score` on each window pair, one at a time, averaged."""
    wx, wy = split_windows(mix, model.config), split_windows(stem, model.config)
    with torch.inference_mode():
        embed = [model.embed(torch.from_numpy(w[None])) for w in (*wx, *wy)]
        scores = [model.score(ex, ey) for ex, ey in zip(embed[: len(wx)], embed[len(wx) :])]
    return float(torch.cat(scores).mean())


@pytest.fixture
def metric1(tiny_model: PhaLar) -> PhaLarScore:
    """The tiny model, one window per forward pass (no batch-size rounding differences)."""
    return PhaLarScore(model=tiny_model, batch_size=1)


def test_score_matches_the_window_by_window_reference(metric1: PhaLarScore, mix: np.ndarray, stem: np.ndarray) -> None:
    assert metric1.score(mix, stem, RATE) == pytest.approx(reference_score(metric1.model, mix, stem), rel=1e-5)


@pytest.mark.parametrize(
    "overrides",
    [dict(similarity="psd"), dict(similarity="cosine"), dict(head="magnitude"), dict(pooling="gap", head="real")],
)
def test_ablations_score_like_the_reference(overrides: dict, mix: np.ndarray, stem: np.ndarray) -> None:
    torch.manual_seed(1)
    model = PhaLar(tiny_config(**overrides)).eval()
    metric = PhaLarScore(model=model, batch_size=1)
    want = [reference_score(model, mix, stem), reference_score(model, stem, stem)]
    np.testing.assert_allclose(metric.score_matrix([mix, stem], [stem], RATE)[:, 0], want, rtol=1e-5, atol=1e-5)
    assert metric.score(mix, stem, RATE) == pytest.approx(want[0], rel=1e-5, abs=1e-5)


def test_score_equals_the_score_matrix_entry(metric1: PhaLarScore, mix: np.ndarray, stem: np.ndarray) -> None:
    matrix = metric1.score_matrix([mix, stem, mix[::-1].copy()], [stem, mix], RATE)
    assert matrix.shape == (3, 2) and matrix.dtype == np.float32
    assert matrix[0, 0] == pytest.approx(metric1.score(mix, stem, RATE), rel=1e-5)
    assert matrix[1, 1] == pytest.approx(metric1.score(stem, mix, RATE), rel=1e-5)
    pairs = phalar_paired_scores(metric1.model, [mix, stem], [stem, mix], RATE, batch_size=1)
    np.testing.assert_allclose(pairs, np.diag(matrix[:2]), rtol=1e-5)


def test_symmetric_and_deterministic(
    metric: PhaLarScore, metric1: PhaLarScore, mix: np.ndarray, stem: np.ndarray
) -> None:
    a = metric.score(mix, stem, RATE)
    assert metric.score(mix, stem, RATE) == a
    assert metric.score(stem, mix, RATE) == pytest.approx(a, rel=1e-3)  # other batch order
    assert metric1.score(stem, mix, RATE) == pytest.approx(metric1.score(mix, stem, RATE), rel=1e-6)
    matrix = metric.score_matrix([mix, stem], [mix, stem], RATE)
    np.testing.assert_allclose(matrix, matrix.T, rtol=1e-6)


def test_a_pair_does_not_depend_on_the_batch(tiny_model: PhaLar, mix: np.ndarray, stem: np.ndarray) -> None:
    others = [synth(RATE, f0=f) for f in (55.0, 97.0, 440.0)]
    alone = PhaLarScore(model=tiny_model, batch_size=1).score_matrix([mix], [stem], RATE)[0, 0]
    crowded = PhaLarScore(model=tiny_model, batch_size=7).score_matrix(others + [mix], [stem] + others, RATE)
    assert crowded[3, 0] == pytest.approx(alone, rel=1e-3)  # float32 rounding of batched convs


def test_scoring_keeps_the_model_mode_and_runs_in_eval(
    tiny_checkpoint: Path, mix: np.ndarray, stem: np.ndarray
) -> None:
    model = PhaLarScore.from_pretrained(tiny_checkpoint).model.train()
    score = PhaLarScore(model=model).score(mix, stem, RATE)  # dropout would make this random
    assert model.training
    assert score == PhaLarScore(model=model.eval()).score(mix, stem, RATE)


def test_silence_scores_finite(metric: PhaLarScore, stem: np.ndarray) -> None:
    silence = np.zeros(RATE, np.float32)
    assert np.isfinite(metric.score(silence, silence, RATE))
    assert np.isfinite(metric.score(silence, stem[:RATE], RATE))


@pytest.mark.parametrize(("fmt", "subtype"), [("WAV", "FLOAT"), ("FLAC", "PCM_24"), ("OGG", "VORBIS")])
def test_files_score_like_arrays(
    metric: PhaLarScore, tmp_path: Path, mix: np.ndarray, stem: np.ndarray, fmt: str, subtype: str
) -> None:
    paths = []
    for name, wav in (("mix", mix), ("stem", np.stack([stem, stem]))):  # the stem as stereo
        paths.append(tmp_path / f"{name}.{fmt.lower()}")
        sf.write(paths[-1], wav.T, RATE, format=fmt, subtype=subtype)
    decoded = [sf.read(p, dtype="float32")[0].T for p in paths]  # what the file holds (Vorbis is lossy)
    from_files = metric.score(*paths)
    assert from_files == pytest.approx(metric.score(*decoded, sample_rate=RATE), rel=1e-6)
    assert metric.score(str(paths[0]), torch.from_numpy(decoded[1]), RATE) == pytest.approx(from_files, rel=1e-6)
    if fmt != "OGG":
        assert from_files == pytest.approx(metric.score(mix, stem, RATE), rel=1e-3)


def test_input_rate_changes_the_score_little(metric: PhaLarScore) -> None:
    def score_at(rate: int) -> float:
        return metric.score(synth(rate, f0=110.0, clicks=CLICKS), synth(rate, f0=330.0, clicks=CLICKS[::2]), rate)

    assert score_at(44100) == pytest.approx(score_at(16000), rel=0.05)


def test_lengths_that_differ_are_scored_over_the_common_part(
    metric: PhaLarScore, mix: np.ndarray, stem: np.ndarray
) -> None:
    with pytest.warns(UserWarning, match="`mix` is 1.50 s but `stem` is 1.20 s: scoring over the common 1.20 s"):
        got = metric.score(mix, stem[: int(1.2 * RATE)], RATE)
    assert got == pytest.approx(metric.score(mix[: int(1.2 * RATE)], stem[: int(1.2 * RATE)], RATE), rel=1e-5)
    with pytest.warns(UserWarning, match=r"`mixes\[0\]` is 1.50 s but `stems\[1\]` is 1.20 s"):
        metric.score_matrix([mix], [stem, stem[: int(1.2 * RATE)]], RATE)


def test_embed_shapes(metric: PhaLarScore, mix: np.ndarray, stem: np.ndarray) -> None:
    one = metric.embed(mix, RATE)
    assert one.shape == (2, 16) and one.dtype == np.complex64  # 1.5 s = two 1 s windows
    many = metric.embed([mix, stem[: RATE // 2]], RATE)
    assert [e.shape for e in many] == [(2, 16), (1, 16)]
    np.testing.assert_allclose(many[0], one, atol=1e-5)
    windows = split_windows(mix, metric.model.config)
    np.testing.assert_allclose(embed_windows(metric.model, windows).numpy(), one, atol=1e-5)


def test_score_curve(metric1: PhaLarScore, mix: np.ndarray, stem: np.ndarray) -> None:
    times, scores = metric1.score_curve(mix, stem, RATE, hop_seconds=0.25)
    np.testing.assert_allclose(times, [0.5, 0.75, 1.0])  # centres of the 1 s windows starting 0, 0.25, 0.5 s
    assert scores.shape == (3,)
    assert scores[0] == pytest.approx(metric1.score(mix[:RATE], stem[:RATE], RATE), rel=1e-5)
    assert scores[2] == pytest.approx(metric1.score(mix[RATE // 2 :], stem[RATE // 2 :], RATE), rel=1e-5)


def test_best_offset_table(metric1: PhaLarScore, mix: np.ndarray, stem: np.ndarray) -> None:
    best = metric1.best_offset(mix, stem, RATE, max_shift=0.05)
    step = metric1.model.config.hop_length / RATE  # default: one front-end hop
    np.testing.assert_allclose(best.scores[:, 0], np.arange(-6, 7) * step)
    assert best.scores.shape == (13, 2) and best.seconds == best.scores[np.argmax(best.scores[:, 1]), 0]
    assert best.scores[6, 1] == pytest.approx(metric1.score(mix, stem, RATE), rel=1e-5)  # offset 0
    coarse = metric1.best_offset(mix, stem, RATE, max_shift=0.05, step=0.025)
    np.testing.assert_allclose(coarse.scores[:, 0], [-0.05, -0.025, 0.0, 0.025, 0.05])


def test_best_offset_recovers_a_delay(tiny_model: PhaLar) -> None:
    """The stem is the "mix" (a click track) delayed by 64 ms.

    A random model can be expected to find the identical signal, not a coherent part of a
    real mix (that needs trained weights). Exact: as the clicks stay clear of the clip ends,
    the score table of the delayed stem is the aligned stem's table moved by the delay
    (`batch_size=2` = one shifted stem of two windows per forward pass, so equal inputs
    meet equal batches).
    """
    metric = PhaLarScore(model=tiny_model, batch_size=2)
    k = 8  # the delay in steps of one front-end hop (8 ms): 64 ms
    delay = k * metric.model.config.hop_length
    aligned = metric.best_offset(click_train(), click_train(), RATE, max_shift=0.15)
    delayed = metric.best_offset(click_train(), click_train(delay), RATE, max_shift=0.15)
    assert delayed.seconds == pytest.approx(delay / RATE)
    assert aligned.seconds == 0.0
    np.testing.assert_allclose(delayed.scores[k:, 1], aligned.scores[:-k, 1], rtol=1e-6)


def test_window_scores_are_the_model_score(tiny_model: PhaLar) -> None:
    gen = torch.Generator().manual_seed(0)
    ex, ey = (torch.view_as_complex(torch.randn(n, 3, 16, 2, generator=gen)) for n in (4, 5))
    want = sum(tiny_model.score(ex[:, w], ey[:, w]) for w in range(3)) / 3
    torch.testing.assert_close(window_score_matrix(tiny_model, ex, ey), want, rtol=1e-5, atol=1e-5)
    paired = window_scores(tiny_model, ex[:, 0], ey[:4, 0])
    torch.testing.assert_close(paired, tiny_model.score(ex[:, 0], ey[:4, 0]).diagonal(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, x: m.score(x, np.full(RATE, np.nan), RATE), "Argument `stem` contains NaN"),
        (lambda m, x: m.score(x[:100], x, RATE), "Argument `mix` is too short"),
        (lambda m, x: m.score(x, x), "Argument `mix` is an array: `sample_rate` \\(Hz\\) is required"),
        (lambda m, x: m.score(x, x, -1), "Argument `sample_rate` for `mix` expected a positive integer"),
        (lambda m, x: m.score_matrix([x, x, x, x[:10]], [x], RATE), r"Argument `mixes\[3\]` is too short"),
        (lambda m, x: m.score_matrix([x], x, RATE), "Argument `stems` expected a list of clips, got ndarray"),
        (lambda m, x: m.score_matrix([], [x], RATE), "Argument `mixes` is an empty list"),
        (lambda m, x: m.embed([x, np.zeros((2, 2, 2))], RATE), r"Argument `clips\[1\]` expected shape"),
        (lambda m, x: m.embed("no/such/file.wav"), "Argument `clips`: no such audio file"),
        (lambda m, x: m.score_curve(x, x, RATE, hop_seconds=0), "Argument `hop_seconds` expected a positive"),
        (lambda m, x: m.best_offset(x, x, RATE, max_shift=-1), "Argument `max_shift` expected a finite number"),
        (lambda m, x: m.best_offset(x, x, RATE, step=0.0), "Argument `step` expected a positive"),
        (lambda m, x: PhaLarScore(model=m.model, batch_size=0), "Argument `batch_size` expected a positive integer"),
        (
            lambda m, x: phalar_paired_scores(m.model, [x], [x, x], RATE),
            "Arguments `mixes` and `stems` expected the same number of clips, got 1 and 2",
        ),
    ],
)
def test_bad_input_raises_naming_the_argument(metric: PhaLarScore, mix: np.ndarray, call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(metric, mix)


def test_equal_lengths_do_not_warn(metric: PhaLarScore, mix: np.ndarray, stem: np.ndarray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metric.score_matrix([mix, stem], [stem], RATE)
