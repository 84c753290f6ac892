"""Pitch checks on re-rendered transpositions (training/real_pitch.py), with `ToneSynth` in place
of FluidSynth, in the trainer's validation and `--real_pitch_pairs`."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from symbolic_data import RATE, ToneSynth, write_symbolic_cache
from tiny_data import TINY_MODEL

from phalar_metric.config import PhaLarConfig
from phalar_metric.embedding import embed_windows, window_scores
from phalar_metric.hub import save_pretrained
from phalar_metric.model import PhaLar
from training import real_pitch, rerendered_negatives, train
from training.eval_windows import every_window_pairs
from training.real_pitch import REAL_CHECKS, REAL_SEMITONES, RealPitchSet
from training.rerender import WindowRenderer
from training.sources.rendered import load_rendered
from training.validation import OOD_SPLIT, ValidationSet, is_interval_metric

DRUMS = 0  # symbolic_data's stems: drums, bass, chords


def spectrum(x: np.ndarray, ratio: float = 1.0) -> np.ndarray:
    """`x`'s magnitude spectrum, smoothed over 9 bins, with every frequency multiplied by `ratio`."""
    hz = np.fft.rfftfreq(len(x), 1 / RATE)
    return np.interp(hz / ratio, hz, np.convolve(np.abs(np.fft.rfft(x)), np.ones(9) / 9, "same"))


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


@pytest.fixture(scope="module")
def ood_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("real_pitch")
    for split, n in (("train", 2), ("val", 8), ("val_timbre", 8), (OOD_SPLIT, 10)):  # enough for acc@64
        write_symbolic_cache(root, ToneSynth(), n_songs=n, split=split)
    return root


