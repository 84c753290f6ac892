"""The figures command writes its PNGs for a tiny checkpoint on a generated render cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evaluation.figures import main, phasor_figure
from phalar_metric import PhaLar, PhaLarScore
from phalar_metric.config import tiny_config

PNG = b"\x89PNG\r\n\x1a\n"


def test_figures_are_written(rendered_root: Path, tiny_checkpoint: Path, tmp_path: Path) -> None:
    retrieval = tmp_path / "retrieval.json"
    retrieval.write_text(json.dumps({"split": "val_timbre", "results": {
        "phalar": {"acc@2": 0.9, "acc@8": 0.7, "acc@64": 0.4, "hard@8": 0.5},
        "baseline": {"acc@2": 0.8, "acc@8": 0.5, "acc@64": 0.2, "hard@8": 0.3}}}))  # fmt: skip
    out = tmp_path / "figures"
    paths = main(["--model", str(tiny_checkpoint), "--out", str(out), "--source", f"rendered:{rendered_root}",
                  "--max-shift", "0.2", "--retrieval", str(retrieval)])  # fmt: skip
    names = ["offset.png", "coherence_curve.png", "phasors.png", "accuracy_at_k.png"]
    assert paths == [out / n for n in names]
    for p in paths:
        assert p.read_bytes().startswith(PNG) and p.stat().st_size > 10_000


def test_phasors_need_complex_embeddings(tmp_path: Path) -> None:
    metric = PhaLarScore(PhaLar(tiny_config(pooling="gap", head="real")).eval())
    stem = np.random.default_rng(0).standard_normal(3 * 16000).astype(np.float32)
    with pytest.raises(ValueError, match="complex embeddings"):
        phasor_figure(metric, stem, 16000, tmp_path / "p.png", n_shifts=3)
    assert not (tmp_path / "p.png").exists()


def test_song_index_is_checked(rendered_root: Path, tiny_checkpoint: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["--model", str(tiny_checkpoint), "--out", str(tmp_path), "--source", f"rendered:{rendered_root}",
              "--song", "7"])  # fmt: skip
    assert "--song must be in [0, 6]" in capsys.readouterr().err
