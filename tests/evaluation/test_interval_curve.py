"""`python -m evaluation.interval_curve` on a generated render cache and the tiny checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from evaluation.interval_curve import INTERVALS, draw_pitched, interval_curve, main
from phalar_metric.embedding import embed_windows, window_scores
from phalar_metric.hub import load_pretrained
from training.eval_windows import every_window_pairs
from training.negatives import TransposedCQT
from training.sources import load_songs


def test_writes_every_interval_for_every_model(rendered_root: Path, tiny_checkpoint: Path, tmp_path: Path) -> None:
    argv = ["--model", str(tiny_checkpoint), "--variant", "a", "--model", str(tiny_checkpoint), "--variant", "b",
            "--source", f"rendered:{rendered_root}", "--split", "val", "--pairs", "5",
            "--json", str(tmp_path / "c.json"), "--markdown", str(tmp_path / "c.md")]  # fmt: skip
    main(argv)
    result = json.loads((tmp_path / "c.json").read_text())
    assert result["pairs"] == 5 and set(result["curves"]) == {"a", "b"}
    curve = result["curves"]["a"]
    assert [int(k) for k in curve] == [0, *INTERVALS] and curve["0"]["share"] is None
    assert all(0.0 <= curve[str(k)]["share"] <= 1.0 for k in INTERVALS)
    assert result["curves"]["a"] == result["curves"]["b"]  # one checkpoint twice: deterministic
    assert (tmp_path / "c.md").read_text().count("\n") == 2 + 1 + len(INTERVALS)


def test_a_point_is_the_win_rate_against_that_transposition(rendered_root: Path, tiny_checkpoint: Path) -> None:
    """Recomputed pair by pair: the share at +3 semitones is the share of pairs whose true
    target beats `TransposedCQT`'s crop shifted by 3 bins (12 bins per octave)."""
    model = load_pretrained(tiny_checkpoint)
    songs = load_songs(["rendered"], str(rendered_root), "val")
    pairs = draw_pitched(every_window_pairs(songs, model.config.window_samples), 4, seed=0)
    curve = interval_curve(model, pairs)
    transposer = TransposedCQT(model.config)
    with torch.inference_mode():
        ex = embed_windows(model, pairs.context)
        own, up = (window_scores(model, ex, model.embed_spectrogram(
            transposer(torch.from_numpy(pairs.target), torch.full((4,), k)))) for k in (0, 3))
    assert curve[3]["share"] == pytest.approx(float((own > up).double().mean()))
    assert curve[0]["mean"] == pytest.approx(float(own.mean()), rel=1e-5)


def test_an_unknown_split_is_a_one_line_error(rendered_root: Path, tiny_checkpoint: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", str(tiny_checkpoint), "--source", f"rendered:{rendered_root}", "--split", "no_such_split"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "no_such_split" in err and err.count("\n") == 1
