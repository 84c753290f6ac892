"""Data sources; all feed one sampler through the `Song` interface (base.py)."""

from __future__ import annotations

from .base import Song
from .cocochorales import load_cocochorales
from .moisesdb import load_moisesdb
from .rendered import load_rendered
from .slakh import load_slakh

CORPORA = {"moisesdb": load_moisesdb, "slakh": load_slakh, "cocochorales": load_cocochorales}


def load_songs(sources: list[str], rendered_root: str, split: str) -> list[Song]:
    """Songs of `split` from each source spec: "rendered" (the render cache at `rendered_root`),
    "rendered:ROOT" (the render cache at ROOT) or "NAME:PATH" for a real corpus on disk
    (moisesdb, slakh, cocochorales; splits "train", "val", "test")."""
    songs: list[Song] = []
    for spec in sources:
        name, _, path = spec.partition(":")
        if name == "rendered":
            songs += load_rendered(path or rendered_root, split)
        elif name in CORPORA and path:
            songs += CORPORA[name](path, split)
        else:
            raise ValueError(f"Unknown data source {spec!r}: expected 'rendered', 'rendered:ROOT' or NAME:PATH, "
                             f"NAME in {list(CORPORA)}")
    return songs
