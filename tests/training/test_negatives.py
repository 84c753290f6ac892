"""The extra negatives: spectrogram transposition and stretch, degenerate clips, their place in the loss."""

from __future__ import annotations

import numpy as np
import torch

from training.loss import info_nce
from training.negatives import (DEGENERATE_KINDS, click_train, degenerate_clips, draw_stretches, draw_transpositions,
                                pink_noise, stretch_spec, transpose_spec)

RATE = 16000


def test_transpose_moves_a_peak_by_the_bins_and_fills_the_floor() -> None:
    spec = torch.zeros(2, 24, 5)
    spec[:, 10, :] = 1.0
    out = transpose_spec(spec, torch.tensor([3, -12]))
    assert torch.equal(out[0, 13], torch.ones(5)) and out[0].sum() == 5
    assert out[1, :, :].sum() == 0  # bin 10 - 12 < 0 is not in the clip's range: nothing comes back
    up = transpose_spec(torch.ones(1, 24, 5), torch.tensor([4]))
    assert torch.equal(up[0, :4], torch.zeros(4, 5)) and torch.equal(up[0, 4:], torch.ones(20, 5))


def test_stretch_identity_and_rate() -> None:
    spec = torch.rand(3, 6, 40)
    same = stretch_spec(spec, torch.ones(3), torch.tensor([0, 10, 39]))
    assert torch.allclose(same, spec)
    ramp = torch.arange(40.0).expand(1, 2, 40)
    fast = stretch_spec(ramp, torch.tensor([1.05]), torch.tensor([20]))
    t = torch.arange(40.0)
    expected = 20 + (t - 20) * 1.05
    inside = (expected >= 0) & (expected <= 39)
    assert torch.allclose(fast[0, 0, inside], expected[inside], atol=1e-4)
    assert fast[0, 0, 0] == 0 and fast[0, 0, -1] < expected[-1]  # read outside the clip: faded to the floor


def test_draws_are_in_range_and_seeded() -> None:
    bins = draw_transpositions(np.random.default_rng(0), 1000)
    assert set(np.abs(bins)) == set(range(1, 12))
    assert np.array_equal(bins, draw_transpositions(np.random.default_rng(0), 1000))
    rate, anchor = draw_stretches(np.random.default_rng(1), 500, 313)
    dev = np.abs(rate - 1)
    assert dev.min() >= 0.03 and dev.max() <= 0.08 and (rate > 1).any() and (rate < 1).any()
    assert anchor.min() >= 0 and anchor.max() < 313


def test_degenerate_clips_cover_every_kind_at_their_levels() -> None:
    clips = degenerate_clips(np.random.default_rng(3), 2 * len(DEGENERATE_KINDS), RATE, RATE)
    assert clips.shape == (10, RATE) and clips.dtype == np.float32
    rms_db = 10 * np.log10(np.mean(clips.astype(np.float64) ** 2, axis=1) + 1e-30)
    assert (rms_db < -250).sum() == 2  # digital silence, twice
    assert ((rms_db > -91) & (rms_db < -49)).sum() == 2  # quiet noise
    assert np.abs(clips).max() <= 1.0
    assert abs(np.sqrt(np.mean(pink_noise(np.random.default_rng(0), 4096) ** 2)) - 1) < 1e-6
    clicks = click_train(np.random.default_rng(0), 4 * RATE, RATE)
    assert np.count_nonzero(np.abs(clicks) > 0.05) < 0.05 * clicks.size  # sparse bursts


def test_extra_columns_are_negatives_only() -> None:
    scores = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    extra = torch.randn(4, 3, generator=torch.Generator().manual_seed(1), requires_grad=True)
    loss = info_nce(scores, 0.0, extra)
    loss.backward()
    assert torch.all(extra.grad > 0)  # raising a negative's score always raises the loss
    assert info_nce(scores, 0.0, extra.detach() - 1e4) == info_nce(scores)  # a negative far below costs nothing
    rows = torch.nn.functional.cross_entropy(torch.cat([scores, extra.detach()], 1), torch.arange(4))
    cols = torch.nn.functional.cross_entropy(scores.T, torch.arange(4))
    assert torch.isclose(info_nce(scores, 0.0, extra.detach()), (rows + cols) / 2)
