"""Folders as input and the per-system summary (issue 14 item 3): `--mix-dir/--stem-dir`, `--system`, `--summary`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_helpers import audio, read_lines, run, write_manifest  # noqa: F401 (fixtures)

from phalar_metric import PhaLarScore
from phalar_metric.folders import pair_folders
from phalar_metric.summary import mean_ci, summarise


@pytest.fixture
def folders(audio: Path, tmp_path: Path) -> tuple[Path, Path]:
    """MIXES/{a.wav, sub/b.wav, only_mix.wav, notes.txt} and STEMS/{a.flac, sub/b.wav, only_stem.wav}."""
    mixes, stems = tmp_path / "mixes", tmp_path / "stems"
    for folder in (mixes / "sub", stems / "sub"):
        folder.mkdir(parents=True)
    for src, dst in (("mix1.wav", mixes / "a.wav"), ("mix2.wav", mixes / "sub/b.wav"), ("mix1.wav", mixes / "only_mix.wav"),
                     ("bass.wav", stems / "sub/b.wav"), ("lead.wav", stems / "only_stem.wav")):  # fmt: skip
        shutil.copy(audio / src, dst)
    sf.write(stems / "a.flac", sf.read(audio / "bass.wav")[0], 16000)
    (mixes / "notes.txt").write_text("not audio")
    return mixes, stems


def test_pair_folders_by_relative_path_without_extension(folders: tuple[Path, Path]) -> None:
    mixes, stems = folders
    found = pair_folders(mixes, stems)
    assert [(k, m.relative_to(mixes).as_posix(), s.relative_to(stems).as_posix()) for k, m, s in found.pairs] == [
        ("a", "a.wav", "a.flac"), ("sub/b", "sub/b.wav", "sub/b.wav")]  # fmt: skip
    assert found.unpaired_mixes == [mixes / "only_mix.wav"] and found.unpaired_stems == [stems / "only_stem.wav"]


def test_bad_folders_raise(folders: tuple[Path, Path], tmp_path: Path) -> None:
    mixes, stems = folders
    with pytest.raises(ValueError, match=r"Argument `--stem-dir`: no such folder"):
        pair_folders(mixes, tmp_path / "nope")
    shutil.copy(mixes / "a.wav", mixes / "a.flac")
    with pytest.raises(ValueError, match=r"Argument `--mix-dir`: .*a.flac and .*a.wav both pair as 'a'"):
        pair_folders(mixes, stems)
    (mixes / "a.flac").unlink()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"No audio file of .*mixes \(3 files\) has a partner .*empty \(0 files\)"):
        pair_folders(mixes, tmp_path / "empty")


def test_score_folders_labels_rows_and_reports_unpaired_files(
    run, folders: tuple[Path, Path], tmp_path: Path, metric: PhaLarScore
) -> None:
    mixes, stems = folders
    out = tmp_path / "out.jsonl"
    status, stdout, err = run("score", "--mix-dir", str(mixes), "--stem-dir", str(stems), "--system", "gen-1",
                              "-o", str(out), "-q")  # fmt: skip
    lines = read_lines(out)
    assert status == 2 and stdout == ""  # unpaired files make the status 2; the pairs are scored
    assert [(r["key"], r["system"]) for r in lines] == [("a", "gen-1"), ("sub/b", "gen-1")]
    assert lines[0]["score"] == pytest.approx(metric.score(mixes / "a.wav", stems / "a.flac"), abs=1e-5)
    assert f"unpaired mix, no file of the same name in the other folder: {mixes / 'only_mix.wav'}" in err
    assert f"unpaired stem, no file of the same name in the other folder: {stems / 'only_stem.wav'}" in err


def test_summary_per_system_as_table_and_json(run, audio: Path, tmp_path: Path) -> None:
    rows = [{"mix": "mix1.wav", "stem": s, "system": sys} for sys in ("A", "B") for s in ("bass.wav", "lead.wav")]
    rows.append({"mix": "mix1.wav", "stem": "missing.wav", "system": "B"})
    manifest = write_manifest(audio / "pairs.csv", rows)
    status, stdout, _ = run("score", "--manifest", str(manifest), "-o", str(tmp_path / "out.jsonl"), "--summary",
                            "--json", "-q")  # fmt: skip
    summary = json.loads(stdout)["summary"]
    scores = [r["score"] for r in read_lines(tmp_path / "out.jsonl") if "score" in r]
    assert status == 2 and list(summary) == ["A", "B"]
    assert (summary["A"]["n"], summary["B"]["n"], summary["B"]["failed"]) == (2, 2, 1)
    assert summary["A"]["mean_score"] == pytest.approx(np.mean(scores[:2]))
    low, high = summary["A"]["score_ci"]
    assert min(scores[:2]) <= low <= summary["A"]["mean_score"] <= high <= max(scores[:2])
    status, stdout, err = run("score", "--manifest", str(manifest), "--summary", "-q")  # lines on stdout, table on stderr
    table = [line.split() for line in err.splitlines() if not line.startswith("phalar:")]
    assert len(stdout.splitlines()) == 5 and table[0][:3] == ["system", "n", "failed"] and table[1][:3] == ["A", "2", "0"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--mix-dir", "{m}"], "--mix-dir and --stem-dir go together"),
    (["--mix-dir", "{m}", "--stem-dir", "{s}", "--manifest", "{m}/p.csv"], "give either MIX STEM or --manifest"),
    (["{m}/a.wav", "{s}/a.flac", "--summary"], "--summary goes with --manifest or --mix-dir"),
    (["{m}/a.wav", "{s}/a.flac", "--system", "x"], "--system goes with --manifest or --mix-dir"),
    (["--mix-dir", "{m}", "--stem-dir", "{s}", "--json"], "--json goes with MIX STEM or with --summary"),
    (["--manifest", "{m}/sys.csv", "--system", "x"], "the manifest has a column 'system'; leave out --system"),
    (["--mix-dir", "{m}", "--stem-dir", "{m}/nope"], "Argument `--stem-dir`: no such folder"),
])  # fmt: skip
def test_folder_and_summary_errors_are_one_line(run, folders: tuple[Path, Path], argv: list[str], message: str) -> None:
    mixes, stems = folders
    (mixes / "sys.csv").write_text("mix,stem,system\na.wav,a.wav,x\n")
    status, out, err = run("score", *(a.format(m=mixes, s=stems) for a in argv))
    assert status == 1 and len(err.splitlines()) == 1 and message in err and out == ""


def test_mean_ci_and_summarise() -> None:
    assert mean_ci(np.full(5, 2.0)) == (2.0, 2.0)
    low, high = mean_ci(np.random.default_rng(0).standard_normal(400) + 3.0)
    assert 2.8 < low < 3.0 < high < 3.2  # 1.96 / sqrt(400) = 0.098 either side of the sample mean
    records = [{"score": 1.0, "probability": None}, {"score": 3.0, "probability": None}, {"error": "x"}]
    assert summarise(records)["all"] == {
        "n": 2, "failed": 1, "mean_score": 2.0, "score_ci": mean_ci(np.array([1.0, 3.0])),
        "mean_probability": None, "probability_ci": None,
    }  # fmt: skip
