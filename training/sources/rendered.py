"""Loader for the cache written by `python -m training.render`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .base import SAMPLE_RATE, Song, pad_to


class RenderedSong(Song):
    """A rendered song: `stems.npy` (int16 `[n_stems, samples]`, memory-mapped) + `meta.json`."""

    def __init__(self, folder: Path) -> None:
        meta = json.loads((folder / "meta.json").read_text())
        if meta["sample_rate"] != SAMPLE_RATE:
            raise ValueError(f"{folder}: expected {SAMPLE_RATE} Hz, got {meta['sample_rate']}")
        self.folder = folder
        self.name = meta["name"]
        self.source = self.name.split("/")[0]
        self.stem_names = [s["name"] for s in meta["stems"]]
        self.is_drum = [bool(s["is_drum"]) for s in meta["stems"]]
        self.beats = meta["beats"]
        self.meta = meta
        self._audio = np.load(folder / "stems.npy", mmap_mode="r")
        self.num_samples = self._audio.shape[1]

    def read(self, start: int, length: int) -> np.ndarray:
        return pad_to(np.asarray(self._audio[:, start : start + length], dtype=np.float32) / 32767.0, length)


def load_rendered(root: str | Path, split: str, sources: tuple[str, ...] | None = None) -> list[RenderedSong]:
    """Every complete song of `split` under `root` (sorted by folder, so the order is stable),
    of every source folder (procedural, corpus, freedoom, mma) or only of `sources`."""
    base = Path(root) / split
    paths = base.glob("*/*/meta.json") if sources is None else (p for s in sources for p in (base / s).glob("*/meta.json"))
    folders = sorted(p.parent for p in paths)
    return [RenderedSong(f) for f in folders]
