"""The `python -m evaluation.retrieval` benchmark on a generated render cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evaluation.retrieval import BASELINE, main, select_songs
from phalar_metric import load_pretrained
from training.sources import load_songs
from training.validation import ValidationSet, is_interval_metric


@pytest.fixture(scope="module")
def bench_run(rendered_root: Path, tiny_checkpoint: Path,
              tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """One benchmark run: the tiny checkpoint twice (side by side) and the baseline."""
    out = tmp_path_factory.mktemp("retrieval")
    result = main(["--model", str(tiny_checkpoint), "--model", str(tiny_checkpoint), "--variant", "a", "--variant", "b",
                   "--source", f"rendered:{rendered_root}", "--split", "val_timbre", "--pairs", "80", "--groups", "2",
                   "--json", str(out / "r.json"), "--markdown", str(out / "r.md")])  # fmt: skip
    return result, out


def test_benchmark_matches_the_trainers_validation(bench_run: tuple[dict, Path], rendered_root: Path,
                                                   tiny_checkpoint: Path) -> None:
    model = load_pretrained(tiny_checkpoint)
    expected = ValidationSet.build(str(rendered_root), model.config.window_samples, 80, 2).evaluate(model)
    result, _ = bench_run
    for name in ("a", "b"):
        assert result["results"][name] == {k[len("val_timbre/"):]: v for k, v in expected.items()
                                           if k.startswith("val_timbre/") and "@" in k and not is_interval_metric(k)}


def test_benchmark_writes_json_and_markdown(bench_run: tuple[dict, Path]) -> None:
    result, out = bench_run
    assert json.loads((out / "r.json").read_text()) == result
    assert list(result["results"]) == ["a", "b", BASELINE]
    assert all(0 <= v <= 1 for r in result["results"].values() for v in r.values())
    assert result["baseline"]["tuned_on"] == "val"
    assert np.hypot(*result["baseline"]["weights"].values()) == pytest.approx(1.0)
    lines = (out / "r.md").read_text().splitlines()
    assert lines[0] == "| model | acc@2 | acc@8 | acc@16 | acc@64 | hard@8 |" and len(lines) == 5


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tune-split", "val_timbre"], "--tune-split must differ from --split"),
        (["--variant", "x", "--variant", "y"], "--variant expects one name per --model"),
        (["--seconds", "2"], "embeds 1 s windows but the clips are 2 s"),
        (["--baseline-weights", "1"], "--baseline-weights expects W_CHROMA,W_ONSET"),
        (["--split", "nope"], "No songs in split 'nope'"),
    ],
)
def test_user_errors_are_one_line(extra: list[str], message: str, rendered_root: Path, tiny_checkpoint: Path,
                                  capsys: pytest.CaptureFixture) -> None:
    argv = ["--model", str(tiny_checkpoint), "--source", f"rendered:{rendered_root}", "--pairs", "8", "--groups", "1",
            "--ks", "2"]  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        main(argv + extra)
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and message in err and err.count("\n") == 1


def test_songs_prefix_keeps_only_matching_songs(rendered_root: Path, tiny_checkpoint: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    """`--songs` narrows the evaluated (and tuning) songs; a prefix matching none is a clear error."""
    common = ["--no-baseline", "--source", f"rendered:{rendered_root}", "--split", "val_timbre", "--groups", "1"]
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", str(tiny_checkpoint), "--songs", "corpus/bach/", *common])
    assert exit_info.value.code == 1
    assert "No song of split 'val_timbre' starts with ['corpus/bach/']" in capsys.readouterr().err
    names = sorted(p.name for p in (rendered_root / "val_timbre" / "procedural").iterdir())
    songs = load_songs(["rendered"], str(rendered_root), "val_timbre")
    kept = select_songs(songs, [f"procedural/{names[0]}", f"procedural/{names[1]}"], "val_timbre")
    assert [s.name for s in kept] == [f"procedural/{n}" for n in names[:2]]
    assert select_songs(songs, [], "val_timbre") == songs
    # end to end: the pairs come from the kept songs only
    result = main(["--model", str(tiny_checkpoint), "--songs", f"procedural/{names[0]}", "--songs",
                   f"procedural/{names[1]}", *common[:-2], "--groups", "1", "--pairs", "8", "--ks", "2"])
    assert result["songs"] == 2 and result["song_prefixes"] == [f"procedural/{n}" for n in names[:2]]
