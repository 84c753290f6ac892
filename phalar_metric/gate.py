"""The silence gate: a window too quiet to be music embeds to zero, so it scores exactly 0.

The model's front-end is normalised to each window's peak, so without a gate digital
silence or a -80 dBFS hiss would be scored as if it were full-scale audio. The gate uses an
absolute level, `SILENCE_DBFS` = -70 dBFS: the RMS of a model window, measured on the 16 kHz
mono signal the model sees (0 dBFS is an RMS of 1.0, so a full-scale sine is -3 dBFS), over
the clip's own samples in that window (the zero padding of a clip shorter than one window is
left out). A window of either input below the level contributes the neutral score 0 to the
mean, is counted, and is reported (`SilentInputWarning`, and `silent_windows` in results).
Above the level nothing changes: scores stay invariant to the gain of either input.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .audio import window_starts
from .config import PhaLarConfig

SILENCE_DBFS = -70.0


class SilentInputWarning(UserWarning):
    """Some windows of an input are below `SILENCE_DBFS`: they score 0 (counted in the mean)."""


def window_levels(wav: np.ndarray, config: PhaLarConfig, hop: int | None = None) -> np.ndarray:
    """RMS level in dBFS of each model window of a clip (`-inf` for digital silence).

    Args:
        wav: the clip `[samples]` at `config.sample_rate`.
        config: the model config (window length).
        hop: the window grid, as in `audio.window_starts` (None: the scoring policy).

    Returns:
        `[n_windows]` levels in dB relative to an RMS of 1.0, one per window of
        `audio.iter_windows(wav, config, hop)`.
    """
    window = min(config.window_samples, len(wav))  # a short clip: its own samples, not the padding
    energy = np.concatenate([[0.0], np.cumsum(np.square(wav, dtype=np.float64))])
    starts = np.array(window_starts(len(wav), config.window_samples, hop))
    mean_square = (energy[starts + window] - energy[starts]) / window
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(mean_square)


def silent_windows(wav: np.ndarray, config: PhaLarConfig, hop: int | None = None) -> np.ndarray:
    """`[n_windows]` bool: which model windows of `wav` are below `SILENCE_DBFS` (see `window_levels`)."""
    return window_levels(wav, config, hop) < SILENCE_DBFS


def gate(embeddings: torch.Tensor, silent: np.ndarray) -> torch.Tensor:
    """`embeddings` `[K, n]` with the rows of silent windows (`silent` `[K]` bool) set to zero."""
    if not silent.any():
        return embeddings
    return embeddings.masked_fill(torch.as_tensor(silent, device=embeddings.device)[:, None], 0)


def silent_rows(embeddings: torch.Tensor | np.ndarray) -> np.ndarray:
    """`[K]` bool: the gated rows of window embeddings `[K, n]` (the model never outputs zero)."""
    if isinstance(embeddings, torch.Tensor):
        return (embeddings == 0).all(-1).cpu().numpy()
    return (embeddings == 0).all(-1)


def silence_message(names: Sequence[str], silent: Sequence[np.ndarray]) -> str | None:
    """The warning for inputs with silent windows (`silent[i]` `[n_windows]` bool of `names[i]`), or None."""
    found = [f"`{name}` ({int(s.sum())} of {len(s)})" for name, s in zip(names, silent) if s.any()]
    if not found:
        return None
    return f"windows below {SILENCE_DBFS:g} dBFS RMS are silent and score 0: {', '.join(found)}"
