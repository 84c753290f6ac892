"""A procedural multi-track song generator (the Slakh-like source).

Songs have sections (A/B/C with their own progressions, grooves and line-ups), so windows
of one song differ; drums, bass, comping, lead, pads and arpeggios; tempo 60-200 BPM;
major/minor/modal keys; 4/4, 3/4 and 6/8; swing, humanised timing, fills and dynamics;
General MIDI programs drawn per family. Everything is drawn from one `random.Random`.
"""

from __future__ import annotations

import random

from ..symbolic import SymbolicSong
from . import procedural_parts as parts
from .procedural_writer import SongWriter


def write_song(w: SongWriter) -> SymbolicSong:
    """The song `w` describes: its sections bar by bar, each stem written by its part."""
    bar_seconds = w.grid.beat_seconds * w.grid.beats_per_bar
    sections = w.sections()
    bar = 0
    for i, sec in enumerate(sections):
        melody = parts.motif(w, sec)
        for b in range(sec.bars):
            offset = (bar + b) * bar_seconds
            slots = sec.chords_per_bar
            for slot in range(slots):
                degree = sec.progression[(b * slots + slot) % len(sec.progression)]
                span = (slot * w.grid.steps_per_bar // slots, w.grid.steps_per_bar // slots)
                for name in w.stems:  # dict order: a set's order would vary with PYTHONHASHSEED
                    if name in sec.line_up and name not in ("drums", "lead"):
                        getattr(parts, name)(w, sec, degree, span, offset)
            if "lead" in sec.line_up and "lead" in w.stems:
                parts.lead(w, sec, melody, b, offset)
            if "drums" in sec.line_up and "drums" in w.stems:
                last = b == sec.bars - 1 and i < len(sections) - 1
                parts.drums(w, sec, offset, fill=last, crash=b == 0)
        bar += sec.bars
    beats = [k * w.grid.beat_seconds for k in range(bar * w.grid.beats_per_bar)]
    stems = [s for s in w.stems.values() if s.notes]
    return SymbolicSong(
        name=w.name,
        stems=stems,
        beats=beats,
        downbeats=beats[:: w.grid.beats_per_bar],
        tempo=w.tempo,
        meta={"key": w.tonic, "mode": w.mode, "meter": w.meter, "swing": w.grid.swing},
    )


def generate_song(seed: int, name: str) -> SymbolicSong:
    """One procedural song, fully determined by `seed`."""
    return write_song(SongWriter(random.Random(seed), name))
