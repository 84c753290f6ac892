"""Audio in: load, validate, mix to mono, resample to the model rate, cut into windows.

An audio argument is a path (`str` or `os.PathLike`, anything soundfile reads: wav, flac,
ogg, ...) or a 1-D `[samples]` / 2-D `[channels, samples]` numpy array or torch tensor
together with its `sample_rate` in Hz. Channels are averaged. Integer PCM arrays are scaled
to [-1, 1) as soundfile does (unsigned ones, such as 8-bit WAV, are centred on half their
range first); float arrays are used as they are (the front-end is
normalised to each window's peak, so the gain hardly matters). Digital silence is valid.

Resampling to `config.sample_rate` uses `scipy.signal.resample_poly` with the reduced
fraction `up / down` of the two rates: a polyphase FIR low-pass designed with a Kaiser
window (beta 5), zero phase, so the output stays time-aligned with the input.

Windowing policy: one embedding covers `config.window_samples` samples (5 s by default).
- A clip shorter than one window (but at least `config.min_samples`) is zero-padded at
  the end to one window.
- A longer clip is cut into non-overlapping windows starting at sample 0; if a remainder
  is left, one more window ending exactly at the last sample is added (it overlaps the one
  before), so every sample is covered and nothing is padded.
Mix and stem are scored over time-aligned windows: when their lengths differ both are cut
to the common (shorter) duration, with a warning.

User errors raise `AudioError` (a `ValueError`) whose message names the argument.
"""

from __future__ import annotations

import math
import os
import warnings
from numbers import Integral, Real
from pathlib import Path
from typing import Iterator, Sequence, Union

import numpy as np
import soundfile as sf
import torch
from scipy.signal import resample_poly

from .config import PhaLarConfig

AudioInput = Union[str, os.PathLike, np.ndarray, torch.Tensor]


class AudioError(ValueError):
    """An audio argument that cannot be used; the message names the argument."""


def load_audio(
    audio: AudioInput,
    sample_rate: int | None,
    config: PhaLarConfig,
    name: str = "audio",
    start: float | None = None,
    end: float | None = None,
) -> np.ndarray:
    """Read and validate one clip, or the span `[start, end)` of it: mono float32 `[samples]` at `config.sample_rate`.

    Args:
        audio: a path, or a `[samples]` / `[channels, samples]` array or tensor.
        sample_rate: the rate of an array in Hz (required); for a path, optional and
            checked against the file's own rate.
        config: the model config (target rate, minimum duration).
        name: the argument's name, used in error messages (e.g. ``"mixes[3]"``).
        start: seconds from the beginning of the clip (default 0); a file is read from
            there (soundfile frames: the rest of the file is not read).
        end: seconds from the beginning where the span ends (default: the clip's end).

    Returns:
        The clip (or span) as float32 `[samples]` at `config.sample_rate`.

    Raises:
        AudioError: unreadable or missing file, missing or invalid rate, wrong rank,
            empty, non-finite or too short input; a span that is not inside the clip,
            ends before it starts or is shorter than `config.min_seconds`.
    """
    if isinstance(audio, (str, os.PathLike)):
        wav, rate = _read_file(Path(audio), sample_rate, name, start, end, config.min_seconds)
    else:
        wav, rate = _as_array(audio, name), _check_rate(sample_rate, name)
        first, last = span_frames(start, end, wav.shape[1], rate, name, config.min_seconds)
        wav = wav[:, first:last]
    if wav.shape[0] == 0 or wav.shape[1] == 0:
        raise AudioError(f"Argument `{name}` is empty (shape [channels, samples] = {list(wav.shape)})")
    if not np.isfinite(wav).all():
        raise AudioError(f"Argument `{name}` contains NaN or infinite samples")
    seconds = wav.shape[1] / rate
    if seconds < config.min_seconds:
        raise AudioError(
            f"Argument `{name}` is too short: expected at least {config.min_seconds:g} s, got {seconds:.3f} s"
        )
    return resample(wav.mean(axis=0), rate, config.sample_rate)


