"""Slakh2100 (redux) loader.

    <root>/{train,validation,test}/TrackNNNNN/metadata.yaml
    <root>/.../TrackNNNNN/stems/SNN.flac        (44.1 kHz; mix.flac is not used)

`metadata.yaml` holds `stems: {S00: {inst_class, program_num, is_drum, audio_rendered, ...}}`.
Stems with `audio_rendered: false` or without a file are skipped.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .stem_files import StemFilesSong

SPLITS = {"train": "train", "val": "validation", "test": "test"}


def load_track(folder: Path) -> StemFilesSong | None:
    """One track; None if fewer than two of its stems have audio."""
    meta = yaml.safe_load((folder / "metadata.yaml").read_text())
    audio_dir = folder / meta.get("audio_dir", "stems")
    names, files = [], []
    for sid, stem in sorted((meta.get("stems") or {}).items()):
        path = audio_dir / f"{sid}.flac"
        if stem.get("audio_rendered", True) and path.is_file():
            names.append(stem.get("inst_class", sid))
            files.append([path])
    if len(files) < 2:
        return None
    return StemFilesSong(f"slakh/{folder.name}", "slakh", names, files)


def load_slakh(root: str | Path, split: str) -> list[StemFilesSong]:
    """The tracks of `split` ("train", "val" or "test") under `root`, sorted by name."""
    if split not in SPLITS:
        raise ValueError(f"Slakh split must be one of {list(SPLITS)}, got {split!r}")
    folders = sorted(p.parent for p in (Path(root) / SPLITS[split]).glob("*/metadata.yaml"))
    songs = [load_track(f) for f in folders]
    return [s for s in songs if s is not None]
