"""The state a procedural song is written with: meter, key, tempo, grid, sections, line-up.

`SongWriter` draws the song's parameters from one `random.Random` and offers the helpers the
parts (procedural_parts.py) write notes with: `chord`, `scale_pitches`, `place`, `note`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..symbolic import Note, Stem

MODES = {
    "major": [0, 2, 4, 5, 7, 9, 11],
    "minor": [0, 2, 3, 5, 7, 8, 10],
    "dorian": [0, 2, 3, 5, 7, 9, 10],
    "mixolydian": [0, 2, 4, 5, 7, 9, 10],
    "phrygian": [0, 1, 3, 5, 7, 8, 10],
    "lydian": [0, 2, 4, 6, 7, 9, 11],
    "harmonic_minor": [0, 2, 3, 5, 7, 8, 11],
}
# meter: (beats per bar, grid steps per beat, tempo range in beats per minute)
METERS = {"4/4": (4, 4, (60, 200)), "3/4": (3, 4, (60, 180)), "6/8": (2, 6, (45, 100))}
PROGRAMS = {
    "bass": [32, 33, 34, 35, 36, 37, 38, 39, 43],
    "comp": [0, 1, 2, 4, 5, 7, 16, 17, 18, 24, 25, 26, 27, 28, 29, 30],
    "lead": [40, 56, 57, 60, 64, 65, 66, 68, 71, 73, 74, 80, 81, 84, 11, 12, 26, 29, 22, 62],
    "pad": [48, 49, 50, 52, 53, 88, 89, 90, 91, 92, 94, 95, 19],
    "arp": [8, 9, 10, 11, 13, 46, 0, 24, 25, 81, 98, 108],
}
DRUM_KITS = [0, 8, 16, 24, 25, 32, 40]
KICK, SNARE, CLAP, HAT, PEDAL_HAT, OPEN_HAT, RIDE, CRASH, SHAKER = 36, 38, 39, 42, 44, 46, 51, 49, 70
TOMS = [50, 48, 47, 45, 43, 41]
PROGRESSIONS = [[0, 4, 5, 3], [0, 5, 3, 4], [0, 3, 4, 0], [5, 3, 0, 4], [0, 6, 5, 4], [0, 3, 0, 4],
                [1, 4, 0, 0], [0, 2, 3, 4], [0, 0, 3, 4], [5, 4, 3, 4], [0, 4, 3, 3], [0, 6, 3, 4]]


@dataclass
class Grid:
    """Maps grid steps to seconds, with swing and the meter's grid."""

    beat_seconds: float
    steps_per_beat: int
    beats_per_bar: int
    swing: float  # 0 = straight; 1/6 pushes the off-beat eighth to a triplet

    @property
    def steps_per_bar(self) -> int:
        return self.steps_per_beat * self.beats_per_bar

    def time(self, step: float) -> float:
        beat, frac = divmod(step / self.steps_per_beat, 1.0)
        if self.swing and self.steps_per_beat == 4:
            mid = 0.5 + self.swing
            frac = frac / 0.5 * mid if frac < 0.5 else mid + (frac - 0.5) / 0.5 * (1 - mid)
        return (beat + frac) * self.beat_seconds


@dataclass
class Section:
    progression: list[int]  # scale degrees, one per chord slot
    chords_per_bar: int
    bars: int
    line_up: set[str]  # stems playing in this section
    groove: int  # drum / comping pattern variant
    velocity: int  # base loudness


