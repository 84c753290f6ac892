"""Re-render a window of a cached song's stems from its notes: transposed, or at another tempo.

`training.render.write_song` writes `notes.json` beside `meta.json` in each song folder: per
stem a list of `[start s, end s, MIDI pitch, velocity]`; `meta.json` holds each stem's
program, `is_drum` and soundfont. `WindowRenderer` renders the stems of one window again
with `StemSynth`, the same soundfont and program per stem:
- only the notes sounding in `[start - lead, start + length)` are rendered, with times
  shifted so the rendered span starts `lead` seconds (LEAD_SECONDS, about 3 s) before the
  window; notes that began earlier start at the span's first sample (their attack falls
  before the window, their sustain is heard in it); the lead is then cut off;
- `semitones` transposes pitched stems; drum stems are never transposed (their "pitch" is a
  drum sound); notes leaving the MIDI range 0..127 are dropped;
- `tempo` scales note times about the window start: `t -> start + (t - start) / tempo`
  (1.02 = 2% faster), drums included; pitch is kept.
The cache scaled each whole song by `min(1, 0.99 / peak)` (not stored), so a re-render
differs from the cache by that gain: `fit_gain` recovers it from an untransposed re-render.
Magnitude spectrograms of an untransposed re-render and the cache correlate at 0.97-1.0;
waveforms do not (partials start at other phases).
FluidSynth starts notes on 64-sample blocks, so re-rendered samples differ slightly from the
cache (up to 4 ms per onset); the rendered span is a whole number of blocks so that every
re-render of one process sees the same block phase.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from .sources.base import SAMPLE_RATE, Song
from .sources.rendered import RenderedSong
from .symbolic import Note, Stem

LEAD_SECONDS = 3.0  # rendered before the window so notes sounding into it are heard
BLOCK = 64  # FluidSynth's block size in samples


class Synth(Protocol):
    """What `WindowRenderer` needs of `training.synth.StemSynth`."""

    def render(self, stem: Stem, soundfont: str, n_samples: int) -> np.ndarray: ...


def has_notes(song: Song) -> bool:
    """Whether `song` is a rendered song whose folder holds `notes.json`."""
    return isinstance(song, RenderedSong) and (song.folder / "notes.json").is_file()


def load_notes(folder: Path) -> list[list[Note]]:
    """Per stem, its notes from `folder/notes.json`."""
    stems = json.loads((Path(folder) / "notes.json").read_text())
    return [[Note(float(a), float(b), int(p), int(v)) for a, b, p, v in stem] for stem in stems]


def window_notes(notes: Sequence[Note], start: float, span: float, lead: float, semitones: int = 0,
                 tempo: float = 1.0) -> list[Note]:
    """The notes sounding in `[start - lead, start - lead + span)` seconds after scaling their
    times about `start` by `1 / tempo` and transposing them by `semitones`, with times relative
    to `start - lead` (notes that began earlier start at 0; notes out of 0..127 are dropped)."""
    if tempo <= 0:
        raise ValueError(f"Argument `tempo` expected a positive factor, got {tempo}")
    origin = start - lead
    out = []
    for n in notes:
        on = start + (n.start - start) / tempo - origin
        off = start + (n.end - start) / tempo - origin
        pitch = n.pitch + semitones
        if off > 0 and on < span and 0 <= pitch <= 127:
            out.append(Note(max(on, 0.0), off, pitch, n.velocity))
    return out


def fit_gain(rendered: np.ndarray, cached: np.ndarray) -> float:
    """The gain that gives `rendered` the RMS of `cached` (1 for a silent render). An energy
    ratio, not a least-squares fit: re-rendered partials do not keep their phases."""
    energy = float(np.mean(np.square(rendered, dtype=np.float64)))
    return float(np.sqrt(np.mean(np.square(cached, dtype=np.float64)) / energy)) if energy > 0 else 1.0


class WindowRenderer:
    """Renders windows of cached songs' stems again, from their notes.

    Args:
        synth: a `StemSynth` (or anything with its `render`); default a new one at SAMPLE_RATE.
        lead_seconds: seconds rendered before each window (rounded up so that the rendered
            span is a whole number of FluidSynth blocks).
    """

    def __init__(self, synth: Synth | None = None, lead_seconds: float = LEAD_SECONDS) -> None:
        if synth is None:
            from .synth import StemSynth  # needs pyfluidsynth and libfluidsynth

            synth = StemSynth(SAMPLE_RATE)
        self.synth = synth
        self.lead_seconds = lead_seconds
        self._notes: dict[Path, list[list[Note]]] = {}

    def render(self, song: RenderedSong, stems: Sequence[int], start: int, length: int, semitones: int = 0,
               tempo: float = 1.0) -> np.ndarray:
        """The sum of `stems` of `song` over samples `[start, start + length)`, re-rendered with
        pitched stems transposed by `semitones` and note times scaled by `1 / tempo` about the
        window start: `[length]` float32, at the synth's level (see `fit_gain`)."""
        if not has_notes(song):
            raise ValueError(f"{song.name}: no notes.json beside its stems; re-render it with training.render")
        folder = song.folder
        if folder not in self._notes:
            self._notes[folder] = load_notes(folder)
        lead = -(-(int(round(self.lead_seconds * SAMPLE_RATE)) + length) // BLOCK) * BLOCK - length
        out = np.zeros(length, np.float32)
        for i in stems:
            info = song.meta["stems"][i]
            notes = window_notes(self._notes[folder][i], start / SAMPLE_RATE, (lead + length) / SAMPLE_RATE,
                                 lead / SAMPLE_RATE, 0 if info["is_drum"] else semitones, tempo)
            stem = Stem(info["name"], info["program"], bool(info["is_drum"]), notes)
            out += self.synth.render(stem, info["soundfont"], lead + length)[lead:]
        return out
