"""The copy check (issue 14 item 6): a stem that is the mix, or a scaled time-aligned part of it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_helpers import audio, run, write_manifest  # noqa: F401 (fixtures)
from helpers import RATE

from phalar_metric import PhaLar, PhaLarScore
from phalar_metric import copy_check as cc
from phalar_metric.copy_check import COPY_COHERENCE, StemCopyWarning, copy_coherence, copy_warning


def music(seed: int, seconds: float = 3.0) -> np.ndarray:
    """Random-phase "music": a few sustained partials and noise bursts at random times, float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    wav = sum(0.1 * np.sin(2 * np.pi * f * t + p) for f, p in zip(rng.uniform(80, 2000, 6), rng.uniform(0, 6.3, 6)))
    for onset in rng.uniform(0, seconds - 0.1, 8):
        i = int(onset * RATE)
        wav[i : i + 800] += 0.3 * rng.standard_normal(800) * np.exp(-np.arange(800) / 200)
    return wav.astype(np.float32)


def test_a_copy_at_any_gain_or_sign_is_coherent() -> None:
    mix = music(0)
    for gain in (1.0, 0.01, -1.0, 3.0):
        assert copy_coherence(mix, gain * mix) == pytest.approx(1.0, abs=1e-6)


def test_a_part_of_the_mix_is_a_copy_and_independent_music_is_not() -> None:
    part, rest = music(1), music(2)
    assert copy_coherence(part + rest, part) >= COPY_COHERENCE  # the stem leaked into (from) the mix
    assert copy_coherence(rest, part) < 0.2  # unrelated phases


def test_only_time_aligned_copies_count() -> None:
    mix = music(3)
    late = np.concatenate([np.zeros(64, np.float32), mix[:-64]])  # 4 ms late
    assert copy_coherence(mix, late) < COPY_COHERENCE


def test_silence_lengths_and_long_clips() -> None:
    mix = music(4)
    assert copy_coherence(mix, np.zeros_like(mix)) == 0.0
    assert copy_coherence(mix, mix[: RATE // 2]) == pytest.approx(1.0, abs=1e-6)  # cut to the shorter
    assert copy_coherence(mix[:100], mix[:100]) == pytest.approx(1.0, abs=1e-6)  # shorter than one frame


def test_chunks_do_not_change_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    mix, stem = music(5, 12.0), music(6, 12.0)  # 747 frames
    whole = copy_coherence(mix + stem, stem)
    monkeypatch.setattr(cc, "_FRAMES_PER_CHUNK", 100)
    assert copy_coherence(mix + stem, stem) == pytest.approx(whole, rel=1e-6)


def test_the_threshold_is_the_definition() -> None:
    assert copy_warning(COPY_COHERENCE - 1e-3) is None
    warning = copy_warning(COPY_COHERENCE, ("mixes[0]", "stems[0]"))
    assert isinstance(warning, StemCopyWarning)
    assert str(warning).startswith("`stems[0]` looks like a copy of `mixes[0]` or a time-aligned part of it")


def test_score_warns_and_keeps_the_score(tiny_model: PhaLar) -> None:
    metric = PhaLarScore(model=tiny_model, batch_size=1)
    mix, other = music(7), music(8)
    with pytest.warns(StemCopyWarning, match=r"phase coherence 1.00 >= 0.5"):
        leaked = metric.score(mix, 0.5 * mix, RATE)
    assert leaked == pytest.approx(metric.score_details(mix, mix, RATE).score, rel=1e-4)  # gain invariant
    assert not any(isinstance(w, StemCopyWarning) for w in metric.score_details(mix, other, RATE).warnings)


def test_cli_lines_report_a_copy(run, audio: Path) -> None:
    mix, _ = sf.read(audio / "mix1.wav", dtype="float32")
    sf.write(audio / "leak.wav", 0.3 * mix, RATE)
    rows = [{"mix": "mix1.wav", "stem": "leak.wav"}, {"mix": "mix1.wav", "stem": "bass.wav"}]
    status, out, _ = run("score", "--manifest", str(write_manifest(audio / "pairs.csv", rows)), "-q")
    leak, real = (json.loads(line) for line in out.splitlines())
    assert status == 0 and real["warnings"] == []
    assert len(leak["warnings"]) == 1 and "`stem` looks like a copy of `mix`" in leak["warnings"][0]
