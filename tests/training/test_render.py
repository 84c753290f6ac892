"""The render CLI with the real FluidSynth: cache layout, int16 stems, meta.json, resume.

(Its job list and soundfont draws, pure logic, are tested in test_render_jobs.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training import render
from training.synth import SOUNDFONT_DIR, TRAIN_SOUNDFONTS

pytest.importorskip("fluidsynth")
pytestmark = pytest.mark.skipif(not all((SOUNDFONT_DIR / sf).exists() for sf in TRAIN_SOUNDFONTS),
                                reason="the training soundfonts are not installed")


def run(out: Path, songs: int, workers: int = 1) -> None:
    render.main(["--out", str(out), "--procedural", str(songs), "--val-songs", "0", "--corpus", "0", "--sources", "procedural",
                 "--workers", str(workers)])


def test_layout_meta_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(tmp_path, 2)
    folders = sorted((tmp_path / "train" / "procedural").iterdir())
    assert [f.name for f in folders] == ["00000", "00001"]
    for folder in folders:
        assert sorted(p.name for p in folder.iterdir()) == ["meta.json", "notes.json", "stems.npy"]
        stems = np.load(folder / "stems.npy")
        meta = json.loads((folder / "meta.json").read_text())
        assert stems.dtype == np.int16 and stems.shape[0] == len(meta["stems"]) >= 3
        assert meta["name"] == f"procedural/{folder.name}" and meta["sample_rate"] == render.SAMPLE_RATE
        assert all(s["soundfont"] in TRAIN_SOUNDFONTS for s in meta["stems"])
        assert 0 < np.abs(stems).max() <= 32767 * 0.99 + 1 and np.abs(stems).max(axis=1).min() > 0
        duration = stems.shape[1] / render.SAMPLE_RATE
        assert meta["beats"] and max(meta["beats"]) < duration and meta["tempo"] > 0

    first = (folders[0] / "stems.npy").stat().st_mtime_ns
    second = (np.load(folders[1] / "stems.npy").shape, (folders[1] / "meta.json").read_text())
    for p in folders[1].iterdir():  # an interrupted render: the song's folder is still a .tmp
        p.unlink()
    folders[1].rename(folders[1].with_name("00001.tmp"))
    capsys.readouterr()
    run(tmp_path, 2)
    assert "done; 0 failed" in capsys.readouterr().out
    assert (folders[0] / "stems.npy").stat().st_mtime_ns == first  # complete songs are skipped
    assert not folders[1].with_name("00001.tmp").exists()
    # the same song, stems and soundfonts (the samples themselves depend on the synth's state:
    # FluidSynth starts notes on 64-sample block boundaries counted since the synth was made)
    assert (np.load(folders[1] / "stems.npy").shape, (folders[1] / "meta.json").read_text()) == second


def test_workers_render_the_same_songs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(tmp_path / "one", 3)
    run(tmp_path / "two", 3, workers=2)
    assert "done; 0 failed" in capsys.readouterr().out
    for name in ("00000", "00001", "00002"):
        one, two = (tmp_path / d / "train" / "procedural" / name for d in ("one", "two"))
        assert (one / "meta.json").read_text() == (two / "meta.json").read_text()
        assert np.load(one / "stems.npy").shape == np.load(two / "stems.npy").shape
