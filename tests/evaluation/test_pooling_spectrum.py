"""`python -m evaluation.pooling_spectrum` on the tiny checkpoint and hand-made projections."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from evaluation.pooling_spectrum import main, without_period
from training.comb import PERIODS, above_neighbours, frequency_spectrum, period_bin, period_bins, projection
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


@pytest.mark.parametrize(("n_bins", "per_octave"), [(35, 12), (36, 12), (72, 24)])
def test_shares_are_the_full_dft_folded(n_bins: int, per_octave: int) -> None:
    """Each rfft bin's share is that of its frequency and its mirror in the full DFT."""
    torch.manual_seed(0)
    model = PhaLar(tiny_config(n_bins=n_bins, bins_per_octave=per_octave)).eval()
    power = torch.fft.fft(projection(model).double(), dim=-1).abs().square().sum(dim=(0, 1))
    power = power / power.sum()
    folded = torch.stack([power[k] + (power[-k] if 0 < k < n_bins - k else 0) for k in range(n_bins // 2 + 1)])
    assert torch.allclose(frequency_spectrum(model), folded)
    assert period_bin(model, 4.0) == round(n_bins / (4 * per_octave / 12))  # bins, not semitones


def test_a_period_beyond_the_dft_is_refused() -> None:
    model = PhaLar(tiny_config(n_bins=35)).eval()
    assert period_bins(model, 2.4) == slice(14, 17)
    for semitones in (2.0, 80.0):  # bin 18 of 0..17; bin 0
        with pytest.raises(ValueError, match="not a DFT bin"):
            period_bin(model, semitones)
    with pytest.raises(ValueError, match="positive"):
        period_bin(model, 0.0)


def test_above_neighbours_is_a_peak_s_excess_over_the_bins_around_it() -> None:
    flat = torch.full((43,), 1 / 43)
    assert float(above_neighbours(flat, slice(20, 23))) == pytest.approx(0.0, abs=1e-7)
    peaked = flat.clone()
    peaked[21] += 0.05
    assert float(above_neighbours(peaked, slice(20, 23))) == pytest.approx(0.05)
    assert float(above_neighbours(peaked, slice(41, 44))) == pytest.approx(0.0, abs=1e-7)  # the last bins: one side


def test_an_embedding_cannot_tell_a_shift_by_the_period_apart() -> None:
    """Why the check matters: with W periodic in p bins (and nothing else depending on
    frequency), a spectrogram shifted by p bins away from the edges embeds alike."""
    torch.manual_seed(0)
    model = _model_with_period(4)
    spec = torch.zeros(1, 36, 80)
    spec[0, 10, ::4] = 1.0
    with torch.no_grad():
        base, by4, by3 = (model.embed_spectrogram(spec.roll(k, dims=1)) for k in (0, 4, 3))
    assert (base - by4).abs().max() < 1e-3 and (base - by3).abs().max() > 0.1  # |base| up to ~2


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