@pytest.fixture
def tone_renderer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default renderer of re-rendered targets renders with `ToneSynth`."""
    monkeypatch.setattr(rerendered_negatives, "WindowRenderer", lambda: WindowRenderer(ToneSynth()))


def test_build_re_renders_pitched_targets_as_the_cache_and_transposed(ood_root: Path) -> None:
    pairs = every_window_pairs(load_rendered(ood_root, OOD_SPLIT), RATE)
    real = RealPitchSet.build(pairs, 5, WindowRenderer(ToneSynth()))
    assert real is not None and len(real.rows) == 5 and pairs.pitched[real.rows].all()
    assert real.target.shape == (5, RATE) and real.copies.shape == (5, 2 * len(REAL_SEMITONES), RATE)
    for target, cached in zip(real.target, pairs.target[real.rows]):
        assert np.corrcoef(target, cached)[0, 1] > 0.99
    assert not np.allclose(real.copies, real.target[:, None], atol=1e-3)
    again = RealPitchSet.build(pairs, 5, WindowRenderer(ToneSynth()))
    np.testing.assert_array_equal(again.rows, real.rows)
    np.testing.assert_array_equal(again.copies, real.copies)
    without_drums = [p for p, row in enumerate(real.rows) if DRUMS not in pairs.windows[row][2]]
    assert without_drums
    for p in without_drums:  # copies 10 and 11 are +6 and -6 semitones: every sine moves by 2^(±1/2)
        for copy, ratio in ((10, 2**0.5), (11, 2**-0.5)):
            heard = spectrum(real.copies[p, copy])
            moved = similarity(spectrum(real.target[p], ratio), heard)
            kept = similarity(spectrum(real.target[p]), heard)
            assert moved > kept + 0.5, (moved, kept)
    unpitched = dataclasses.replace(pairs, pitched=np.zeros(len(pairs.song), bool))
    assert RealPitchSet.build(unpitched, 5, WindowRenderer(ToneSynth())) is None


def test_checks_count_each_copy_against_its_own_pair() -> None:
    """Against an independent score, pair by pair and copy by copy."""
    torch.manual_seed(0)
    model = PhaLar(PhaLarConfig(**TINY_MODEL)).eval()
    rng = np.random.default_rng(0)
    contexts = rng.standard_normal((6, RATE)).astype(np.float32)
    target = rng.standard_normal((3, RATE)).astype(np.float32)
    copies = rng.standard_normal((3, 2 * len(REAL_SEMITONES), RATE)).astype(np.float32)
    ex = embed_windows(model, contexts)
    rows = np.array([0, 2, 5])
    out = RealPitchSet(rows, target, copies).checks(model, ex[rows])
    wins = np.zeros((3, len(copies[0])))
    for p, row in enumerate(rows):
        own = window_scores(model, ex[row : row + 1], embed_windows(model, target[p : p + 1]))
        for c in range(len(copies[0])):
            moved = window_scores(model, ex[row : row + 1], embed_windows(model, copies[p, c : c + 1]))
            wins[p, c] = float(own[0] > moved[0])
    per_interval = wins.reshape(3, len(REAL_SEMITONES), 2).mean((0, 2))
    assert out["pitch_real"] == pytest.approx(wins.mean())
    assert [out[name] for name in REAL_CHECKS] == pytest.approx(per_interval.tolist())
    assert out["pitch_real_min"] == pytest.approx(per_interval.min())


def test_validation_names_real_pitch_on_ood_and_refuses_a_cache_without_notes(
        ood_root: Path, rendered_root: Path, tone_renderer: None) -> None:
    config = PhaLarConfig(**TINY_MODEL)
    names = ValidationSet.build(str(ood_root), RATE, n_pairs=100, n_groups=1, real_pitch_pairs=4).metric_names(config)
    real = {f"{OOD_SPLIT}/{name}" for name in ("pitch_real", "pitch_real_min", *REAL_CHECKS)}
    assert real <= names and not real & ValidationSet.build(str(ood_root), RATE, 100, 1).metric_names(config)
    assert all(is_interval_metric(f"{OOD_SPLIT}/{name}") for name in REAL_CHECKS)
    assert not is_interval_metric(f"{OOD_SPLIT}/pitch_real_min")
    with pytest.raises(ValueError, match="notes.json"):
        ValidationSet.build(str(rendered_root), RATE, n_pairs=100, n_groups=1, real_pitch_pairs=4)


def test_a_run_selects_on_real_pitch_and_logs_its_intervals(ood_root: Path, tmp_path: Path,
                                                            tone_renderer: None) -> None:
    out = tmp_path / "run"
    train.main([f"--data={ood_root}", f"--out_dir={out}", "--max_steps=2", "--batch_size=6", "--group_size=3",
                "--hard_fraction=0.5", "--warmup_steps=1", "--eval_every=2", "--eval_pairs=100", "--eval_groups=1",
                "--threads=1", "--real_pitch_pairs=3", "--select_on=ood/acc@64+ood/pitch_real",
                f"--model={TINY_MODEL!r}"])
    with (out / "val.csv").open() as f:
        val = list(csv.DictReader(f))
    with (out / "intervals.csv").open() as f:
        intervals = list(csv.DictReader(f))
    assert [row["step"] for row in val] == ["2"] and 0.0 <= float(val[0]["ood/pitch_real_min"]) <= 1.0
    assert {f"{OOD_SPLIT}/{name}" for name in REAL_CHECKS} <= set(intervals[0])
    assert all(0.0 <= float(intervals[0][f"{OOD_SPLIT}/{name}"]) <= 1.0 for name in REAL_CHECKS)
    assert (out / "best" / "model.safetensors").is_file()


def test_the_command_scores_saved_weights_as_the_trainer_does(ood_root: Path, rendered_root: Path, tmp_path: Path,
                                                              tone_renderer: None) -> None:
    torch.manual_seed(0)
    model = PhaLar(PhaLarConfig(**TINY_MODEL)).eval()
    folder = save_pretrained(model, tmp_path / "model")
    out = real_pitch.main([str(folder), "--data", str(ood_root), "--pairs", "3"])
    pairs = every_window_pairs(load_rendered(ood_root, OOD_SPLIT), model.config.window_samples)
    real = RealPitchSet.build(pairs, 3)
    expected = real.checks(model, embed_windows(model, pairs.context)[real.rows])
    assert out[str(folder)] == pytest.approx(expected)
    with pytest.raises(SystemExit):  # no notes.json
        real_pitch.main([str(folder), "--data", str(rendered_root), "--pairs", "3"])
