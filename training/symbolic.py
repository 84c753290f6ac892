"""Symbolic multi-track music: what the generators produce and the synthesiser renders."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Note:
    start: float  # seconds
    end: float  # seconds
    pitch: int  # MIDI note number (drum sound for drum stems)
    velocity: int  # 1..127


@dataclass
class Stem:
    name: str  # e.g. "drums", "bass", "soprano"
    program: int  # General MIDI program 0..127 (drum kit number for drums)
    is_drum: bool = False
    notes: list[Note] = field(default_factory=list)


@dataclass
class SymbolicSong:
    name: str  # unique id, e.g. "procedural/train/000123"
    stems: list[Stem]
    beats: list[float]  # beat times in seconds (ground truth for beat tracking)
    downbeats: list[float] = field(default_factory=list)
    tempo: float = 120.0  # BPM (the nominal tempo)
    meta: dict = field(default_factory=dict)  # key, mode, meter, ensemble, ...

    @property
    def duration(self) -> float:
        """Seconds until the last note ends."""
        return max((n.end for s in self.stems for n in s.notes), default=0.0)
