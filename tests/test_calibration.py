"""The calibrated score (issue 14 item 2): the logistic fit, its file in the checkpoint, the API and the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import audio, run, write_manifest  # noqa: F401 (fixtures)
from helpers import RATE
from scipy.optimize import minimize

from phalar_metric import PhaLar, PhaLarScore
from phalar_metric.calibration import Calibration, expected_calibration_error, fit_logistic, reliability
from phalar_metric.hub import ChecksumError, save_calibration, save_pretrained


def sample(n: int, a: float, b: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(positive scores, negative scores) of pairs whose label follows sigmoid(a s + b), s uniform."""
    rng = np.random.default_rng(seed)
    s = rng.uniform(-6, 6, n)
    positive = rng.random(n) < 1 / (1 + np.exp(-(a * s + b)))
    return s[positive], s[~positive]


def test_fit_is_the_class_balanced_maximum_likelihood() -> None:
    """Against scipy's optimiser on the same weighted log-likelihood (an independent implementation)."""
    pos, neg = sample(4000, 1.3, -2.0)

    def loss(theta: np.ndarray) -> float:
        lp = -np.logaddexp(0, -(theta[0] * pos + theta[1]))  # log sigmoid
        ln = -np.logaddexp(0, theta[0] * neg + theta[1])  # log (1 - sigmoid)
        return -(0.5 * lp.mean() + 0.5 * ln.mean())

    want = minimize(loss, np.zeros(2), method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-12}).x
    np.testing.assert_allclose(fit_logistic(pos, neg), want, atol=1e-4)
    a, b = fit_logistic(pos, neg)
    assert a == pytest.approx(1.3, rel=0.1)  # the slope of the generating model


def test_the_map_is_monotone_and_in_range() -> None:
    calibration = Calibration(0.7, -3.0, "0" * 64)
    scores = np.linspace(-1e4, 1e4, 10001)
    p = calibration.probability(scores)
    assert p.shape == scores.shape and np.all(np.diff(p) >= 0) and p.min() == 0.0 and p.max() == 1.0
    assert calibration.probability(3.0 / 0.7) == pytest.approx(0.5)  # the score where partner and stranger tie
    assert isinstance(calibration.probability(1.0), float)


@pytest.mark.parametrize(("pos", "neg", "message"), [
    ([], [1.0], "must not be empty, got 0, 1"),
    ([1.0, np.nan], [0.0], "must be finite scores"),
    ([0.0, -1.0, -2.0], [1.0, 2.0, 0.5], "do not rank true partners above others"),
])  # fmt: skip
def test_bad_fits_raise(pos: list[float], neg: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_logistic(np.array(pos), np.array(neg))


def test_separable_scores_still_give_a_finite_fit() -> None:
    a, b = fit_logistic(np.array([2.0, 3.0]), np.array([-1.0, 0.0]))
    assert np.isfinite(a) and a > 0 and np.isfinite(b)


def test_calibration_error() -> None:
    labels = np.array([1, 1, 0, 0])
    assert expected_calibration_error(np.full(4, 0.9), labels) == pytest.approx(0.4)  # says 0.9, half are partners
    assert expected_calibration_error(np.array([0.95, 0.95, 0.05, 0.05]), labels) == pytest.approx(0.05)
    rows = reliability(np.array([0.95, 0.95, 0.05, 0.05]), labels)
    assert [(r["low"], r["weight"], r["observed"]) for r in rows] == [(0.0, 0.5, 0.0), (0.9, 0.5, 1.0)]
    pos, neg = sample(20000, 1.0, 0.0, seed=1)  # balanced classes: sigmoid(s) is calibrated
    probs = 1 / (1 + np.exp(-np.concatenate([pos, neg])))
    assert expected_calibration_error(probs, np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])) < 0.02


def test_bad_calibration_files_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expects finite `a` > 0"):
        Calibration(-1.0, 0.0, "0" * 64)
    (tmp_path / "c.json").write_text('{"a": 1.0}')
    with pytest.raises(ValueError, match="is not a PhaLar calibration file"):
        Calibration.load(tmp_path / "c.json")


@pytest.fixture
def calibrated(tiny_model: PhaLar, tmp_path: Path) -> Path:
    """The tiny checkpoint with a calibration.json (a = 0.5, b = -2)."""
    folder = save_pretrained(tiny_model, tmp_path / "calibrated")
    sha = json.loads((folder / "checksums.json").read_text())["model.safetensors"]
    save_calibration(folder, Calibration(0.5, -2.0, sha, {"date": "2026-01-01", "split": "val"}))
    return folder


