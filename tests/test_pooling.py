"""Spectral pooling: `[B, H, F, T']` -> `[B, D, C]` complex, and the Fourier shift theorem."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from phalar_metric.config import tiny_config
from phalar_metric.pooling import GlobalAveragePooling, SpectralPooling

torch.set_num_threads(1)


def pooling(dim: int, bins: int, drop_dc: bool, in_features: int = 6, cls: type = SpectralPooling):
    torch.manual_seed(0)
    return cls(tiny_config(embed_dim=dim, n_pool_bins=bins, pool_drop_dc=drop_dc), in_features)


def randn(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def kept_bins(bins: int, drop_dc: bool) -> torch.Tensor:
    """The rfft bin index c of each output column: 1..C, or 0..C-1 with the DC bin."""
    return torch.arange(bins) + (1 if drop_dc else 0)


sizes = dict(
    batch=st.integers(1, 3),
    frames=st.integers(1, 24),
    dim=st.integers(1, 6),
    bins=st.integers(1, 8),
    drop_dc=st.booleans(),
    seed=st.integers(0, 2**16),
)


@settings(max_examples=60, deadline=None)
@given(shift=st.integers(-50, 50), **sizes)
def test_circular_shift_rotates_bin_c_by_the_shift_theorem(
    shift: int, batch: int, frames: int, dim: int, bins: int, drop_dc: bool, seed: int
) -> None:
    """Rolling Z by k frames multiplies kept bin c by exp(-2 pi i c k / T')."""
    pool = pooling(dim, bins, drop_dc)
    z = randn(seed, batch, frames, dim)  # Z `[B, T', D]`
    s, s_shifted = pool.spectrum(z), pool.spectrum(torch.roll(z, shift, dims=1))
    c = kept_bins(bins, drop_dc).double()
    rotation = torch.exp(-2j * torch.pi * torch.remainder(c * shift, frames) / frames).to(torch.complex64)
    torch.testing.assert_close(s_shifted, s * rotation, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(s_shifted.abs(), s.abs(), rtol=1e-5, atol=1e-5)  # what |S| cannot see


@settings(max_examples=40, deadline=None)
@given(**sizes)
def test_spectrum_is_the_kept_orthonormal_rfft_zero_padded(
    batch: int, frames: int, dim: int, bins: int, drop_dc: bool, seed: int
) -> None:
    """Against numpy: kept bins of the orthonormal rfft, missing bins (T' short) exactly zero."""
    z = randn(seed, batch, frames, dim)
    s = pooling(dim, bins, drop_dc).spectrum(z)
    assert s.shape == (batch, dim, bins) and s.dtype == torch.complex64
    full = np.fft.rfft(z.double().numpy(), axis=1, norm="ortho")  # [B, T'//2 + 1, D]
    expected = np.zeros((batch, bins, dim), dtype=np.complex128)
    for j, c in enumerate(kept_bins(bins, drop_dc).tolist()):
        if c <= frames // 2:
            expected[:, j] = full[:, c]
    np.testing.assert_allclose(s.numpy(), expected.transpose(0, 2, 1), rtol=1e-5, atol=1e-5)
    missing = kept_bins(bins, drop_dc) > frames // 2
    assert (s[..., missing] == 0).all()


def test_short_inputs() -> None:
    z = randn(0, 2, 1, 3)  # a single frame
    assert (pooling(3, 4, drop_dc=True).spectrum(z) == 0).all()  # only DC exists, and it is dropped
    s = pooling(3, 4, drop_dc=False).spectrum(z)
    torch.testing.assert_close(s[..., 0], z[:, 0].to(torch.complex64))  # DC of one frame is the frame
    assert (s[..., 1:] == 0).all()
    s = pooling(3, 8, drop_dc=True).spectrum(randn(1, 2, 6, 3))  # T' = 6 has bins 0..3
    assert (s[..., :3] != 0).all() and (s[..., 3:] == 0).all()


@settings(max_examples=20, deadline=None)
@given(
    heights=st.integers(1, 4),
    freqs=st.integers(1, 5),
    shift=st.integers(-20, 20),
    batch=st.integers(1, 3),
    frames=st.integers(2, 16),
    dim=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_projection_is_per_frame_so_forward_keeps_the_shift_theorem(
    heights: int, freqs: int, shift: int, batch: int, frames: int, dim: int, seed: int
) -> None:
    pool = pooling(dim, 3, True, in_features=heights * freqs)
    x = randn(seed, batch, heights, freqs, frames)  # X `[B, H, F, T']`
    weight = pool.proj.weight.detach().reshape(dim, heights, freqs)  # W_proj over (H, F), H major
    torch.testing.assert_close(pool.project(x), torch.einsum("dhf,bhft->btd", weight, x), rtol=1e-5, atol=1e-5)
    rotation = torch.exp(-2j * torch.pi * torch.remainder(kept_bins(3, True) * shift, frames) / frames)
    torch.testing.assert_close(
        pool(torch.roll(x, shift, dims=-1)), pool(x) * rotation.to(torch.complex64), rtol=1e-5, atol=1e-5
    )


def test_spectral_pooling_sees_a_shift_that_gap_does_not() -> None:
    x = randn(0, 2, 3, 4, 8)
    spectral = pooling(5, 3, True, in_features=12)
    gap = pooling(5, 3, True, in_features=12, cls=GlobalAveragePooling)
    shifted = torch.roll(x, 1, dims=-1)
    assert (spectral(shifted) - spectral(x)).abs().max() > 0.1
    out = gap(x)
    assert out.shape == (2, 5) and out.dtype == torch.float32
    torch.testing.assert_close(out, gap.project(x).mean(dim=1))
    torch.testing.assert_close(gap(shifted), out)
    torch.testing.assert_close(gap(x[..., torch.randperm(8)]), out)  # any frame order
