"""The one place that relies on nnAudio's internals: a faster `CQT2010v2` and fixed buffers.

`FastCQT2010v2` is nnAudio's `CQT2010v2` (its `forward` unchanged, the reference) with a
`fast_magnitude` that runs the same steps on the same kernels, only its strided low-pass
conv1d replaced by `StridedLowpass`. It reads attributes that nnAudio does not document
(`cqt_kernels_real`, `lowpass_filter`, `n_octaves`, `lenghts`, ...; `nnAudio.utils.get_cqt_complex`),
so it accepts only the nnAudio versions of `SUPPORTED_NNAUDIO`; its contract is the
comparison with nnAudio's own forward in tests/test_frontend_fast_cqt.py.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version

import torch
import torch.nn.functional as F
from nnAudio.features import CQT2010v2
from nnAudio.utils import get_cqt_complex
from torch import nn

SUPPORTED_NNAUDIO = ((0, 3, 3), (0, 4))  # [lowest, first unsupported): as pinned in pyproject.toml


def check_nnaudio_version(installed: str | None = None) -> None:
    """Raise `ImportError` unless nnAudio (`installed`, default: the installed version) is supported."""
    if installed is None:
        try:
            installed = version("nnAudio")
        except PackageNotFoundError:
            installed = "unknown"
    numbers = tuple(int(n) for n in re.findall(r"\d+", installed)[:3])
    low, high = SUPPORTED_NNAUDIO
    if not low <= numbers < high:
        pin = f"nnAudio>={'.'.join(map(str, low))},<{'.'.join(map(str, high))}"
        raise ImportError(f"phalar_metric's CQT front-end reads internals of {pin}, but nnAudio {installed} is "
                          f"installed: pip install '{pin}'")


def make_buffers_non_persistent(module: nn.Module) -> None:
    """Keep the fixed kernels of `module` and its submodules out of `state_dict`: they are
    rebuilt at init, never stored (nnAudio registers them as persistent buffers)."""
    for sub in module.modules():
        for name, buffer in list(sub.named_buffers(recurse=False)):
            sub.register_buffer(name, buffer, persistent=False)


class StridedLowpass(nn.Module):
    """`conv1d(x, taps, stride=stride, padding=(len(taps) - 1) // 2)` on one channel, as one matmul.

    nnAudio downsamples with that 1-channel conv, which is slow on CPU. Here the padded signal is cut
    into overlapping windows of `block` outputs, each multiplied by a fixed banded matrix whose
    column j holds the taps shifted by `stride * j`: the same products, with exact zeros in between.
    """

    def __init__(self, taps: torch.Tensor, stride: int, block: int = 64) -> None:
        super().__init__()
        taps = taps.flatten()
        self.n_taps, self.stride, self.block = taps.numel(), stride, block
        self.pad = (self.n_taps - 1) // 2
        window = stride * (block - 1) + self.n_taps  # input samples behind `block` outputs
        matrix = torch.zeros(window, block, dtype=taps.dtype)
        for j in range(block):
            matrix[stride * j : stride * j + self.n_taps, j] = taps
        self.register_buffer("matrix", matrix, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`x` `[B, samples]` -> `[B, (samples + 2 * pad - n_taps) // stride + 1]`."""
        n_out = (x.shape[-1] + 2 * self.pad - self.n_taps) // self.stride + 1
        if n_out < 1:
            raise ValueError(f"StridedLowpass needs at least {self.n_taps - 2 * self.pad} samples, got {x.shape[-1]}")
        # one spare block of right padding so the windows cover every output; the excess is cut
        x = F.pad(x, (self.pad, self.pad + self.stride * self.block))
        windows = x.unfold(-1, self.matrix.shape[0], self.stride * self.block)  # [B, blocks, window]
        return (windows @ self.matrix).flatten(-2)[..., :n_out]


class FastCQT2010v2(CQT2010v2):
    """nnAudio's `CQT2010v2` (Magnitude output), plus `fast_magnitude`; no buffer in `state_dict`.

    Args:
        sample_rate: input rate in Hz.
        hop_length: samples between frames.
        fmin: centre of the lowest bin in Hz.
        n_bins: number of bins.
        bins_per_octave: bins per octave.
        filter_scale: window-length factor of the CQT kernels (1: nnAudio's and librosa's default).

    Raises:
        ImportError: the installed nnAudio is not one of `SUPPORTED_NNAUDIO`.
    """

    def __init__(self, sample_rate: int, hop_length: int, fmin: float, n_bins: int, bins_per_octave: int,
                 filter_scale: float = 1.0) -> None:
        check_nnaudio_version()
        super().__init__(sr=sample_rate, hop_length=hop_length, fmin=fmin, n_bins=n_bins, filter_scale=filter_scale,
                         bins_per_octave=bins_per_octave, output_format="Magnitude", verbose=False)  # fmt: skip
        # nnAudio's low-pass filters, applied by the fast equivalent of its strided conv1d
        self.early_lowpass = (
            StridedLowpass(self.early_downsample_filter, self.downsample_factor) if self.earlydownsample else None
        )
        self.halve = StridedLowpass(self.lowpass_filter, 2)
        make_buffers_non_persistent(self)

    def fast_magnitude(self, wav: torch.Tensor) -> torch.Tensor:
        """`wav` `[B, samples]` -> linear magnitude `[B, n_bins, frames]`, as `forward`.

        `CQT2010v2.forward` (Magnitude, librosa normalisation) step for step, with its kernels
        and buffers; only its downsampling conv1d runs as `StridedLowpass`.
        """
        x = wav if self.early_lowpass is None else self.early_lowpass(wav)
        kernels, hop = (self.cqt_kernels_real, self.cqt_kernels_imag), self.hop_length
        octaves = []  # complex `[B, bins_per_octave, frames, 2]`, lowest octave first
        for octave in range(self.n_octaves):
            if octave:
                x, hop = self.halve(x), hop // 2
            octaves.insert(0, get_cqt_complex(x[:, None], *kernels, hop, self.padding))
        cqt = torch.cat(octaves, 1)[:, -self.n_bins :] * self.downsample_factor
        cqt = cqt * torch.sqrt(self.lenghts.view(-1, 1, 1))
        return torch.sqrt(cqt.pow(2).sum(-1))
