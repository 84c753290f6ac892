"""Data sources; all feed one sampler through the `Song` interface (base.py)."""

from __future__ import annotations

from .base import Song
from .rendered import load_rendered


def load_songs(sources: list[str], rendered_root: str, split: str) -> list[Song]:
    """Songs of `split` from each source: "rendered" (the render cache at `rendered_root`)
    or "NAME:PATH" for a real corpus on disk (moisesdb, slakh, cocochorales)."""
    songs: list[Song] = []
    for spec in sources:
        name, _, path = spec.partition(":")
        if name == "rendered":
            songs += load_rendered(rendered_root, split)
        else:
            raise ValueError(f"Unknown data source {spec!r}")
    return songs
