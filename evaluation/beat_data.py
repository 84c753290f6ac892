"""Clips with ground-truth beats for the beat-tracking benchmark: rendered songs and GTZAN.

GTZAN layout (as the audio archive and the TempoBeatDownbeat/gtzan_tempo_beat annotations
unpack, the layout mirdata's `gtzan_genre` loader reads):

    ROOT/genres/<genre>/<genre>.000NN.wav                        (or .au, as in genres.tar.gz)
    ROOT/gtzan_tempo_beat-main/beats/gtzan_<genre>_000NN.beats   (or a <genre>.000NN.beats
                                                                  beside the audio)

A beats file holds one beat a line: "<seconds>[<tab or space><beat number in the bar>]".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from training.sources import load_songs
from training.sources.base import SAMPLE_RATE

ANNOTATION_DIRS = ("gtzan_tempo_beat-main/beats", "gtzan_tempo_beat/beats")


@dataclass
class BeatExample:
    """A clip: `audio` `[samples]` float32 mono at `sample_rate` Hz, `beats` `[n]` seconds."""

    name: str
    audio: np.ndarray
    sample_rate: int
    beats: np.ndarray


def read_beats(path: str | Path) -> np.ndarray:
    """Beat times `[n]` in seconds from a beats file (first column; blank lines skipped)."""
    times = [float(line.split()[0]) for line in Path(path).read_text().splitlines() if line.strip()]
    return np.array(times)


def gtzan_examples(root: str | Path, n: int | None = None) -> list[BeatExample]:
    """The first `n` annotated GTZAN clips (sorted by genre and number), mono.

    Raises:
        ValueError: `root` has no annotated clip in the layout above.
    """
    root = Path(root)
    audio = sorted(p for ext in ("wav", "au") for p in root.glob(f"genres/*/*.*.{ext}"))
    out = []
    for path in audio:
        genre, number = path.stem.split(".")
        candidates = [root / d / f"gtzan_{genre}_{number}.beats" for d in ANNOTATION_DIRS]
        beats = next((p for p in candidates + [path.with_suffix(".beats")] if p.is_file()), None)
        if beats is None:
            continue
        wav, rate = sf.read(str(path), dtype="float32", always_2d=True)
        out.append(BeatExample(f"gtzan/{path.stem}", wav.mean(1), int(rate), read_beats(beats)))
        if n is not None and len(out) == n:
            break
    if not out:
        raise ValueError(f"No annotated GTZAN clip under {root} (expected genres/<genre>/<genre>.000NN.wav and "
                         f"{ANNOTATION_DIRS[0]}/gtzan_<genre>_000NN.beats)")
    return out


def rendered_examples(root: str | Path, split: str, n: int, seconds: float, seed: int = 0) -> list[BeatExample]:
    """`n` songs of a render cache's `split`, drawn with `seed`: the full mix of the first
    `seconds` (peak-normalised to 0.9) and the MIDI beats within it.

    Raises:
        ValueError: the split has no songs with beats.
    """
    songs = [s for s in load_songs(["rendered"], str(root), split) if s.beats]
    if not songs:
        raise ValueError(f"No rendered songs with beats in {Path(root) / split}")
    pick = np.random.default_rng(seed).choice(len(songs), size=min(n, len(songs)), replace=False)
    out = []
    for i in sorted(pick):
        song = songs[i]
        length = min(song.num_samples, int(round(seconds * SAMPLE_RATE)))
        mix = song.read(0, length).sum(0)
        mix = mix / max(float(np.abs(mix).max()), 1e-9) * 0.9
        beats = np.array([b for b in song.beats if b < length / SAMPLE_RATE])
        out.append(BeatExample(song.name, mix.astype(np.float32), SAMPLE_RATE, beats))
    return out
