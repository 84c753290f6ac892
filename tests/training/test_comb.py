"""Combs in the pooling projection (training/comb.py): W's spectrum along frequency, the
excess of a period over its neighbours, the penalty, its gradient and its use in training."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from helpers import model_with_period

from evaluation.pooling_spectrum import without_period
from phalar_metric.config import tiny_config
from phalar_metric.hub import load_pretrained, save_pretrained
from phalar_metric.model import PhaLar
from tiny_data import TINY_MODEL
from training import train
from training.comb import (BLIND_PERIODS, PERIODS, above_neighbours, blind_share, comb_penalty, fold_counts,
                           frequency_spectrum, period_bin, period_bins, period_excess, projection)


@pytest.mark.parametrize(("n_bins", "per_octave"), [(35, 12), (36, 12), (72, 24)])
def test_shares_are_the_full_dft_folded(n_bins: int, per_octave: int) -> None:
    """Each rfft bin's share is that of its frequency and its mirror in the full DFT."""
    torch.manual_seed(0)
    model = PhaLar(tiny_config(n_bins=n_bins, bins_per_octave=per_octave)).eval()
    power = torch.fft.fft(projection(model).detach().double(), dim=-1).abs().square().sum(dim=(0, 1))
    power = power / power.sum()
    folded = torch.stack([power[k] + (power[-k] if 0 < k < n_bins - k else 0) for k in range(n_bins // 2 + 1)])
    assert torch.allclose(frequency_spectrum(model), folded)
    assert float(fold_counts(n_bins).sum()) == n_bins
    assert period_bin(model, 4.0) == round(n_bins / (4 * per_octave / 12))  # bins, not semitones


def test_a_period_beyond_the_dft_is_refused() -> None:
    model = PhaLar(tiny_config(n_bins=35)).eval()
    assert period_bins(model, 2.4) == slice(14, 17)
    for semitones in (2.0, 80.0):  # bin 18 of 0..17; bin 0
        with pytest.raises(ValueError, match="not a DFT bin"):
            period_bin(model, semitones)
    with pytest.raises(ValueError, match="positive"):
        period_bin(model, 0.0)
    with pytest.raises(ValueError, match="not a DFT bin"):
        comb_penalty(model)  # period 2 is a blind period


def test_above_neighbours_is_a_peak_s_excess_over_the_bins_around_it() -> None:
    flat = torch.full((43,), 1 / 43)
    assert float(above_neighbours(flat, slice(20, 23))) == pytest.approx(0.0, abs=1e-7)
    peaked = flat.clone()
    peaked[21] += 0.05
    assert float(above_neighbours(peaked, slice(20, 23))) == pytest.approx(0.05)
    assert float(above_neighbours(peaked, slice(41, 44))) == pytest.approx(0.0, abs=1e-7)  # the last bins: one side
    counts = fold_counts(84)  # the Nyquist bin 42 holds one frequency: half a median
    assert float(above_neighbours(flat, slice(41, 44), counts)) == pytest.approx(0.5 / 43)


def test_white_noise_has_no_excess_at_any_period_nyquist_included() -> None:
    """A W of white noise has a flat spectrum per frequency of the full DFT: every period,
    period 2 at the Nyquist bin of 36 bins too, stands within noise of its neighbours."""
    model = model_with_period(4, amplitude=0.0, noise=1.0, offset=0.0, embed_dim=64)
    spectrum = frequency_spectrum(model)
    for p in PERIODS:
        assert abs(float(period_excess(model, spectrum, p))) < 0.01, p


@pytest.mark.parametrize("period", [*BLIND_PERIODS, 12.0, 2.4])
def test_counts_the_periods_deaf_to_some_interval_and_not_the_others(period: float) -> None:
    """A cosine of a blind period (deaf to some interval of 1-11 semitones) is penalised by its
    excess, its share of W's energy (1/3 beside the constant; 1/2 at the Nyquist bin, which holds
    one frequency); one of period 12 or 2.4 semitones (hearing every interval) is not."""
    model = model_with_period(period)
    share = float(frequency_spectrum(model)[period_bin(model, period)])
    assert share == pytest.approx(1 / 2 if period == 2.0 else 1 / 3)
    expected = share if period in BLIND_PERIODS else 0.0
    assert float(comb_penalty(model)) == pytest.approx(expected, abs=1e-6)


def test_a_valley_is_not_penalised() -> None:
    """A blind period below its neighbours (run np1's period 4 after the comb's removal) adds
    nothing: only peaks count."""
    model = without_period(model_with_period(4, amplitude=0.0, noise=1.0, offset=0.0, embed_dim=64), 4.0)
    valley = float(period_excess(model, frequency_spectrum(model), 4.0))
    others = sum(max(float(period_excess(model, frequency_spectrum(model), p)), 0.0) for p in BLIND_PERIODS if p != 4.0)
    assert valley < -0.05 and float(comb_penalty(model)) == pytest.approx(others)


def test_its_gradient_lowers_the_peak_and_leaves_the_neighbours_alone() -> None:
    """The gradient of the excess reaches the window's bins only, positively (a step against it
    lowers the peak), never the bins it is compared with."""
    spectrum = torch.full((43,), 1 / 43, requires_grad=True)
    excess = above_neighbours(spectrum + torch.nn.functional.one_hot(torch.tensor(21), 43) * 0.05, slice(20, 23))
    excess.backward()
    assert torch.equal(spectrum.grad.nonzero().flatten(), torch.tensor([20, 21, 22]))
    assert (spectrum.grad[20:23] > 0).all()


@pytest.mark.parametrize("penalty", [comb_penalty, blind_share])
def test_its_gradient_reaches_only_w_and_a_step_against_it_lowers_it(penalty: Callable) -> None:
    model = model_with_period(3, amplitude=0.3, noise=0.1)
    value = penalty(model)
    value.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert list(grads) == ["pooling.proj.weight"]
    with torch.no_grad():
        model.pooling.proj.weight -= 0.5 * grads["pooling.proj.weight"] / grads["pooling.proj.weight"].norm()
        assert float(penalty(model)) < float(value)


@pytest.mark.parametrize("period", [*BLIND_PERIODS, 12.0, 2.4])
def test_blind_share_is_the_energy_at_the_blind_periods(period: float) -> None:
    """A cosine of a blind period puts its share of W's energy (1/3 beside the constant, 1/2 at
    the Nyquist bin) into `blind_share`; one of period 12 or 2.4 semitones puts nothing."""
    model = model_with_period(period)
    expected = (1 / 2 if period == 2.0 else 1 / 3) if period in BLIND_PERIODS else 0.0
    assert float(blind_share(model).detach()) == pytest.approx(expected, abs=1e-6)


def test_blind_share_counts_a_smooth_spectrum_where_the_excess_does_not() -> None:
    """White noise: no period stands out (`comb_penalty` about 0), but the blind periods' bins
    hold their share of the flat spectrum (21 of the 36 frequencies: bins 5-7, 8-10, 11-13 twice,
    17 twice and the Nyquist bin 18 once)."""
    model = model_with_period(4, amplitude=0.0, noise=1.0, offset=0.0, embed_dim=64)
    assert float(blind_share(model).detach()) == pytest.approx(21 / 36, abs=0.05)
    assert float(comb_penalty(model).detach()) < 0.05


def test_an_embedding_cannot_tell_a_shift_by_the_period_apart() -> None:
    """Why the penalty: with W periodic in p bins (and nothing else depending on frequency), a
    spectrogram shifted by p bins away from the edges embeds alike."""
    model = model_with_period(4)
    spec = torch.zeros(1, 36, 80)
    spec[0, 10, ::4] = 1.0
    with torch.no_grad():
        base, by4, by3 = (model.embed_spectrogram(spec.roll(k, dims=1)) for k in (0, 4, 3))
    assert (base - by4).abs().max() < 1e-3 and (base - by3).abs().max() > 0.1  # |base| up to ~2


def test_a_mel_front_end_is_refused_before_the_data(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CQT"):
        train.main([f"--data={tmp_path / 'no_cache'}", f"--out_dir={tmp_path / 'run'}", "--comb_weight=1.0",
                    f"--model={ {**TINY_MODEL, 'frontend': 'mel'} !r}"])


def test_a_run_with_a_penalty_lowers_a_planted_comb_more_than_one_without(rendered_root: Path,
                                                                          tmp_path: Path) -> None:
    """Three steps from a W with a period of 4 bins: `--comb_weight` lowers the comb's excess,
    `--blind_weight` its share, each more than a run without either."""
    start = tmp_path / "start"
    save_pretrained(model_with_period(4, amplitude=0.05, noise=0.05, offset=0.0, **TINY_MODEL), start)
    after = {}
    for option in ("none", "comb_weight", "blind_weight"):
        out = tmp_path / option
        weight = [] if option == "none" else [f"--{option}=100.0"]
        train.main([f"--data={rendered_root}", f"--out_dir={out}", f"--init_from={start}", "--max_steps=3",
                    "--batch_size=6", "--group_size=3", "--hard_fraction=0.5", "--warmup_steps=1", "--eval_every=3",
                    "--eval_pairs=100", "--eval_groups=1", "--threads=1", *weight])
        model = train.checkpoint_model(out / "ckpt.pt")
        after[option] = float(comb_penalty(model).detach()), float(blind_share(model).detach())
    before = load_pretrained(start)
    assert float(comb_penalty(before).detach()) > 0.1
    assert after["comb_weight"][0] < min(after["none"][0], float(comb_penalty(before).detach()))
    assert after["blind_weight"][1] < min(after["none"][1], float(blind_share(before).detach()))