def test_checkpoint_lists_and_verifies_its_calibration(calibrated: Path, tmp_path: Path) -> None:
    checksums = json.loads((calibrated / "checksums.json").read_text())
    assert set(checksums) == {"model.safetensors", "calibration.json"}
    metric = PhaLarScore.from_pretrained(calibrated)
    assert (metric.calibration.a, metric.calibration.b, metric.calibration_note) == (0.5, -2.0, None)
    assert metric.provenance["calibration"] == {"a": 0.5, "b": -2.0, "date": "2026-01-01"}
    tampered = shutil.copytree(calibrated, tmp_path / "tampered")
    (tampered / "calibration.json").write_text((tampered / "calibration.json").read_text().replace("0.5", "0.6"))
    with pytest.raises(ChecksumError, match="calibration.json has sha256 .* the file is corrupt"):
        PhaLarScore.from_pretrained(tampered)
    unlisted = shutil.copytree(calibrated, tmp_path / "unlisted")
    (unlisted / "checksums.json").write_text(json.dumps({"model.safetensors": checksums["model.safetensors"]}))
    metric = PhaLarScore.from_pretrained(unlisted)
    assert metric.calibration is None and "calibration.json is not listed in checksums.json" in metric.calibration_note


def test_a_calibration_of_other_weights_is_refused_or_ignored(calibrated: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Argument `calibration` was fitted for weights 1111"):
        save_calibration(calibrated, Calibration(1.0, 0.0, "1" * 64))
    other = PhaLarScore.from_pretrained(calibrated)
    other.model.similarity.weight.data.mul_(2.0)  # new weights
    folder = save_pretrained(other.model, tmp_path / "retrained")
    assert not (folder / "calibration.json").exists()
    shutil.copy(calibrated / "calibration.json", folder)  # a stale file, then listed by hand
    sums = json.loads((folder / "checksums.json").read_text())
    sums["calibration.json"] = json.loads((calibrated / "checksums.json").read_text())["calibration.json"]
    (folder / "checksums.json").write_text(json.dumps(sums))
    metric = PhaLarScore.from_pretrained(folder)
    assert metric.calibration is None and "was fitted for weights" in metric.calibration_note


def test_save_pretrained_removes_a_stale_calibration(calibrated: Path, tiny_model: PhaLar) -> None:
    save_pretrained(tiny_model, calibrated)
    assert not (calibrated / "calibration.json").exists()
    assert "calibration.json" not in json.loads((calibrated / "checksums.json").read_text())


def test_api_in_both_units(calibrated: Path, mix: np.ndarray, stem: np.ndarray) -> None:
    metric = PhaLarScore.from_pretrained(calibrated, batch_size=1)
    raw = metric.score(mix, stem, RATE)
    assert metric.score(mix, stem, RATE, calibrated=True) == pytest.approx(1 / (1 + np.exp(-(0.5 * raw - 2.0))))
    assert metric.score_details(mix, stem, RATE).probability == pytest.approx(metric.probability(raw))
    matrix = metric.score_matrix([mix, stem], [stem], RATE)
    np.testing.assert_allclose(metric.score_matrix([mix, stem], [stem], RATE, calibrated=True), metric.probability(matrix))
    times, curve = metric.score_curve(mix, stem, RATE, hop_seconds=0.25)
    times_p, curve_p = metric.score_curve(mix, stem, RATE, hop_seconds=0.25, calibrated=True)
    np.testing.assert_array_equal(times, times_p)
    np.testing.assert_allclose(curve_p, metric.probability(curve))


def test_uncalibrated_weights_say_why(metric: PhaLarScore, tiny_model: PhaLar, mix: np.ndarray) -> None:
    assert metric.calibration is None and metric.score_details(mix, mix, RATE).probability is None
    with pytest.raises(ValueError, match=r"Argument `calibrated` / `probability`: no calibration for these weights"):
        metric.score(mix, mix, RATE, calibrated=True)
    with pytest.raises(ValueError, match="a model passed in memory has no calibration"):
        PhaLarScore(model=tiny_model).probability(1.0)


def test_cli_lines_carry_the_probability(run, audio: Path, calibrated: Path) -> None:
    rows = [{"mix": "mix1.wav", "stem": "bass.wav"}, {"mix": "mix2.wav", "stem": "lead.wav"}]
    manifest = write_manifest(audio / "pairs.csv", rows)
    status, out, err = run("score", "--manifest", str(manifest), "--model", str(calibrated), model=False)
    for line in map(json.loads, out.splitlines()):
        assert line["probability"] == pytest.approx(1 / (1 + np.exp(-(0.5 * line["score"] - 2.0))))
    assert status == 0 and "note:" not in err
    status, out, err = run("score", "--manifest", str(manifest))  # the tiny checkpoint: no calibration
    assert all(json.loads(line)["probability"] is None for line in out.splitlines())
    assert 'phalar: note: no calibration for these weights (calibration.json is not in the checkpoint)' in err
