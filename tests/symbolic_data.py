"""Symbolic songs and a render cache with notes.json, written by `training.render.write_song`,
and `ToneSynth`: a sine synthesiser with `StemSynth`'s interface, so the re-render path is
tested without FluidSynth (and exactly: a note of MIDI pitch p is a sine at 440 * 2^((p-69)/12) Hz).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.render import write_song
from training.rerender import Synth
from training.symbolic import Note, Stem, SymbolicSong

RATE = 16000


class ToneSynth:
    """Pitched notes: sines at the note's frequency; drum notes: 30 ms decaying 150 Hz bursts."""

    def __init__(self) -> None:
        self.calls: list[tuple[Stem, str, int]] = []

    def render(self, stem: Stem, soundfont: str, n_samples: int) -> np.ndarray:
        self.calls.append((stem, soundfont, n_samples))
        out = np.zeros(n_samples)
        t = np.arange(n_samples) / RATE
        for note in stem.notes:
            on = min(int(round(note.start * RATE)), n_samples)
            off = min(int(round(note.end * RATE)), n_samples)
            tt = t[on:off] - note.start
            if stem.is_drum:
                out[on:off] += np.sin(2 * np.pi * 150 * tt) * np.exp(-tt / 0.03) * note.velocity / 127
            else:
                out[on:off] += 0.3 * np.sin(2 * np.pi * 440 * 2 ** ((note.pitch - 69) / 12) * tt) * note.velocity / 127
        return out.astype(np.float32)


def symbolic_song(seed: int, seconds: float = 8.0) -> SymbolicSong:
    """Drums (a kick on each beat), a bass on the root and a sustained triad per bar, at a random tempo and key."""
    rng = np.random.default_rng(seed)
    bpm, key = float(rng.uniform(90, 140)), int(rng.integers(12))
    beats = list(np.arange(0.0, seconds, 60.0 / bpm))
    drums = Stem("drums", 0, True, [Note(b, b + 0.1, 36, 100) for b in beats])
    bass = Stem("bass", 33, False, [Note(b, b + 0.4, 40 + key, 90) for b in beats])
    bars = beats[::4]
    chords = Stem("chords", 0, False, [Note(b, b + 4 * 60 / bpm, 60 + key + i, 70) for b in bars for i in (0, 4, 7)])
    return SymbolicSong(f"procedural/{seed:05d}", [drums, bass, chords], beats, bars, bpm, {"key": key})


def write_symbolic_cache(root: Path, synth: Synth, n_songs: int = 4, split: str = "val_timbre") -> Path:
    """`n_songs` songs rendered by `synth` into `root/<split>/procedural/<NNNNN>/` with notes.json."""
    for i in range(n_songs):
        folder = root / split / "procedural" / f"{i:05d}"
        write_song(symbolic_song(i), folder, synth, ["TimGM6mb.sf2"] * 3)  # type: ignore[arg-type]
    return root
