"""Shared fixtures for the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tiny_data import OOD_SECONDS, OOD_SONGS, SPLIT_SONGS, song_stems, write_rendered_song

torch.set_num_threads(1)  # the test machine is small and shared


@pytest.fixture(scope="session")
def rendered_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A render cache with SPLIT_SONGS procedural songs per split (3 stems, 3 s each) and an
    `ood` split of OOD_SONGS longer freedoom songs."""
    root = tmp_path_factory.mktemp("rendered")
    for s, (split, n) in enumerate(SPLIT_SONGS.items()):
        for i in range(n):
            write_rendered_song(root / split / "procedural" / f"{i:05d}", f"procedural/{i:05d}",
                                song_stems(100 * s + i))
    for i in range(OOD_SONGS):
        write_rendered_song(root / "ood" / "freedoom" / f"D_{i:02d}", f"freedoom/D_{i:02d}",
                            song_stems(900 + i, seconds=OOD_SECONDS))
    return root
