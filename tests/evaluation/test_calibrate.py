"""`python -m evaluation.calibrate` on a generated render cache and the tiny checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fake_data import write_rendered_cache

from evaluation.calibrate import main
from phalar_metric import PhaLarScore


@pytest.fixture(scope="module")
def rendered_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rendered_cache(tmp_path_factory.mktemp("rendered"), songs_per_split=6, seconds=6.0)


def test_fits_writes_into_the_checkpoint_and_reports(
    rendered_root: Path, tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = shutil.copytree(tiny_checkpoint, tmp_path / "ckpt")
    (folder / "README.md").write_text("# Card\n\n## Limitations\nSome.\n")
    argv = ["--model", str(folder), "--source", f"rendered:{rendered_root}", "--pairs", "12",
            "--out", str(folder / "calibration.json"), "--json", str(tmp_path / "c.json")]  # fmt: skip
    result = main(argv)
    assert json.loads((tmp_path / "c.json").read_text()) == result
    assert set(result["splits"]) == {"val", "val_timbre"}
    fit = result["splits"]["val"]
    assert fit["positives"] == 12 and 0 < fit["negatives"] <= 12 * 11  # every context with other songs' targets
    assert 0 <= result["splits"]["val_timbre"]["ece"] <= 1 and result["a"] > 0
    metric = PhaLarScore.from_pretrained(folder)  # listed in checksums.json, so used
    assert (metric.calibration.a, metric.calibration.b) == (result["a"], result["b"])
    assert metric.calibration.fit["split"] == "val" and metric.calibration.fit["command"].startswith("python -m")
    main(argv)  # a second fit replaces the card's section
    card = (folder / "README.md").read_text()
    assert card.count("## Calibration") == 1 and card.index("## Limitations") < card.index("## Calibration")
    assert "| val (fit) | 12 |" in capsys.readouterr().out


def test_errors_are_one_line(rendered_root: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture) -> None:
    for extra, message in ((["--eval-split", "val"], "--eval-split must differ from --split (val)"),
                           (["--pairs", "1"], "--pairs expects >= 2")):  # fmt: skip
        with pytest.raises(SystemExit) as exit_info:
            main(["--model", str(tiny_checkpoint), "--source", f"rendered:{rendered_root}", *extra])
        err = capsys.readouterr().err
        assert exit_info.value.code == 1 and message in err and err.count("\n") == 1
