"""CocoChorales loader (the main dataset of `lukewys/chamber-ensemble-generator`).

    <root>/[main_dataset/]{train,valid,test}/<ensemble>_trackNNNNNN/stems_audio/<voice>_<instrument>.wav

16 kHz stems, voices 0-3 in SATB order. The stem names come from the file names, so the
(large) `metadata.yaml` beside `stems_audio/` is never parsed: indexing 240k tracks stays cheap.
"""

from __future__ import annotations

from pathlib import Path

from .stem_files import StemFilesSong

SPLITS = {"train": "train", "val": "valid", "test": "test"}


def _voice(path: Path) -> int:
    return int(path.stem.split("_", 1)[0])


def load_track(folder: Path) -> StemFilesSong | None:
    """One track; None if it has fewer than two stem files."""
    files = sorted((folder / "stems_audio").glob("*_*.wav"), key=_voice)
    if len(files) < 2:
        return None
    names = [p.stem.split("_", 1)[1] for p in files]
    return StemFilesSong(f"cocochorales/{folder.name}", "cocochorales", names, [[p] for p in files])


def load_cocochorales(root: str | Path, split: str) -> list[StemFilesSong]:
    """The tracks of `split` ("train", "val" or "test") under `root`, sorted by name."""
    if split not in SPLITS:
        raise ValueError(f"CocoChorales split must be one of {list(SPLITS)}, got {split!r}")
    root = Path(root)
    if (root / "main_dataset").is_dir():
        root = root / "main_dataset"
    folders = sorted(p for p in (root / SPLITS[split]).glob("*_track*") if p.is_dir())
    songs = [load_track(f) for f in folders]
    return [s for s in songs if s is not None]
