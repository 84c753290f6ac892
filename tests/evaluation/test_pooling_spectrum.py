"""`python -m evaluation.pooling_spectrum` on the tiny checkpoint and hand-made projections."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from evaluation.pooling_spectrum import PERIODS, frequency_spectrum, main, period_bin, projection, without_period
from phalar_metric.config import tiny_config
from phalar_metric.hub import load_pretrained
from phalar_metric.model import PhaLar


def _model_with_period(period_bins: int, amplitude: float = 1.0) -> PhaLar:
    """A tiny model whose W is a constant plus `amplitude` times a cosine of `period_bins` along frequency."""
    model = PhaLar(tiny_config()).eval()
    w = projection(model)
    f = torch.arange(w.shape[-1], dtype=torch.float32)
    comb = 1.0 + amplitude * torch.cos(2 * math.pi * f / period_bins)
    model.pooling.proj.weight.data.copy_(comb.expand_as(w).reshape_as(model.pooling.proj.weight))
    return model


def test_a_cosine_in_w_is_found_at_its_period_and_removed() -> None:
    model = _model_with_period(4)  # 36 bins, one a semitone: DFT bin 9
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


def test_an_embedding_cannot_tell_a_shift_by_the_period_apart() -> None:
    """Why the check matters: with W periodic in p bins (and nothing else depending on
    frequency), a spectrogram shifted by p bins away from the edges embeds alike."""
    model = _model_with_period(4)
    spec = torch.zeros(1, 36, 80)
    spec[0, 10, ::4] = 1.0
    with torch.no_grad():
        base, by4, by3 = (model.embed_spectrogram(spec.roll(k, dims=1)) for k in (0, 4, 3))
    assert torch.allclose(base, by4, atol=1e-4) and not torch.allclose(base, by3, atol=1e-2)


def test_writes_the_shares_and_the_copy(tiny_checkpoint: Path, tmp_path: Path) -> None:
    main(["--model", str(tiny_checkpoint), "--variant", "tiny", "--remove", "4", "--out", str(tmp_path / "copy"),
          "--json", str(tmp_path / "s.json"), "--markdown", str(tmp_path / "s.md")])
    shares = json.loads((tmp_path / "s.json").read_text())["shares"]["tiny"]
    assert list(shares) == ["0", *(f"{p:g}" for p in PERIODS)] and all(0 <= v <= 1 for v in shares.values())
    assert (tmp_path / "s.md").read_text().count("\n") == 2 + 1 + len(PERIODS)
    copy = load_pretrained(tmp_path / "copy")
    assert float(frequency_spectrum(copy)[period_bin(copy, 4.0)]) < 1e-9


def test_remove_without_out_is_a_one_line_error(tiny_checkpoint: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", str(tiny_checkpoint), "--remove", "4"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "--remove and --out" in err and err.count("\n") == 1
