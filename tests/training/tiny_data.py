"""A tiny render cache in the `training.render` layout, and the tiny model config of the trainer tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

RATE = 16000
TINY_MODEL = {"window_seconds": 1.0, "min_seconds": 0.25, "n_bins": 36, "hop_length": 128,
              "channels": [4, 6, 8, 8, 8, 8], "embed_dim": 8, "n_pool_bins": 3, "hidden_dim": 16, "out_dim": 16}
SPLIT_SONGS = {"train": 4, "val": 6, "val_timbre": 6}  # val: enough songs for acc@64
OOD_SONGS, OOD_SECONDS = 8, 12.0  # `ood` uses every window: 8 x 12 windows of 1 s, enough for acc@64


def song_stems(seed: int, n_stems: int = 3, seconds: float = 3.0) -> np.ndarray:
    """`[n_stems, samples]` float32: per stem a tone gated by a pulse train, each with its own
    pitch, tempo and phase (a stand-in for a rendered multi-track song)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    stems = []
    for _ in range(n_stems):
        f0, period, phase = rng.uniform(110, 880), rng.uniform(0.2, 0.6), rng.uniform(0, 1)
        gate = ((t / period + phase) % 1.0 < 0.5).astype(np.float64)
        stems.append(0.3 * gate * np.sin(2 * np.pi * f0 * t))
    return np.stack(stems).astype(np.float32)


def write_rendered_song(folder: Path, name: str, stems: np.ndarray) -> None:
    """One song folder as `training.render.write_song` writes it."""
    folder.mkdir(parents=True)
    np.save(folder / "stems.npy", np.round(stems * 32767).astype(np.int16))
    meta = {"name": name, "sample_rate": RATE, "tempo": 120.0, "beats": [0.0, 0.5], "downbeats": [0.0], "meta": {},
            "stems": [{"name": f"stem{i}", "program": 0, "is_drum": False, "soundfont": "FluidR3_GM.sf2"}
                      for i in range(len(stems))]}
    (folder / "meta.json").write_text(json.dumps(meta))
