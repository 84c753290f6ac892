"""`python -m evaluation.copy_threshold` on a generated render cache and the bundled example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_data import write_rendered_cache

from evaluation.copy_threshold import main


def test_measures_leaked_real_and_unrelated_stems(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = write_rendered_cache(tmp_path / "rendered", songs_per_split=4, seconds=6.0)
    result = main(["--source", f"rendered:{root}", "--split", "val", "--json", str(tmp_path / "out.json")])
    assert json.loads((tmp_path / "out.json").read_text()) == result
    songs = result["songs"]
    assert (songs["real part"]["n"], songs["leaked part"]["n"], songs["other song"]["n"]) == (12, 12, 3)
    assert songs["leaked part"]["share_flagged"] == 1.0  # a stem inside its mix, nothing else playing over it
    assert result["example"]["copy"] == pytest.approx(1.0) and result["example"]["copy 64 samples late"] < 0.5
    assert "| leaked part | 12 | 1.000 |" in capsys.readouterr().out


def test_a_split_without_songs_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = write_rendered_cache(tmp_path / "rendered", songs_per_split=1)
    with pytest.raises(SystemExit) as exit_info:
        main(["--source", f"rendered:{root}", "--split", "test"])
    assert exit_info.value.code == 1 and "No songs in split 'test'" in capsys.readouterr().err
