"""phalar_metric.audio: loading, validation, resampling and the windowing policy."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from phalar_metric.audio import AudioError, crop_to_shortest, load_audio, split_windows, window_starts
from phalar_metric.config import tiny_config

CONFIG = tiny_config()  # 16 kHz, 1 s windows, clips of at least 0.25 s
RATE = CONFIG.sample_rate


def tone(rate: int, seconds: float = 0.5, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_mono_array_at_the_model_rate_is_returned_as_is() -> None:
    wav = tone(RATE)
    out = load_audio(wav, RATE, CONFIG, "mix")
    assert out.dtype == np.float32 and out.shape == wav.shape
    np.testing.assert_array_equal(out, wav)


def test_channels_are_averaged_and_tensors_equal_arrays() -> None:
    wav = tone(RATE)
    stereo = np.stack([wav, 0.5 * wav])
    np.testing.assert_allclose(load_audio(stereo, RATE, CONFIG), 0.75 * wav, atol=1e-7)
    np.testing.assert_array_equal(load_audio(torch.from_numpy(stereo), RATE, CONFIG), load_audio(stereo, RATE, CONFIG))


def test_integer_pcm_is_scaled_to_unit_range() -> None:
    pcm = (tone(RATE) * 32768).astype(np.int16)
    np.testing.assert_allclose(load_audio(pcm, RATE, CONFIG), tone(RATE), atol=1e-4)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int8, np.int32])
def test_signed_and_unsigned_pcm_arrays_are_centred_and_scaled(dtype: type) -> None:
    info = np.iinfo(dtype)
    half = (int(info.max) - int(info.min) + 1) // 2
    pcm = np.round(tone(RATE) * half + (half if info.min == 0 else 0)).astype(dtype)
    np.testing.assert_allclose(load_audio(pcm, RATE, CONFIG), tone(RATE), atol=1.0 / half + 1e-7)


def test_uint8_array_reads_like_an_8_bit_wav_file(tmp_path: Path) -> None:
    """An unsigned 8-bit WAV holds `128 + 128 x`; soundfile decodes it to `x`, and so must the array."""
    path = tmp_path / "u8.wav"
    sf.write(path, tone(RATE), RATE, subtype="PCM_U8")
    from_file = load_audio(path, None, CONFIG)
    raw = np.round(from_file * 128 + 128).astype(np.uint8)
    np.testing.assert_array_equal(load_audio(raw, RATE, CONFIG), from_file)


def test_digital_silence_is_valid() -> None:
    np.testing.assert_array_equal(load_audio(np.zeros(RATE, np.float32), RATE, CONFIG), np.zeros(RATE))


@pytest.mark.parametrize("rate", [44100, 48000, 22050, 8000])
def test_resampling_keeps_a_tone_and_the_length(rate: int) -> None:
    out = load_audio(tone(rate), rate, CONFIG)
    expected = tone(RATE)
    assert abs(len(out) - len(expected)) <= 1
    inner = slice(200, len(expected) - 200)  # the FIR filter's edges are not compared
    np.testing.assert_allclose(out[inner], expected[inner], atol=2e-3)


@pytest.mark.parametrize(
    ("fmt", "subtype", "atol"), [("WAV", "FLOAT", 0), ("FLAC", "PCM_24", 1e-6), ("OGG", "VORBIS", 0.05)]
)
def test_files_load_like_arrays(tmp_path: Path, fmt: str, subtype: str, atol: float) -> None:
    stereo = np.stack([tone(44100), tone(44100, freq=220.0)])
    path = tmp_path / f"clip.{fmt.lower()}"
    sf.write(path, stereo.T, 44100, format=fmt, subtype=subtype)
    from_file = load_audio(path, None, CONFIG, "stem")
    np.testing.assert_allclose(from_file, load_audio(stereo, 44100, CONFIG), atol=atol)
    np.testing.assert_array_equal(load_audio(str(path), 44100, CONFIG), from_file)  # a matching rate is fine


BAD_INPUTS = [
    (np.array([np.nan] * RATE), RATE, "NaN or infinite"),
    (np.array([0.0, np.inf] * RATE), RATE, "NaN or infinite"),
    (np.zeros(0), RATE, "is empty"),
    (np.zeros((2, 0)), RATE, "is empty"),
    (np.zeros(RATE // 8), RATE, r"too short: expected at least 0.25 s, got 0.125 s"),
    (np.zeros((RATE, 2)), RATE, "more channels than samples"),
    (np.array(0.5), RATE, "expected shape \\[samples\\] or \\[channels, samples\\], got 0-D"),
    (torch.tensor(0.5), RATE, "got 0-D"),
    (np.zeros((1, 2, RATE)), RATE, "got 3-D"),
    (np.zeros(RATE, np.complex64), RATE, "expected real samples"),
    ([0.0] * RATE, RATE, "expected a path, numpy array or torch tensor, got list"),
    (np.zeros(RATE), None, "`sample_rate` \\(Hz\\) is required"),
    (np.zeros(RATE), 0, "expected a positive integer \\(Hz\\), got 0"),
    (np.zeros(RATE), -16000, "expected a positive integer"),
    (np.zeros(RATE), 16000.5, "expected a positive integer"),
    (np.zeros(RATE), "16000", "expected a positive integer"),
]


@pytest.mark.parametrize(("audio", "rate", "message"), BAD_INPUTS)
def test_bad_arrays_raise_naming_the_argument(audio: object, rate: object, message: str) -> None:
    with pytest.raises(AudioError, match=message) as info:
        load_audio(audio, rate, CONFIG, "stems[3]")
    assert "`stems[3]`" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_an_integral_float_rate_is_accepted() -> None:
    np.testing.assert_array_equal(load_audio(tone(RATE), 16000.0, CONFIG), tone(RATE))


def test_missing_and_unreadable_files_raise(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="Argument `mix`: no such audio file"):
        load_audio(tmp_path / "missing.wav", None, CONFIG, "mix")
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"not audio at all" * 100)
    with pytest.raises(AudioError, match="Argument `mix`: cannot read audio file"):
        load_audio(garbage, None, CONFIG, "mix")


def test_a_rate_that_disagrees_with_the_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "clip.wav"
    sf.write(path, tone(44100), 44100)
    with pytest.raises(AudioError, match="Argument `stem`: `sample_rate` is 16000 but the file .* is at 44100 Hz"):
        load_audio(path, 16000, CONFIG, "stem")


def test_window_starts_policy() -> None:
    assert window_starts(100, 400) == [0]
    assert window_starts(400, 400) == [0]
    assert window_starts(800, 400) == [0, 400]
    assert window_starts(1000, 400) == [0, 400, 600]  # the last window ends at the clip end
    assert window_starts(1000, 400, hop=250) == [0, 250, 500]  # a regular grid drops the tail
    assert window_starts(1000, 400, hop=250, cover_end=True) == [0, 250, 500, 600]  # unless asked to cover it
    assert window_starts(1000, 400, cover_end=False) == [0, 400]


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 5000), window=st.integers(1, 700))
def test_windows_cover_every_sample_without_padding(n: int, window: int) -> None:
    starts = window_starts(n, window)
    if n <= window:
        assert starts == [0]
        return
    assert starts[0] == 0 and starts[-1] + window == n
    assert all(b - a == window for a, b in zip(starts[:-2], starts[1:-1]))  # non-overlapping but the last
    assert 0 < starts[-1] - starts[-2] <= window


def test_split_windows_pads_short_clips_at_the_end() -> None:
    wav = tone(RATE, seconds=0.5)
    windows = split_windows(wav, CONFIG)
    assert windows.shape == (1, CONFIG.window_samples)
    np.testing.assert_array_equal(windows[0, : len(wav)], wav)
    assert not windows[0, len(wav) :].any()


def test_split_windows_of_a_long_clip() -> None:
    wav = np.arange(int(2.5 * RATE), dtype=np.float32)
    windows = split_windows(wav, CONFIG)
    assert windows.shape == (3, RATE)
    np.testing.assert_array_equal(windows[:, 0], [0, RATE, 1.5 * RATE])
    assert windows[-1, -1] == wav[-1]


def test_crop_to_shortest_warns_only_when_lengths_differ() -> None:
    a, b = np.zeros(RATE), np.zeros(RATE // 2)
    with pytest.warns(UserWarning, match=r"`mix` is 1.00 s but `stem` is 0.50 s: scoring over the common 0.50 s"):
        cropped = crop_to_shortest([a, b], ["mix", "stem"], RATE)
    assert [len(c) for c in cropped] == [RATE // 2, RATE // 2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        crop_to_shortest([a, a], ["mix", "stem"], RATE)
