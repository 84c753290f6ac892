"""`python -m evaluation.transposition_gap` on a cache with notes, re-rendered by `ToneSynth`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from symbolic_data import ToneSynth

from evaluation import transposition_gap
from evaluation.transposition_gap import SUBSETS, main
from training.rerender import WindowRenderer


def run(root: Path, checkpoint: Path, *extra: str) -> dict:
    return main(["--model", str(checkpoint), "--variant", "a", "--source", f"rendered:{root}",
                 "--split", "val_timbre", "--trials", "6", "--semitones", "1", "4", *extra])


def test_every_subset_of_every_interval_is_a_share_and_a_rerun_agrees(
        notes_root: Path, tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transposition_gap, "WindowRenderer", lambda: WindowRenderer(ToneSynth()))
    result = run(notes_root, tiny_checkpoint, "--json", str(tmp_path / "g.json"), "--markdown", str(tmp_path / "g.md"))
    assert json.loads((tmp_path / "g.json").read_text())["results"] == result["results"]
    assert 0 < result["pitched_trials"] <= 6 and 0 <= result["with_drums"] <= result["pitched_trials"]
    n, d = result["pitched_trials"], result["with_drums"]
    for s in ("1", "4"):
        r = result["results"]["a"][s]
        for kind in ("crop", "rerender"):
            counts = {"all": n, "drums": d, "no_drums": n - d}
            assert all((r[f"{kind}_{sub}"] is None) == (counts[sub] == 0) for sub in SUBSETS)
            assert all(0.0 <= r[f"{kind}_{sub}"] <= 1.0 for sub in SUBSETS if counts[sub])
            parts = [r[f"{kind}_{sub}"] * counts[sub] for sub in ("drums", "no_drums") if counts[sub]]
            assert r[f"{kind}_all"] * n == pytest.approx(sum(parts))
    assert (tmp_path / "g.md").read_text().count("\n") == 2 + 2
    assert run(notes_root, tiny_checkpoint)["results"] == result["results"]


def test_a_transposition_that_changes_nothing_never_loses(notes_root: Path, tiny_checkpoint: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Forced outcome: a renderer that ignores the interval makes the transposed re-render the
    reference, so the true target never scores strictly above it (ties lose): 0 everywhere."""
    class Untransposed(WindowRenderer):
        def render(self, song, stems, start, length, semitones=0, tempo=1.0):  # type: ignore[no-untyped-def]
            return super().render(song, stems, start, length)

    monkeypatch.setattr(transposition_gap, "WindowRenderer", lambda: Untransposed(ToneSynth()))
    for r in run(notes_root, tiny_checkpoint)["results"]["a"].values():
        assert r["rerender_all"] == 0.0


def test_an_interval_out_of_range_is_a_one_line_error(notes_root: Path, tiny_checkpoint: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", str(tiny_checkpoint), "--source", f"rendered:{notes_root}", "--semitones", "12"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "--semitones" in err and err.count("\n") == 1
