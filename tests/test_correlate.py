"""Correlation with ratings, checked against numpy and hand-computed rank correlations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import RATE, synth

from phalar_metric import PhaLarScore
from phalar_metric.correlate import correlate, correlate_csv


def test_pearson_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    r = rng.normal(size=40)
    s = 0.5 * r + rng.normal(size=40)
    assert correlate(r, s, bootstrap=0).pearson.value == pytest.approx(np.corrcoef(r, s)[0, 1], abs=1e-12)


def test_rank_correlations_by_hand() -> None:
    # Ranks d = [-1, 1, -1, 1, 0]: Spearman 1 - 6 * 4 / (5 * 24) = 0.8.
    # Of the 10 pairs, (1, 2) and (3, 4) are discordant: Kendall (8 - 2) / 10 = 0.6.
    result = correlate([1, 2, 3, 4, 5], [20, 10, 40, 30, 50], bootstrap=0)
    assert result.spearman.value == pytest.approx(0.8)
    assert result.kendall.value == pytest.approx(0.6)
    assert (result.n, result.skipped) == (5, 0)
    assert result.pearson.ci is None


def test_groups_centre_within_each_group() -> None:
    r = np.array([1.0, 2.0, 3.0, 10.0, 12.0, 11.0])
    s = np.array([0.1, 0.3, 0.2, 5.0, 5.5, 5.2])
    centred_r = r - np.repeat([r[:3].mean(), r[3:].mean()], 3)
    centred_s = s - np.repeat([s[:3].mean(), s[3:].mean()], 3)
    result = correlate(r, s, groups=["a", "a", "a", "b", "b", "b"], bootstrap=0)
    assert result.pearson.value == pytest.approx(np.corrcoef(centred_r, centred_s)[0, 1])
    assert result.pearson.value < correlate(r, s, bootstrap=0).pearson.value  # the group offset no longer counts


def test_missing_values_are_skipped_and_counted() -> None:
    ratings = [1, 2, None, 4, 5, math.nan, 7]
    scores = [1, 3, 2, math.nan, 4, 1, 2]
    result = correlate(ratings, scores, systems=["x", "y", "x", "y", None, "x", "y"], bootstrap=0)
    assert (result.n, result.skipped) == (3, 4)
    assert result.pearson.value == pytest.approx(np.corrcoef([1, 2, 7], [1, 3, 2])[0, 1])


def test_bootstrap_interval_is_seeded_and_brackets_the_value() -> None:
    rng = np.random.default_rng(2)
    r = rng.normal(size=60)
    s = r + rng.normal(size=60)
    a, b, c = (correlate(r, s, bootstrap=200, seed=seed) for seed in (0, 0, 1))
    assert a == b and a.pearson.ci != c.pearson.ci
    for name in ("pearson", "spearman", "kendall"):
        corr = getattr(a, name)
        assert corr.ci[0] < corr.value < corr.ci[1]


def test_group_bootstrap_resamples_whole_groups() -> None:
    # Group a correlates perfectly, group b perfectly negatively, together 0. Resampling whole
    # groups gives {a, a}: +1, {b, b}: -1 or {a, b}: 0, so the interval is exactly [-1, 1].
    result = correlate([1, 2, 3, 1, 2, 3], [1, 2, 3, 3, 2, 1], groups=list("aaabbb"), bootstrap=100)
    assert result.pearson.value == pytest.approx(0.0)
    assert result.pearson.ci == pytest.approx((-1.0, 1.0))


def test_system_means() -> None:
    result = correlate([1, 2, 3, 4, 5], [0.5, 0.1, 0.9, 0.7, 0.2], systems=["A", "B", "A", "B", "C"], bootstrap=0)
    assert list(result.systems) == ["A", "B", "C"]
    a = result.systems["A"]
    assert (a.n, a.rating, a.score) == (2, 2.0, pytest.approx(0.7))
    assert result.to_dict()["systems"]["C"] == {"n": 1, "rating": 5.0, "score": 0.2}


@pytest.mark.parametrize("kwargs, message", [
    (dict(ratings=[1, 2, 3], scores=[1, 2]), "Argument `scores` expected 3 entries"),
    (dict(ratings=[1, 2, 3], scores=[1, 2, 3], groups=["a"]), "Argument `groups` expected 3 entries"),
    (dict(ratings=[1, 2, None], scores=[1, 2, 3]), "at least 3 rows"),
    (dict(ratings=[1, 1, 1], scores=[1, 2, 3]), "Argument `ratings` is constant"),
    (dict(ratings=[1, 2, 3], scores=[1, 2, 3], bootstrap=-1), "Argument `bootstrap` expected a non-negative"),
    (dict(ratings=["a", 2, 3], scores=[1, 2, 3]), "Argument `ratings` expected numbers"),
])  # fmt: skip
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("`", ".")):
        correlate(**kwargs)


def test_csv_with_score_column(tmp_path: Path) -> None:
    path = tmp_path / "ratings.csv"
    path.write_text("listener,rating,score\nA,1,0.2\nA,2,0.1\nA,NA,0.5\nB,4,0.9\nB,5,\nB,3,0.4\n")
    result = correlate_csv(path, "rating", score="score", group="listener", bootstrap=0)
    assert (result.n, result.skipped) == (4, 2)
    expected = correlate([1, 2, 4, 3], [0.2, 0.1, 0.9, 0.4], groups=["A", "A", "B", "B"], bootstrap=0)
    assert result.to_dict() == {**expected.to_dict(), "skipped": 2}


@pytest.mark.parametrize("kwargs, message", [
    (dict(rating="nope", score="score"), "has no column 'nope'"),
    (dict(rating="rating", score="score", system="sys"), "has no column 'sys'"),
    (dict(rating="rating", score="word"), "Argument .score.: column 'word' expected numbers, but line 3 has 'high'"),
    (dict(rating="rating"), "give either .score., or both .mix. and .stem."),
    (dict(rating="rating", mix="word"), "give either"),
    (dict(rating="rating", score="score", mix="word", stem="word"), "give either"),
])  # fmt: skip
def test_csv_errors(tmp_path: Path, kwargs: dict, message: str) -> None:
    path = tmp_path / "ratings.csv"
    path.write_text("rating,score,word\n1,2,\n2,3,high\n3,1,low\n")
    with pytest.raises(ValueError, match=message):
        correlate_csv(path, **kwargs)


def test_csv_with_audio_scores_each_pair_once(
    tmp_path: Path, metric: PhaLarScore, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, f0 in (("m1.wav", 110.0), ("m2.wav", 165.0), ("s1.wav", 55.0), ("s2.wav", 440.0)):
        sf.write(tmp_path / name, synth(RATE, f0=f0), RATE)
    rows = [("m1", "s1", 3), ("m1", "s2", 1), ("m2", "s1", 2), ("m1", "s1", 4), ("m2", "s2", 5), ("m2", "", 2)]
    path = tmp_path / "ratings.csv"
    path.write_text("mix,stem,rating\n" + "".join(f"{m}.wav,{s and s + '.wav'},{r}\n" for m, s, r in rows))
    expected = [metric.score(tmp_path / f"{m}.wav", tmp_path / f"{s}.wav") for m, s, _ in rows[:5]]
    calls = []
    original = PhaLarScore.embed
    monkeypatch.setattr(PhaLarScore, "embed", lambda self, clip, **kw: calls.append(1) or original(self, clip, **kw))
    result = correlate_csv(path, "rating", mix="mix", stem="stem", metric=metric, bootstrap=0)
    assert len(calls) == 4 and (result.n, result.skipped) == (5, 1)
    assert result.pearson.value == pytest.approx(np.corrcoef([3, 1, 2, 4, 5], expected)[0, 1], abs=1e-5)