class SongWriter:
    """The parameters of one song, drawn from a seeded random generator, and its stems being written
    (`procedural.write_song` composes them)."""

    def __init__(self, rng: random.Random, name: str) -> None:
        self.rng, self.name = rng, name
        self.meter = rng.choices(list(METERS), weights=[0.6, 0.2, 0.2])[0]
        beats, steps, (lo, hi) = METERS[self.meter]
        tempo = rng.uniform(lo, hi)
        swing = rng.choice([0.0, 0.0, 0.0, rng.uniform(0.05, 0.17)]) if self.meter != "6/8" else 0.0
        self.grid = Grid(60.0 / tempo, steps, beats, swing)
        self.tempo = tempo
        self.tonic = rng.randrange(12)
        self.mode = rng.choice(list(MODES))
        self.scale = MODES[self.mode]
        self.jitter = rng.uniform(0.0, 0.012)  # humanised timing, seconds
        self.style_offset = rng.randrange(4)  # decorrelates bass and comping patterns
        self.stems = self._draw_line_up()

    def _draw_line_up(self) -> dict[str, Stem]:
        r = self.rng
        chances = {"drums": 0.85, "bass": 0.95, "comp": 0.9, "lead": 0.75, "pad": 0.55, "arp": 0.4}
        names = [n for n, p in chances.items() if r.random() < p]
        while len(names) < 3:
            names = sorted(set(names) | {r.choice(list(chances))}, key=list(chances).index)
        return {
            n: Stem(n, r.choice(DRUM_KITS), is_drum=True) if n == "drums" else Stem(n, r.choice(PROGRAMS[n]))
            for n in names
        }

    # ---- harmony
    def chord(self, degree: int, size: int = 3) -> list[int]:
        """Pitch classes (relative to C) of the diatonic chord on `degree`."""
        return [(self.tonic + self.scale[(degree + 2 * k) % 7]) % 12 for k in range(size)]

    def scale_pitches(self, lo: int, hi: int) -> list[int]:
        pcs = {(self.tonic + s) % 12 for s in self.scale}
        return [p for p in range(lo, hi + 1) if p % 12 in pcs]

    @staticmethod
    def place(pc: int, lo: int) -> int:
        """Lowest MIDI pitch >= `lo` with pitch class `pc`."""
        return lo + (pc - lo) % 12

    # ---- structure
    def sections(self) -> list[Section]:
        """The song's sections in order (A/B/C kinds repeated to 30-80 s)."""
        r = self.rng
        labels = r.choice([["A", "B", "A", "B"], ["A", "A", "B", "A"], ["A", "B", "C", "B"], ["A", "B", "A", "C", "A"]])
        pool = list(self.stems)
        kinds = {}
        for label in sorted(set(labels)):
            line_up = {n for n in pool if r.random() < 0.8} or {r.choice(pool)}
            if len(line_up) < 2 and len(pool) > 1:
                line_up.add(r.choice([n for n in pool if n not in line_up]))
            kinds[label] = Section(
                progression=r.choice(PROGRESSIONS) if r.random() < 0.7 else [r.randrange(7) for _ in range(4)],
                chords_per_bar=r.choice([1, 1, 2]) if self.meter == "4/4" else 1,
                bars=r.choice([4, 8]),
                line_up=line_up,
                groove=r.randrange(4),
                velocity=r.randint(60, 110),
            )
        for name in pool:  # every stem of the line-up plays in some section (so >= 3 stems per song)
            if not any(name in k.line_up for k in kinds.values()):
                kinds[r.choice(sorted(kinds))].line_up.add(name)
        target = r.uniform(30.0, 80.0)
        bar_seconds = self.grid.beat_seconds * self.grid.beats_per_bar
        out: list[Section] = []
        while sum(s.bars for s in out) * bar_seconds < target:
            out.extend(kinds[label] for label in labels)
        return out

    def note(self, stem: str, step: float, length: float, pitch: int, velocity: int, offset: float) -> None:
        start = offset + self.grid.time(step) + self.rng.gauss(0.0, self.jitter)
        end = offset + self.grid.time(step + length)
        velocity = max(1, min(127, int(velocity + self.rng.gauss(0, 6))))
        self.stems[stem].notes.append(Note(max(0.0, start), max(start + 0.03, end - 0.01), pitch, velocity))