def resample(wav: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Polyphase resampling `[samples]` from `orig_rate` to `target_rate` Hz, float32 out."""
    up, down = resample_ratio(orig_rate, target_rate)
    if up == down:
        return wav.astype(np.float32, copy=False)
    return resample_poly(wav, up, down, window=("kaiser", 5.0)).astype(np.float32)


def resample_ratio(orig_rate: int, target_rate: int) -> tuple[int, int]:
    """`(up, down)`: the reduced fraction `target_rate / orig_rate` that `resample` uses."""
    g = math.gcd(orig_rate, target_rate)
    return target_rate // g, orig_rate // g


def crop_to_shortest(wavs: Sequence[np.ndarray], names: Sequence[str], sample_rate: int) -> list[np.ndarray]:
    """Cut clips `[samples]` to the shortest one's length, warning when lengths differ."""
    lengths = [len(w) for w in wavs]
    short, long = int(np.argmin(lengths)), int(np.argmax(lengths))
    n = lengths[short]
    if lengths[long] != n:
        warnings.warn(
            f"`{names[long]}` is {lengths[long] / sample_rate:.2f} s but `{names[short]}` is "
            f"{n / sample_rate:.2f} s: scoring over the common {n / sample_rate:.2f} s only",
            stacklevel=3,
        )
    return [w[:n] for w in wavs]


def window_starts(n_samples: int, window: int, hop: int | None = None, cover_end: bool | None = None) -> list[int]:
    """Start samples of the windows of a clip of `n_samples` samples.

    Args:
        n_samples: clip length in samples.
        window: window length in samples.
        hop: `None` for the scoring policy (non-overlapping, plus a last window ending at
            the clip end); otherwise a regular grid with this hop in samples (the tail
            shorter than a hop is left out, unless `cover_end`).
        cover_end: add a last window ending at the clip end where the grid stops short of
            it; default: only for the scoring policy (`hop` None).

    Returns:
        Window starts in samples; `[0]` when the clip is not longer than one window.
    """
    if n_samples <= window:
        return [0]
    starts = list(range(0, n_samples - window + 1, hop or window))
    if (hop is None if cover_end is None else cover_end) and starts[-1] + window < n_samples:
        starts.append(n_samples - window)
    return starts


def iter_windows(wav: np.ndarray, config: PhaLarConfig, hop: int | None = None) -> Iterator[np.ndarray]:
    """The model windows `[config.window_samples]` of a clip `[samples]` (see `window_starts`), lazily.

    Views of `wav`, except the zero-padded copy of a clip shorter than one window.
    """
    window = config.window_samples
    if len(wav) < window:
        yield np.pad(wav, (0, window - len(wav)))
        return
    for start in window_starts(len(wav), window, hop):
        yield wav[start : start + window]


def split_windows(wav: np.ndarray, config: PhaLarConfig, hop: int | None = None) -> np.ndarray:
    """All model windows of a clip `[samples]` as one array `[n_windows, config.window_samples]`."""
    return np.stack(list(iter_windows(wav, config, hop)))


def span_frames(
    start: object, end: object, n_frames: int, rate: int, name: str, min_seconds: float
) -> tuple[int, int]:
    """Frames `[first, last)` of the span `[start, end)` seconds of a clip of `n_frames` frames at `rate` Hz.

    `None` for `start` / `end` means the clip's beginning / end.

    Raises:
        AudioError: `start`/`end` is not a finite number >= 0, `end <= start`, the span is
            not inside the clip, or it is shorter than `min_seconds`.
    """
    if start is None and end is None:
        return 0, n_frames
    duration = n_frames / rate
    first = 0.0 if start is None else _seconds(start, "start", name)
    last = duration if end is None else _seconds(end, "end", name)
    if first >= duration or last > duration + 0.5 / rate:
        raise AudioError(
            f"Arguments `start` and `end` of `{name}`: the span [{first:g}, {last:g}] s is outside the clip, "
            f"which is {duration:.3f} s long"
        )
    if last <= first:
        raise AudioError(f"Arguments `start` and `end` of `{name}`: `end` ({last:g} s) must be after `start` ({first:g} s)")
    if last - first < min_seconds:
        raise AudioError(
            f"Arguments `start` and `end` of `{name}`: the span [{first:g}, {last:g}] s is {last - first:.3f} s, "
            f"expected at least {min_seconds:g} s"
        )
    return int(round(first * rate)), min(int(round(last * rate)), n_frames)


def _seconds(value: object, arg: str, name: str) -> float:
    """A finite time >= 0 in seconds."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value < float("inf"):
        raise AudioError(f"Argument `{arg}` of `{name}` expected a finite number of seconds >= 0, got {value!r}")
    return float(value)


def _read_file(
    path: Path, sample_rate: int | None, name: str, start: object, end: object, min_seconds: float
) -> tuple[np.ndarray, int]:
    """`[channels, samples]` float32 of the span `[start, end)` and the file's rate; checks `sample_rate` if given."""
    if not path.is_file():
        raise AudioError(f"Argument `{name}`: no such audio file: {path}")
    try:
        with sf.SoundFile(str(path)) as f:
            rate = f.samplerate
            first, last = span_frames(start, end, f.frames, rate, name, min_seconds)
            f.seek(first)
            data = f.read(last - first, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError) as err:
        raise AudioError(f"Argument `{name}`: cannot read audio file {path}: {err}") from err
    if sample_rate is not None and _check_rate(sample_rate, name) != rate:
        raise AudioError(
            f"Argument `{name}`: `sample_rate` is {sample_rate} but the file {path} is at {rate} Hz; "
            "leave `sample_rate` out for files"
        )
    return data.T, int(rate)


def _as_array(audio: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    """A `[samples]` or `[channels, samples]` real array or tensor as `[channels, samples]` float."""
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
    if not isinstance(audio, np.ndarray):
        raise AudioError(
            f"Argument `{name}` expected a path, numpy array or torch tensor, got {type(audio).__name__}"
        )
    if audio.ndim not in (1, 2):
        raise AudioError(
            f"Argument `{name}` expected shape [samples] or [channels, samples], got {audio.ndim}-D {list(audio.shape)}"
        )
    if np.issubdtype(audio.dtype, np.integer):  # PCM: signed, or unsigned offset by half the range (uint8 WAV)
        half = float(2 ** (8 * audio.dtype.itemsize - 1))
        audio = (audio - half if np.issubdtype(audio.dtype, np.unsignedinteger) else audio) / half
    elif not np.issubdtype(audio.dtype, np.floating):
        raise AudioError(f"Argument `{name}` expected real samples, got dtype {audio.dtype}")
    wav = audio if audio.ndim == 2 else audio[None]
    if wav.shape[0] > wav.shape[1] > 0:
        raise AudioError(
            f"Argument `{name}` expected shape [channels, samples], got {list(wav.shape)} "
            "(more channels than samples: transpose a [samples, channels] array)"
        )
    return wav


def _check_rate(sample_rate: object, name: str) -> int:
    """A positive integer rate in Hz (an integral float is accepted)."""
    if sample_rate is None:
        raise AudioError(f"Argument `{name}` is an array: `sample_rate` (Hz) is required")
    is_integral = isinstance(sample_rate, Integral) or (
        isinstance(sample_rate, Real) and float(sample_rate).is_integer()
    )
    if isinstance(sample_rate, bool) or not is_integral or sample_rate <= 0:
        raise AudioError(
            f"Argument `sample_rate` for `{name}` expected a positive integer (Hz), got {sample_rate!r}"
        )
    return int(sample_rate)
