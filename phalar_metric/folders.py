"""Folders as input: pair the audio files of a mix folder and a stem folder by name.

A generator's outputs are usually named like its inputs: `MIXES/rock/song1.wav` pairs with
`STEMS/rock/song1.flac`. Files pair by their path relative to the folder without the
extension (`rock/song1`), searched recursively; files with other extensions are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".w64", ".caf")


@dataclass(frozen=True)
class FolderPairs:
    """The result of `pair_folders`.

    `pairs`: `(key, mix path, stem path)` sorted by key. `unpaired_mixes`,
    `unpaired_stems`: the files without a partner, sorted.
    """

    pairs: list[tuple[str, Path, Path]]
    unpaired_mixes: list[Path]
    unpaired_stems: list[Path]


def audio_files(folder: Path, name: str) -> dict[str, Path]:
    """The audio files below `folder` by key (relative path without extension, `/`-separated).

    Args:
        folder: the folder to search (recursively).
        name: the argument's name in error messages (e.g. ``"--mix-dir"``).

    Raises:
        ValueError: `folder` is not a folder, or two files share a key (`a.wav`, `a.flac`).
    """
    if not folder.is_dir():
        raise ValueError(f"Argument `{name}`: no such folder: {folder}")
    found: dict[str, Path] = {}
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()):
        key = path.relative_to(folder).with_suffix("").as_posix()
        if key in found:
            raise ValueError(f"Argument `{name}`: {found[key]} and {path} both pair as {key!r}; keep one of them")
        found[key] = path
    return found


def pair_folders(mix_dir: Path, stem_dir: Path) -> FolderPairs:
    """Pair the audio files of `mix_dir` and `stem_dir` by key (see `audio_files`).

    Raises:
        ValueError: a folder is missing, holds ambiguous names, or no file pairs at all.
    """
    mixes, stems = audio_files(mix_dir, "--mix-dir"), audio_files(stem_dir, "--stem-dir")
    keys = sorted(mixes.keys() & stems.keys())
    if not keys:
        raise ValueError(
            f"No audio file of {mix_dir} ({len(mixes)} files) has a partner of the same name in {stem_dir} "
            f"({len(stems)} files); files pair by relative path without extension"
        )
    return FolderPairs(
        pairs=[(k, mixes[k], stems[k]) for k in keys],
        unpaired_mixes=[mixes[k] for k in sorted(mixes.keys() - stems.keys())],
        unpaired_stems=[stems[k] for k in sorted(stems.keys() - mixes.keys())],
    )
