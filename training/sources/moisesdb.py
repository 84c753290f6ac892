"""MoisesDB loader (the layout of the `moises-ai/moises-db` package).

    <root>/[<provider, e.g. moisesdb_v0.1>/]<track uuid>/data.json
    <root>/.../<track uuid>/<stemName>/<track id>.<extension>

`data.json` holds "song", "artist", "genre" and "stems": [{"stemName": ..., "tracks":
[{"id": ..., "trackType": ..., "extension": ...}]}]. A stem is the sum of its tracks; stems
of the same name are merged. MoisesDB has no official split: a fixed hash of the track id
assigns 80% / 10% / 10% to train / val / test.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from .stem_files import StemFilesSong

SPLITS = {"train": (0, 80), "val": (80, 90), "test": (90, 100)}  # ranges of crc32(id) % 100


def split_of(track_id: str) -> str:
    """The fixed split of a track id."""
    bucket = zlib.crc32(track_id.encode()) % 100
    return next(s for s, (lo, hi) in SPLITS.items() if lo <= bucket < hi)


def load_track(folder: Path) -> StemFilesSong | None:
    """One track; None if it has fewer than two stems with audio on disk."""
    meta = json.loads((folder / "data.json").read_text())
    stems: dict[str, list[Path]] = {}
    for stem in meta.get("stems", []):
        name = stem["stemName"]
        files = [folder / name / f"{t['id']}.{t.get('extension', 'wav')}" for t in stem.get("tracks", [])]
        stems.setdefault(name, []).extend(p for p in files if p.is_file())
    stems = {n: f for n, f in stems.items() if f}
    if len(stems) < 2:
        return None
    return StemFilesSong(f"moisesdb/{folder.name}", "moisesdb", list(stems), list(stems.values()))


def load_moisesdb(root: str | Path, split: str) -> list[StemFilesSong]:
    """The tracks of `split` ("train", "val" or "test") under `root`, sorted by id."""
    if split not in SPLITS:
        raise ValueError(f"MoisesDB split must be one of {list(SPLITS)}, got {split!r}")
    root = Path(root)
    folders = sorted({p.parent for pattern in ("*/data.json", "*/*/data.json") for p in root.glob(pattern)},
                     key=lambda f: f.name)
    songs = [load_track(f) for f in folders if split_of(f.name) == split]
    return [s for s in songs if s is not None]
