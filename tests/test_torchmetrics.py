"""phalar_metric.torchmetrics: the Metric class agrees with the functional API."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import RATE, synth

from phalar_metric import PhaLar, phalar_paired_scores

pytest.importorskip("torchmetrics")
from phalar_metric.torchmetrics import PhaLarCoherence  # noqa: E402


@pytest.fixture(scope="module")
def batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Two batches of (mixes, stems) `[B, samples]` at 16 kHz."""
    mixes = [synth(RATE, f0=f, clicks=(0.3, 0.9)) for f in (110.0, 55.0, 82.0)]
    stems = [synth(RATE, f0=f, clicks=(0.5,)) for f in (330.0, 220.0, 165.0)]
    return [
        (torch.from_numpy(np.stack(mixes[:2])), torch.from_numpy(np.stack(stems[:2]))),
        (torch.from_numpy(np.stack(mixes[2:])), torch.from_numpy(np.stack(stems[2:]))),
    ]


def test_mean_over_batches_equals_the_functional_scores(tiny_model: PhaLar, batches) -> None:
    metric = PhaLarCoherence(sample_rate=RATE, model=tiny_model, batch_size=1)
    for mixes, stems in batches:
        metric.update(mixes, stems)
    mixes, stems = (torch.cat(t) for t in zip(*batches))
    want = phalar_paired_scores(tiny_model, list(mixes), list(stems), RATE, batch_size=1).mean()
    assert metric.total == 3
    assert float(metric.compute()) == pytest.approx(float(want), rel=1e-6)
    metric.reset()
    assert metric.total == 0 and metric.sum_scores == 0


def test_reduction_none_gives_each_pair_in_order(tiny_model: PhaLar, batches) -> None:
    metric = PhaLarCoherence(sample_rate=RATE, model=tiny_model, batch_size=1, reduction="none")
    assert metric.compute().shape == (0,)
    for mixes, stems in batches:
        metric.update(mixes, stems)
    mixes, stems = (torch.cat(t) for t in zip(*batches))
    want = phalar_paired_scores(tiny_model, list(mixes), list(stems), RATE, batch_size=1)
    got = metric.compute()
    assert got.shape == (3,) and got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    metric.reset()
    assert metric.compute().shape == (0,)


def test_reduction_none_concatenates_across_processes(tiny_model: PhaLar, batches) -> None:
    """Two ranks, faked by a gather that returns this rank's state and a second rank's (here: the same)."""

    def gather(tensor: torch.Tensor, group=None) -> list[torch.Tensor]:
        return [tensor, tensor.clone()]

    metric = PhaLarCoherence(sample_rate=RATE, model=tiny_model, batch_size=1, reduction="none",
                             dist_sync_fn=gather, distributed_available_fn=lambda: True)  # fmt: skip
    metric.update(*batches[0])
    alone = PhaLarCoherence(sample_rate=RATE, model=tiny_model, batch_size=1, reduction="none")
    alone.update(*batches[0])
    np.testing.assert_allclose(metric.compute().numpy(), np.tile(alone.compute().numpy(), 2))  # rank 0, then rank 1


def test_loads_a_checkpoint_and_resamples(tiny_checkpoint: Path) -> None:
    metric = PhaLarCoherence(sample_rate=44100, repo_id_or_path=tiny_checkpoint)
    wav = torch.from_numpy(np.stack([synth(44100, f0=110.0), synth(44100, f0=220.0)]))
    metric.update(wav, wav.flip(0))
    assert torch.isfinite(metric.compute())


@pytest.mark.parametrize(
    ("mixes", "stems", "message"),
    [
        (torch.zeros(RATE), torch.zeros(1, RATE), r"Argument `mixes` expected a tensor \[B, samples\], got \[16000\]"),
        (torch.zeros(1, RATE), np.zeros((1, RATE)), r"Argument `stems` expected a tensor \[B, samples\], got ndarray"),
        (torch.zeros(2, RATE), torch.zeros(1, RATE), "expected the same batch size, got 2 and 1"),
        (torch.zeros(1, RATE), torch.full((1, RATE), float("nan")), r"Argument `stems\[0\]` contains NaN"),
    ],
)
def test_bad_batches_raise_naming_the_argument(tiny_model: PhaLar, mixes, stems, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PhaLarCoherence(sample_rate=RATE, model=tiny_model).update(mixes, stems)


def test_bad_sample_rate_raises(tiny_model: PhaLar) -> None:
    with pytest.raises(ValueError, match="Argument `sample_rate` expected a positive integer"):
        PhaLarCoherence(sample_rate=0, model=tiny_model)
    with pytest.raises(ValueError, match=r"Argument `reduction` expected one of \('mean', 'none'\), got 'sum'"):
        PhaLarCoherence(sample_rate=RATE, model=tiny_model, reduction="sum")


def test_missing_torchmetrics_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torchmetrics", None)  # makes `import torchmetrics` fail
    monkeypatch.delitem(sys.modules, "phalar_metric.torchmetrics")
    with pytest.raises(ImportError, match=r"pip install 'phalar-metric\[torchmetrics\]'"):
        importlib.import_module("phalar_metric.torchmetrics")
