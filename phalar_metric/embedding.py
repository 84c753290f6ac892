"""Windows in, embeddings out, scores of embeddings: the batched core under `functional.py`.

The model runs in eval mode under `torch.inference_mode()` in batches of `batch_size`
windows; its train/eval mode is restored after. Clips are embedded with the silence gate
(`gate.py`): the embedding of a window below `gate.SILENCE_DBFS` is zero, so it scores 0
with anything. The score maths is `head.Similarity`'s (`paired`, `windowed`).
"""

from __future__ import annotations

from itertools import islice
from typing import Iterable, Sequence

import numpy as np
import torch

from .audio import iter_windows
from .gate import gate, silent_windows
from .model import PhaLar


def check_batch_size(batch_size: object) -> int:
    """Raise `ValueError` unless `batch_size` is a positive integer; return it."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"Argument `batch_size` expected a positive integer, got {batch_size!r}")
    return batch_size


def embed_windows(model: PhaLar, windows: Iterable[np.ndarray], batch_size: int = 16) -> torch.Tensor:
    """Embed model windows (at the model rate) in batches, without the silence gate.

    Args:
        model: the PhaLar model; run in eval mode, its train/eval mode is restored after.
        windows: float32 `[K, config.window_samples]`, or any iterable of K windows
            `[config.window_samples]` (consumed `batch_size` at a time).
        batch_size: windows per model call.

    Returns:
        Embeddings `[K, n]` (n = `out_dim + harmony_dim`) on the model's device (complex64 for the
        default model).

    Raises:
        ValueError: `batch_size` is not a positive integer.
    """
    check_batch_size(batch_size)
    device = next(model.parameters()).device
    windows = iter(windows)
    out = []
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            while batch := list(islice(windows, batch_size)):
                out.append(model.embed(torch.as_tensor(np.stack(batch), device=device)))
    finally:
        model.train(was_training)
    return torch.cat(out)


def embed_clips(
    model: PhaLar, wavs: Sequence[np.ndarray], batch_size: int, hop: int | None = None
) -> tuple[list[torch.Tensor], list[np.ndarray]]:
    """Embed clips `[samples]` (model rate) in one stream of windows, with the silence gate.

    Args:
        model: the PhaLar model.
        wavs: the clips.
        batch_size: windows per model call.
        hop: the window grid (`audio.window_starts`; None: the scoring policy).

    Returns:
        `(embeddings, silent)`: per clip `[n_windows_i, n]` (zero rows for silent windows)
        and `[n_windows_i]` bool.
    """
    silent = [silent_windows(w, model.config, hop) for w in wavs]
    windows = (window for w in wavs for window in iter_windows(w, model.config, hop))
    emb = gate(embed_windows(model, windows, batch_size), np.concatenate(silent))
    return list(emb.split([len(s) for s in silent])), silent


def window_score_matrix(model: PhaLar, ex: torch.Tensor, ey: torch.Tensor) -> torch.Tensor:
    """Mean over aligned windows of the symmetric score, for every pair of clips (`Similarity.windowed`).

    Args:
        model: the PhaLar model whose similarity is used.
        ex: embeddings `[N, W, n]` (W windows per clip).
        ey: embeddings `[M, W, n]`, the same W windows in time.

    Returns:
        Scores `[N, M]`: `mean_w Re(ex[i, w]^H W_h ey[j, w])`.
    """
    with torch.inference_mode():
        return model.similarity.windowed(ex, ey)


def window_scores(model: PhaLar, ex: torch.Tensor, ey: torch.Tensor) -> torch.Tensor:
    """Symmetric scores of paired windows (`Similarity.paired`): `scores[k] = Re(ex[k]^H W_h ey[k])`.

    Args:
        model: the PhaLar model whose similarity is used.
        ex: embeddings `[K, n]`.
        ey: embeddings `[K, n]`, paired row by row with `ex`.

    Returns:
        Scores `[K]`.
    """
    with torch.inference_mode():
        return model.similarity.paired(ex, ey)
