"""The fast CQT path (`phalar_metric.nnaudio_cqt`) matches nnAudio's `CQT2010v2` forward to float32 roundoff."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F

from phalar_metric.config import PhaLarConfig, tiny_config
from phalar_metric.frontend import Frontend
from phalar_metric.nnaudio_cqt import StridedLowpass, check_nnaudio_version

torch.set_num_threads(1)
SR = 16000
# the same products as nnAudio's conv1d, summed in another order: float32 roundoff only (measured ~6e-7)
REL_TOL = 1e-5


@functools.lru_cache(maxsize=None)
def frontend(config: str) -> Frontend:
    # "tiny" (36 bins, hop 128) takes CQT2010v2's early 8x downsampling; the shipped config does not
    return Frontend(PhaLarConfig() if config == "default" else tiny_config())


def signal(kind: str, batch: int, samples: int) -> torch.Tensor:
    """`[batch, samples]` white noise, or a few sines from the lowest to the top octave."""
    if kind == "noise":
        return 0.3 * torch.randn(batch, samples, generator=torch.Generator().manual_seed(samples + batch))
    t = torch.arange(samples, dtype=torch.float64) / SR
    freqs = torch.tensor([35.0, 110.0, 440.0, 1760.0, 3500.0])[:, None]
    phases = torch.arange(batch, dtype=torch.float64)[:, None, None]
    return (0.2 * torch.sin(2 * torch.pi * freqs * t + phases).sum(1)).float()


@pytest.mark.filterwarnings("ignore:\\s*input size:UserWarning")  # nnAudio on octaves shorter than the kernel
@pytest.mark.parametrize("config", ["default", "tiny"])
@pytest.mark.parametrize("kind", ["noise", "sines"])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("samples", [80000, 50001])
def test_magnitude_matches_nnaudio(config: str, kind: str, batch: int, samples: int) -> None:
    fe, wav = frontend(config), signal(kind, batch, samples)
    with torch.no_grad():
        ref, fast = fe.spec(wav), fe.magnitude(wav)
    assert fast.shape == ref.shape and fast.dtype == torch.float32
    assert (fast - ref).abs().max() < REL_TOL * ref.max()


def test_frontend_output_matches_nnaudio() -> None:
    """End to end: the trimmed, peak-relative dB of nnAudio's magnitude, as before the fast path."""
    fe, wav = frontend("default"), signal("sines", 2, 50001)
    with torch.no_grad():
        mag = fe.spec(wav)[..., : wav.shape[-1] // fe.hop_length + 1]
        peak = mag.amax(dim=(1, 2), keepdim=True)
        db = 20.0 * torch.log10((mag / peak).clamp_min(10.0 ** (-fe.top_db / 20.0)))
        # 1e-4 of the [0, 1] range is 0.008 dB: the roundoff above, magnified near the -80 dB floor (~3e-5)
        torch.testing.assert_close(fe(wav), (db / fe.top_db + 1.0).clamp_min(0.0), rtol=0, atol=1e-4)


@pytest.mark.parametrize("stride", [2, 8])
@pytest.mark.parametrize("samples", [2, 255, 1000, 4097])
def test_strided_lowpass_is_strided_conv1d(stride: int, samples: int) -> None:
    taps = torch.randn(256, generator=torch.Generator().manual_seed(0))
    x = torch.randn(3, samples, generator=torch.Generator().manual_seed(samples))
    ref = F.conv1d(x[:, None], taps[None, None], stride=stride, padding=127)[:, 0]
    fast = StridedLowpass(taps, stride)(x)
    assert fast.shape == ref.shape
    assert (fast - ref).abs().max() < REL_TOL * ref.abs().max()


def test_strided_lowpass_rejects_inputs_without_an_output() -> None:
    layer = StridedLowpass(torch.ones(5), stride=2)
    assert layer(torch.ones(1, 1)).shape == (1, 1)  # conv1d with padding 2 gives one output too
    with pytest.raises(ValueError, match="at least 1 samples, got 0"):
        layer(torch.ones(1, 0))


def test_frontend_names_a_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"\[batch, samples\], got \(16000,\)"):
        frontend("tiny")(torch.zeros(16000))


@pytest.mark.parametrize("installed", ["0.3.2", "0.4.0", "1.0.1", "unknown"])
def test_unsupported_nnaudio_is_named(installed: str) -> None:
    with pytest.raises(ImportError, match=rf"nnAudio>=0\.3\.3,<0\.4, but nnAudio {installed} is installed"):
        check_nnaudio_version(installed)


def test_supported_nnaudio_passes() -> None:
    check_nnaudio_version()  # the installed one
    check_nnaudio_version("0.3.3")


def test_fixed_kernels_stay_out_of_the_state_dict() -> None:
    assert not [k for k in frontend("tiny").state_dict()]
