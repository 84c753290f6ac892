"""The benchmark scripts run end to end (on the tiny fixture checkpoint, tiny sizes) and report what they say."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import memory, speed
from benchmarks.common import get_parser, parse_args, synth_music
from benchmarks.cqt_pitch_resolution import neighbour_levels
from phalar_metric.config import PhaLarConfig


def test_synth_music_continues_across_blocks() -> None:
    whole = synth_music(2.0, 8000, seed=3)
    halves = np.concatenate([synth_music(1.0, 8000, seed=3), synth_music(1.0, 8000, seed=3, offset=1.0)])
    np.testing.assert_allclose(halves, whole, atol=1e-6)
    assert np.abs(whole).max() < 1
    assert not np.allclose(whole, synth_music(2.0, 8000, seed=4))


def test_speed_runs_and_reports(tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "speed.json"
    args = ["--model", str(tiny_checkpoint), "--threads", "1", "--clips", "2", "--batch-sizes", "1,2", "--repeats", "1",
            "--k", "4", "--trials", "3", "--train-batch", "1", "--train-steps", "1", "--json", str(out)]  # fmt: skip
    result = speed.main(args)
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert [r["batch"] for r in result["embedding"]] == [1, 2]
    row = result["embedding"][0]
    assert row["ratio_public"] == pytest.approx(row["phalar_public_clips_per_s"] / row["cocola_style_clips_per_s"])
    assert result["retrieval"]["k"] == 4 and result["retrieval"]["ms_per_trial"] > 0
    assert [(r["model"], r["amp"]) for r in result["training"]] == [
        ("default", "none"), ("default", "bf16"), ("gap", "none"), ("gap", "bf16")]
    text = capsys.readouterr().out
    assert f"checkpoint {tiny_checkpoint}" in text and "| batch | PhaLarScore.embed |" in text


def test_memory_scores_files_in_a_child_process(tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "memory.json"
    result = memory.main(["--model", str(tiny_checkpoint), "--threads", "1", "--minutes", "0.05", "--rate", "22050",
                          "--format", "flac", "--json", str(out)])  # fmt: skip
    assert json.loads(out.read_text())["score_s"] == result["score_s"] > 0
    assert result["peak_rss_mb"] >= result["baseline_rss_mb"] > 0
    assert np.isfinite(result["score"]) and not result["targets"]["applies"]


def test_quick_sets_defaults_but_explicit_options_win() -> None:
    def parse(argv: list[str]) -> argparse.Namespace:
        parser = get_parser("prog", "test")
        parser.add_argument("--clips", type=int, default=64)
        return parse_args(parser, {"clips": 4}, argv)

    assert parse([]).clips == 64
    assert parse(["--quick"]).clips == 4
    assert parse(["--quick", "--clips", "8"]).clips == 8


def test_cqt_pitch_resolution_shows_the_shipped_semitone_plateau_and_a_sharper_scale() -> None:
    """The shipped CQT (filter scale 1) leaves a tone within 0.1 of its peak one semitone away;
    filter scale 2 puts the semitone below near the floor."""
    config = PhaLarConfig()
    shipped = neighbour_levels(config, 1.0, 45)
    assert shipped[2] == pytest.approx(1.0, abs=1e-3) and min(shipped[1], shipped[3]) > 0.9
    assert neighbour_levels(config, 2.0, 45)[1] < 0.2
