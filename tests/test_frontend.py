"""Front-end: CQT / Mel log-magnitude `[B, n_bins, samples // hop + 1]` in [0, 1], gain invariant."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from phalar_metric.config import PhaLarConfig, tiny_config
from phalar_metric.frontend import Frontend

torch.set_num_threads(1)
SR = 16000


@functools.lru_cache(maxsize=None)
def frontend(kind: str = "cqt") -> Frontend:
    return Frontend(tiny_config(frontend=kind))


def music(seed: int, samples: int, batch: int = 1) -> torch.Tensor:
    """`[batch, samples]`: a few decaying harmonic notes plus a little noise, peak 0.5."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / SR
    out = []
    for _ in range(batch):
        x = 0.01 * rng.standard_normal(samples)
        for _ in range(3):
            f0 = 32.7 * 2 ** (rng.integers(0, 36) / 12)
            onset = rng.uniform(0.0, t[-1])
            env = np.where(t >= onset, np.exp(-(t - onset) * rng.uniform(2.0, 10.0)), 0.0)
            x += sum(env * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi)) / h for h in (1, 2, 3))
        out.append(0.5 * x / np.abs(x).max())
    return torch.tensor(np.stack(out), dtype=torch.float32)


@pytest.mark.filterwarnings("ignore:\\s*input size:UserWarning")  # nnAudio on clips < its kernel
@settings(max_examples=15, deadline=None)
@given(
    kind=st.sampled_from(["cqt", "mel"]),
    batch=st.integers(1, 3),
    samples=st.integers(4000, 24000),
    seed=st.integers(0, 2**16),
)
@example(kind="cqt", batch=1, samples=4730, seed=0)  # CQT2010v2's early downsampling gave 38 frames
def test_shape_range_and_peak(kind: str, batch: int, samples: int, seed: int) -> None:
    cfg = tiny_config(frontend=kind)
    out = frontend(kind)(music(seed, samples, batch))
    assert out.shape == (batch, cfg.n_bins, samples // cfg.hop_length + 1)
    assert out.dtype == torch.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    # dB relative to each clip's own peak: every clip's loudest bin is exactly 1
    torch.testing.assert_close(out.amax(dim=(1, 2)), torch.ones(batch), rtol=0, atol=1e-6)


def test_default_config_shape() -> None:
    cfg = PhaLarConfig()
    out = Frontend(cfg)(music(0, cfg.window_samples))
    assert out.shape == (1, 84, 313)  # 80000 // 256 + 1


@settings(max_examples=20, deadline=None)
@given(
    kind=st.sampled_from(["cqt", "mel"]),
    log_gain=st.floats(-5.0, 3.0),  # -100 dB .. +60 dB
    seed=st.integers(0, 2**16),
)
def test_gain_invariance(kind: str, log_gain: float, seed: int) -> None:
    x = music(seed, SR)
    ref, scaled = frontend(kind)(x), frontend(kind)(x * 10.0**log_gain)
    # 1e-3 of the [0, 1] range is 0.08 dB: float32 rounding only, no level dependence
    torch.testing.assert_close(scaled, ref, rtol=0, atol=1e-3)


@pytest.mark.parametrize("kind", ["cqt", "mel"])
def test_silence_is_finite_and_does_not_leak_into_the_batch(kind: str) -> None:
    x = music(1, SR, batch=2)
    batch = torch.cat([x[:1], torch.zeros(1, SR), x[1:]])
    out = frontend(kind)(batch)
    assert torch.isfinite(out).all()
    assert (out[1] == 0).all()  # silence sits at the floor everywhere
    # 1e-3 = 0.08 dB: float32 roundoff of the conv, which differs with the batch size near the floor
    torch.testing.assert_close(out[[0, 2]], frontend(kind)(x), rtol=0, atol=1e-3)


@settings(max_examples=10, deadline=None)
@given(bin_index=st.integers(0, 35), amplitude=st.floats(1e-4, 1.0))
def test_a_tone_peaks_in_its_cqt_bin(bin_index: int, amplitude: float) -> None:
    """Log-spaced bins: a tone at fmin * 2**(k/12) is loudest in bin k, so a pitch
    transposition by s semitones is a shift by s bins."""
    cfg = tiny_config()
    t = torch.arange(SR, dtype=torch.float64) / SR
    tone = amplitude * torch.sin(2 * torch.pi * cfg.fmin * 2 ** (bin_index / cfg.bins_per_octave) * t)
    profile = frontend("cqt")(tone.float()[None])[0, :, 20:-20].mean(dim=-1)
    assert int(profile.argmax()) == bin_index


@pytest.mark.parametrize("kind", ["cqt", "mel"])
def test_kernels_are_rebuilt_not_stored(kind: str) -> None:
    a, b = Frontend(tiny_config(frontend=kind)), Frontend(tiny_config(frontend=kind))
    assert a.state_dict() == {}
    buffers_a, buffers_b = dict(a.named_buffers()), dict(b.named_buffers())
    assert buffers_a and buffers_a.keys() == buffers_b.keys()
    for name, buf in buffers_a.items():
        assert torch.equal(buf, buffers_b[name]), name


@pytest.mark.parametrize("kind", ["cqt", "mel"])
def test_autocast_leaves_the_front_end_float32(kind: str) -> None:
    """Under bf16 autocast (mixed-precision training) the front-end still computes in float32."""
    frontend = Frontend(tiny_config(frontend=kind))
    wav = torch.randn(2, 16000, generator=torch.Generator().manual_seed(0)) * 0.1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = frontend(wav)
    assert mixed.dtype == torch.float32
    assert torch.equal(mixed, frontend(wav))


def test_filter_scale_sharpens_the_semitone_below_a_tone() -> None:
    """A longer CQT window (`filter_scale` 2) drops the bin below a tone's from ~0.93 to the
    floor's neighbourhood (benchmarks/cqt_pitch_resolution.py)."""
    config = PhaLarConfig()
    t = np.arange(2 * config.sample_rate) / config.sample_rate
    wav = torch.tensor(np.sin(2 * np.pi * config.fmin * 2.0 ** (45 / 12) * t)[None], dtype=torch.float32)
    levels = {scale: Frontend(dataclasses.replace(config, filter_scale=scale))(wav)[0].mean(-1)
              for scale in (1.0, 2.0)}
    assert levels[1.0][44] > 0.85 and levels[2.0][44] < 0.3
    assert int(levels[2.0].argmax()) == 45
