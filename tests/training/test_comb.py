"""The comb penalty on the pooling projection: what it counts, its gradient, its use in training."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from phalar_metric.config import PhaLarConfig
from phalar_metric.hub import load_pretrained, save_pretrained
from phalar_metric.model import PhaLar
from tiny_data import TINY_MODEL
from training import train
from training.comb import comb_penalty, frequency_spectrum, period_bin, projection


def _planted(period_semitones: float, amplitude: float, noise: float = 0.0, offset: float = 1.0,
             seed: int = 0) -> PhaLar:
    """A tiny model (36 bins, one a semitone) whose W is `offset` plus `amplitude` times a
    cosine of `period_semitones` along frequency plus `noise` times Gaussian noise."""
    torch.manual_seed(seed)
    model = PhaLar(PhaLarConfig(**TINY_MODEL))
    w = projection(model).detach()
    f = torch.arange(w.shape[-1], dtype=torch.float32)
    planted = offset + amplitude * torch.cos(2 * math.pi * f / period_semitones) + noise * torch.randn_like(w)
    model.pooling.proj.weight.data.copy_(planted.reshape_as(model.pooling.proj.weight))
    return model


def test_counts_the_periods_deaf_to_some_interval_and_not_the_others() -> None:
    """A cosine of period 4 semitones (deaf to ±4, ±8) is penalised by its excess, 1/3 of W's
    energy; one of period 12 or 2.4 semitones (hearing every interval) and a flat W are not."""
    assert float(comb_penalty(_planted(4.0, 1.0))) == pytest.approx(1 / 3, rel=1e-5)
    assert float(frequency_spectrum(_planted(4.0, 1.0))[period_bin(_planted(4.0, 1.0), 4.0)]) == pytest.approx(1 / 3)
    for period in (12.0, 2.4):
        assert float(comb_penalty(_planted(period, 1.0))) == pytest.approx(0.0, abs=1e-6), period
    assert float(comb_penalty(_planted(4.0, 0.0))) == pytest.approx(0.0, abs=1e-6)


def test_its_gradient_reaches_only_w_and_a_step_against_it_lowers_it() -> None:
    model = _planted(3.0, 0.3, noise=0.1)
    penalty = comb_penalty(model)
    penalty.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert list(grads) == ["pooling.proj.weight"]
    with torch.no_grad():
        model.pooling.proj.weight -= 0.5 * grads["pooling.proj.weight"] / grads["pooling.proj.weight"].norm()
    assert float(comb_penalty(model)) < float(penalty)


def test_a_mel_front_end_is_refused_before_the_data(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CQT"):
        train.main([f"--data={tmp_path / 'no_cache'}", f"--out_dir={tmp_path / 'run'}", "--comb_weight=1.0",
                    f"--model={ {**TINY_MODEL, 'frontend': 'mel'} !r}"])


def test_a_run_with_the_penalty_lowers_a_planted_comb_more_than_one_without(rendered_root: Path,
                                                                            tmp_path: Path) -> None:
    start = tmp_path / "start"
    save_pretrained(_planted(4.0, 0.05, noise=0.05, offset=0.0), start)
    after = {}
    for weight in (0.0, 100.0):
        out = tmp_path / f"run{weight:g}"
        train.main([f"--data={rendered_root}", f"--out_dir={out}", f"--init_from={start}", "--max_steps=3",
                    "--batch_size=6", "--group_size=3", "--hard_fraction=0.5", "--warmup_steps=1", "--eval_every=3",
                    "--eval_pairs=100", "--eval_groups=1", "--threads=1", f"--comb_weight={weight}"])
        after[weight] = float(comb_penalty(train.checkpoint_model(out / "ckpt.pt")))
    before = float(comb_penalty(load_pretrained(start)))
    assert before > 0.1 and after[100.0] < after[0.0] and after[100.0] < before
