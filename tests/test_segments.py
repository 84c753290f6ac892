"""Segments (issue 14 item 4): `start=` / `end=` in Python and `start` / `end` manifest columns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_helpers import audio, run, write_manifest  # noqa: F401 (fixtures)
from helpers import RATE, synth

from phalar_metric import PhaLar, PhaLarScore
from phalar_metric.audio import load_audio
from phalar_metric.config import PhaLarConfig

CONFIG = PhaLarConfig()  # 1 s minimum


@pytest.fixture
def long_file(tmp_path: Path) -> Path:
    """4 s of music at 44.1 kHz, stereo."""
    wav = synth(44100, seconds=4.0, f0=110.0, clicks=(0.5, 1.7, 2.9))
    path = tmp_path / "long.wav"
    sf.write(path, np.stack([wav, 0.5 * wav]).T, 44100, subtype="FLOAT")
    return path


def test_a_span_of_a_file_is_the_file_cut_there(long_file: Path) -> None:
    whole, rate = sf.read(long_file, dtype="float32", always_2d=True)
    cut = whole[int(1.5 * rate) : int(3.25 * rate)].T  # [channels, samples]
    span = load_audio(long_file, None, CONFIG, "mix", start=1.5, end=3.25)
    np.testing.assert_array_equal(span, load_audio(cut, rate, CONFIG))
    tail, head = load_audio(long_file, None, CONFIG, start=3.0), load_audio(long_file, None, CONFIG, end=1.0)
    np.testing.assert_array_equal(tail, load_audio(whole[3 * rate :].T, rate, CONFIG))
    np.testing.assert_array_equal(head, load_audio(whole[:rate].T, rate, CONFIG))


def test_only_the_span_is_read(long_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    requested: list[int] = []
    original = sf.SoundFile.read
    monkeypatch.setattr(
        sf.SoundFile, "read", lambda self, frames=-1, **kw: requested.append(frames) or original(self, frames, **kw)
    )
    load_audio(long_file, None, CONFIG, start=1.0, end=2.5)
    assert requested == [int(1.5 * 44100)]


def test_arrays_take_the_same_span() -> None:
    wav = synth(RATE, seconds=3.0)
    np.testing.assert_array_equal(load_audio(wav, RATE, CONFIG, start=0.5, end=2.0), wav[RATE // 2 : 2 * RATE])


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (5.0, None, r"the span \[5, 4\] s is outside the clip, which is 4.000 s long"),
        (4.0, 5.0, r"the span \[4, 5\] s is outside the clip"),
        (1.0, 4.5, r"the span \[1, 4.5\] s is outside the clip"),
        (2.0, 2.0, r"`end` \(2 s\) must be after `start` \(2 s\)"),
        (3.0, 1.0, r"`end` \(1 s\) must be after `start` \(3 s\)"),
        (1.0, 1.5, r"the span \[1, 1.5\] s is 0.500 s, expected at least 1 s"),
        (3.5, None, r"the span \[3.5, 4\] s is 0.500 s, expected at least 1 s"),
        (-1.0, None, r"Argument `start` of `mix` expected a finite number of seconds >= 0, got -1.0"),
        (None, float("nan"), r"Argument `end` of `mix` expected a finite number of seconds >= 0, got nan"),
        ("1", None, r"Argument `start` of `mix` expected a finite number of seconds >= 0, got '1'"),
    ],
)
def test_bad_spans_raise_naming_the_arguments(long_file: Path, start, end, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_audio(long_file, None, CONFIG, "mix", start=start, end=end)
    with pytest.raises(ValueError, match=message):  # the same array
        load_audio(sf.read(long_file, dtype="float32")[0].T, 44100, CONFIG, "mix", start=start, end=end)


def test_metric_scores_the_span_of_both_files(tiny_model: PhaLar, tmp_path: Path) -> None:
    metric = PhaLarScore(model=tiny_model, batch_size=1)
    mix, stem = synth(RATE, seconds=4.0, f0=110.0, clicks=(0.5, 2.2)), synth(RATE, seconds=4.0, f0=330.0)
    for name, wav in (("mix", mix), ("stem", stem)):
        sf.write(tmp_path / f"{name}.wav", wav, RATE, subtype="FLOAT")
    got = metric.score(tmp_path / "mix.wav", tmp_path / "stem.wav", start=1.0, end=2.5)
    span = slice(RATE, int(2.5 * RATE))
    assert got == pytest.approx(metric.score(mix[span], stem[span], RATE), rel=1e-6)
    times, _ = metric.score_curve(mix, stem, RATE, hop_seconds=0.5, start=2.0)
    np.testing.assert_allclose(times, [0.5, 1.0, 1.5])  # from the span's start
    assert metric.embed(mix, RATE, start=3.0).shape == (1, 16)
    with pytest.raises(ValueError, match=r"Arguments `start` and `end` of `mix`: the span \[3, 5\] s is outside"):
        metric.score(mix, stem, RATE, start=3.0, end=5.0)


def test_manifest_start_and_end_columns(run, audio: Path, metric: PhaLarScore) -> None:
    for name in ("mix1.wav", "bass.wav"):
        sf.write(audio / f"long_{name}", np.tile(sf.read(audio / name, dtype="float32")[0], 3), RATE)  # 4.5 s
    spans = [("1.0", "3.5"), ("", ""), ("4", "6"), ("2", "1"), ("2", "2.5"), ("soon", "")]
    rows = [{"mix": "long_mix1.wav", "stem": "long_bass.wav", "start": a, "end": b} for a, b in spans]
    status, out, err = run("score", "--manifest", str(write_manifest(audio / "pairs.csv", rows)), "-q")
    lines = [json.loads(line) for line in out.splitlines()]
    want = metric.score(audio / "long_mix1.wav", audio / "long_bass.wav", start=1.0, end=3.5)
    assert status == 2 and lines[0]["score"] == pytest.approx(want, abs=1e-5) and lines[0]["windows"] == 3
    assert lines[1]["score"] == pytest.approx(metric.score(audio / "long_mix1.wav", audio / "long_bass.wav"), abs=1e-5)
    assert "outside the clip" in lines[2]["error"] and "must be after `start`" in lines[3]["error"]
    assert "score" in lines[4]  # 0.5 s: long enough for the tiny model (0.25 s); 1 s for the default one
    assert lines[5]["error"] == "column 'start' expected seconds, but got 'soon'"
    assert "scored 3 of 6 pairs, 3 failed" in err
