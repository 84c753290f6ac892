"""Generated data for the evaluation tests: a tiny render cache and a GTZAN-layout tree.

Plain functions; the `rendered_root` fixture of tests/evaluation/conftest.py writes the cache.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16000  # Hz, the rate of the render cache
SPLITS = {"train": 0, "val": 100, "val_timbre": 200}  # song numbering per split


def song_stems(seed: int, seconds: float, rate: int = RATE) -> tuple[np.ndarray, list[float], float]:
    """Three stems `[3, samples]` (drums, bass, chords) of a song with a random tempo and key,
    its beat times in seconds and its tempo in BPM."""
    rng = np.random.default_rng(seed)
    bpm, key = rng.uniform(80, 160), rng.integers(12)
    period = 60.0 / bpm
    t = np.arange(int(seconds * rate)) / rate
    beats = list(np.arange(0.0, seconds, period))
    beat_phase = (t % period) / period  # 0 at each beat
    root = 55.0 * 2 ** (key / 12)
    drums = np.exp(-beat_phase * period / 0.03) * np.sin(2 * np.pi * 60 * t)  # kick on the beat
    drums += 0.05 * np.exp(-((beat_phase - 0.5) % 1) * period / 0.01) * rng.standard_normal(len(t))  # off-beat hat
    bass = np.exp(-beat_phase * 3) * np.sin(2 * np.pi * root * t)
    chord_root = root * 4 * 2 ** (np.array([0, 5, 7, 0])[(t // (4 * period)).astype(int) % 4] / 12)
    chords = sum(np.sin(2 * np.pi * chord_root * r * t) for r in (1.0, 2 ** (4 / 12), 2 ** (7 / 12))) / 3
    return 0.3 * np.stack([drums, bass, chords]).astype(np.float32), beats, bpm


def write_rendered_cache(root: Path, songs_per_split: int = 8, seconds: float = 8.0) -> Path:
    """A render cache in the layout `training.sources.rendered` reads:
    `root/<split>/procedural/<NNNNN>/{stems.npy, meta.json}`."""
    for split, offset in SPLITS.items():
        for i in range(offset, offset + songs_per_split):
            stems, beats, bpm = song_stems(i, seconds)
            folder = root / split / "procedural" / f"{i:05d}"
            folder.mkdir(parents=True)
            np.save(folder / "stems.npy", np.round(stems * 32767).astype(np.int16))
            meta = {"name": f"procedural/{i:05d}", "sample_rate": RATE, "tempo": bpm, "beats": beats,
                    "stems": [{"name": n, "program": program, "is_drum": n == "drums", "soundfont": "TimGM6mb.sf2"}
                              for n, program in (("drums", 0), ("bass", 33), ("chords", 0))]}
            (folder / "meta.json").write_text(json.dumps(meta))
    return root


def write_gtzan_tree(root: Path, genres: tuple[str, ...] = ("blues", "rock"), seconds: float = 6.0) -> Path:
    """GTZAN audio (22.05 kHz wav) + TempoBeatDownbeat-style annotations, and one clip
    without annotation (to be skipped)."""
    for g, genre in enumerate(genres):
        for number in (0, 1):
            stems, beats, _ = song_stems(1000 + 10 * g + number, seconds, rate=22050)
            audio = root / "genres" / genre / f"{genre}.{number:05d}.wav"
            audio.parent.mkdir(parents=True, exist_ok=True)
            sf.write(audio, stems.sum(0), 22050)
            if number == 0:
                ann = root / "gtzan_tempo_beat-main" / "beats" / f"gtzan_{genre}_{number:05d}.beats"
                ann.parent.mkdir(parents=True, exist_ok=True)
                ann.write_text("".join(f"{b:.3f}\t{k % 4 + 1}\n" for k, b in enumerate(beats)) + "\n")
    return root
