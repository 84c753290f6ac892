"""`python -m evaluation.pooling_spectrum` on the tiny checkpoint and hand-made projections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import model_with_period

from evaluation.pooling_spectrum import main, without_period
from phalar_metric.hub import load_pretrained
from training.comb import PERIODS, frequency_spectrum, period_bin, projection


def test_a_cosine_in_w_is_found_at_its_period_and_removed() -> None:
    model = model_with_period(4)  # 36 bins, one a semitone: DFT bin 9
    spectrum = frequency_spectrum(model)
    assert float(spectrum.sum()) == pytest.approx(1.0)
    k = period_bin(model, 4.0)
    assert k == 9 and float(spectrum[0]) == pytest.approx(2 / 3) and float(spectrum[k]) == pytest.approx(1 / 3)
    removed = without_period(model, 4.0)
    assert torch.allclose(projection(removed), torch.ones_like(projection(model)), atol=1e-5)
    assert float(frequency_spectrum(removed)[0]) == pytest.approx(1.0)
    for name, value in model.state_dict().items():  # nothing but W changes
        if name != "pooling.proj.weight":
            assert torch.equal(value, removed.state_dict()[name]), name


def test_writes_the_shares_and_the_copy(tiny_checkpoint: Path, tmp_path: Path) -> None:
    main(["--model", str(tiny_checkpoint), "--variant", "tiny", "--remove", "4", "--out", str(tmp_path / "copy"),
          "--json", str(tmp_path / "s.json"), "--markdown", str(tmp_path / "s.md")])
    shares = json.loads((tmp_path / "s.json").read_text())["shares"]["tiny"]
    assert list(shares) == ["0", *(f"{p:g}" for p in PERIODS)] and all(0 <= v <= 1 for v in shares.values())
    assert (tmp_path / "s.md").read_text().count("\n") == 2 + 1 + len(PERIODS)
    copy = load_pretrained(tmp_path / "copy")
    assert float(frequency_spectrum(copy)[period_bin(copy, 4.0)]) < 1e-9


def test_out_over_the_model_itself_is_a_one_line_error(tiny_checkpoint: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", str(tiny_checkpoint), "--remove", "4", "--out", str(tiny_checkpoint)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "own folder" in err and err.count("\n") == 1


def test_remove_without_out_is_a_one_line_error(tiny_checkpoint: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", str(tiny_checkpoint), "--remove", "4"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "--remove and --out" in err and err.count("\n") == 1


def test_reads_a_trainer_checkpoint_file(tiny_checkpoint: Path, tmp_path: Path) -> None:
    """`--model RUNS/x/ckpt.pt` (any evaluation command's `load_model`): the run's latest step."""
    model = load_pretrained(tiny_checkpoint)
    torch.save({"model": model.state_dict(), "model_config": model.config.to_dict(), "step": 7}, tmp_path / "ckpt.pt")
    main(["--model", str(tmp_path / "ckpt.pt"), "--model", str(tiny_checkpoint), "--variant", "ckpt", "--variant", "hub",
          "--json", str(tmp_path / "s.json")])
    shares = json.loads((tmp_path / "s.json").read_text())["shares"]
    assert shares["ckpt"] == shares["hub"]
    with pytest.raises(SystemExit):  # a missing ckpt.pt is a one-line error, not a Hub lookup
        main(["--model", str(tmp_path / "missing" / "ckpt.pt")])
