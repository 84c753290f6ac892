"""Backbone: axial residual blocks `[B, F, T]` -> `[B, H, F, T']`, T' per `output_frames`."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from phalar_metric.backbone import Backbone, output_frames
from phalar_metric.config import PhaLarConfig, tiny_config

torch.set_num_threads(1)


def spectrogram(seed: int, *shape: int) -> torch.Tensor:
    """A random spectrogram-like input in [0, 1]."""
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def backbone(seed: int, **overrides) -> Backbone:
    torch.manual_seed(seed)
    return Backbone(tiny_config(**overrides)).eval()


@settings(max_examples=40, deadline=None)
@given(frames=st.integers(1, 2000), stages=st.integers(0, 8))
def test_output_frames_is_ceil_of_the_stride(frames: int, stages: int) -> None:
    assert output_frames(frames, stages) == math.ceil(frames / 2**stages)


def test_default_backbone_layout() -> None:
    cfg = PhaLarConfig()
    net = Backbone(cfg)
    assert len(net.blocks) == 10
    strides = [block.time.stride for block in net.blocks]
    assert strides == [(1, 2), (1, 1)] * 4 + [(1, 1)] * 2  # 16x in time, never in frequency
    for block in net.blocks:  # axial: 3x1 along frequency, 1x3 along time, 1x1 pointwise
        assert block.freq.kernel_size == (3, 1) and block.time.kernel_size == (1, 3)
        assert all(conv.kernel_size == (1, 1) for conv in block.mlp if isinstance(conv, torch.nn.Conv2d))
    assert output_frames(cfg.window_samples // cfg.hop_length + 1, cfg.strided_stages) == 20


@settings(max_examples=15, deadline=None)
@given(
    channels=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    data=st.data(),
    batch=st.integers(1, 3),
    bins=st.integers(2, 12),  # GroupNorm needs > 1 value per sample: 1 bin x 1 frame x 1 channel is not
    frames=st.integers(1, 40),
)
def test_output_shape(channels: list[int], data: st.DataObject, batch: int, bins: int, frames: int) -> None:
    stages = data.draw(st.integers(0, len(channels) - 1))
    net = backbone(0, channels=channels, strided_stages=stages)
    out = net(spectrogram(1, batch, bins, frames))
    assert out.shape == (batch, channels[-1], bins, output_frames(frames, stages))
    assert torch.isfinite(out).all()


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), batch=st.integers(1, 3), frames=st.integers(8, 64))
def test_channels_last_does_not_change_values(seed: int, batch: int, frames: int) -> None:
    net = backbone(seed)
    spec = spectrogram(seed, batch, 36, frames)
    with torch.no_grad():
        x = net.stem(spec.unsqueeze(1))
        contiguous = net.blocks(x.contiguous())
        channels_last = net.blocks(x.contiguous(memory_format=torch.channels_last))
        full = net(spec)
    scale = contiguous.abs().max()
    torch.testing.assert_close(channels_last, contiguous, rtol=1e-5, atol=1e-5 * scale)
    torch.testing.assert_close(full, contiguous, rtol=1e-5, atol=1e-5 * scale)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), batch=st.integers(2, 4))
def test_each_sample_is_independent_of_the_batch(seed: int, batch: int) -> None:
    """GroupNorm(1, .) normalises per sample: no statistics are shared across the batch."""
    net = backbone(seed)
    spec = spectrogram(seed, batch, 36, 32)
    with torch.no_grad():
        together = net(spec)
        alone = torch.cat([net(spec[i : i + 1]) for i in range(batch)])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5 * alone.abs().max())


@pytest.mark.parametrize("frames", [125, 126, 313, 314])
def test_training_backward_for_even_and_odd_frame_counts(frames: int) -> None:
    """Regression: with channels_last on CPU, torch 2.13's oneDNN backward of the strided 1x1
    skip conv corrupted the heap (a segfault) whenever a strided block saw an even frame count."""
    net = backbone(0).train()
    spec = spectrogram(0, 2, 36, frames).requires_grad_()
    net(spec).square().mean().backward()
    assert torch.isfinite(spec.grad).all()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_dropout_acts_in_training_only() -> None:
    net = backbone(0, dropout=0.5)
    spec = spectrogram(0, 2, 36, 32)
    with torch.no_grad():
        assert torch.equal(net(spec), net(spec))
        net.train()
        assert not torch.equal(net(spec), net(spec))
