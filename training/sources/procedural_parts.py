"""The parts a procedural song is made of: one function per stem, writing notes on a grid.

Each takes the `SongWriter` (grid, key, rng, note()), the current section, and where to
write: `span = (first step, steps)` of the chord slot within the bar and `offset` the bar's
start in seconds.
"""

from __future__ import annotations

from .procedural_writer import CLAP, CRASH, HAT, KICK, OPEN_HAT, PEDAL_HAT, RIDE, SHAKER, SNARE, TOMS
from .procedural_writer import Section, SongWriter


def bass(w: SongWriter, sec: Section, degree: int, span: tuple[int, int], offset: float) -> None:
    root, fifth = w.chord(degree)[0], w.chord(degree)[2]
    low = w.place(root, 28)
    spb, (start, n) = w.grid.steps_per_beat, span
    style = (sec.groove + w.style_offset) % 4
    if style == 0:  # held root
        w.note("bass", start, n, low, sec.velocity, offset)
    elif style == 1:  # root on every beat, octave on the last
        for k, step in enumerate(range(start, start + n, spb)):
            w.note("bass", step, spb * 0.9, low + (12 if k == n // spb - 1 and k else 0), sec.velocity, offset)
    elif style == 2:  # root-fifth eighths
        half = max(1, spb // 2)
        for k, step in enumerate(range(start, start + n, half)):
            pitch = low if k % 4 != 2 else w.place(fifth, low)
            w.note("bass", step, half * 0.8, pitch, sec.velocity - 10 * (k % 2), offset)
    else:  # syncopated: follows a kick-like pattern
        for step in (0, 3 * spb // 2, 2 * spb, 3 * spb):
            if step < n:
                w.note("bass", start + step, spb * 0.7, low if step != 2 * spb else w.place(fifth, low), sec.velocity, offset)


def _voicing(w: SongWriter, degree: int, lo: int, size: int) -> list[int]:
    pcs = w.chord(degree, size)
    inversion = w.rng.randrange(len(pcs))
    pcs = pcs[inversion:] + pcs[:inversion]
    out, floor = [], lo
    for pc in pcs:
        out.append(w.place(pc, floor))
        floor = out[-1] + 1
    return out


def comp(w: SongWriter, sec: Section, degree: int, span: tuple[int, int], offset: float) -> None:
    chord = _voicing(w, degree, 52, 3 + (w.rng.random() < 0.3))
    spb, (start, n) = w.grid.steps_per_beat, span
    style = sec.groove % 4
    if style == 0:  # stabs on each beat
        hits = [(s, spb * 0.5) for s in range(0, n, spb)]
    elif style == 1:  # off-beat skank
        hits = [(s + spb // 2, spb * 0.4) for s in range(0, n, spb)]
    elif style == 2:  # sustained with a push
        hits = [(0, n * 0.6), (n * 3 // 4, n // 4)]
    else:  # syncopated
        hits = [(s, spb * 0.6) for s in (0, spb + spb // 2, 3 * spb) if s < n]
    for step, length in hits:
        for pitch in chord:
            w.note("comp", start + step, length, pitch, sec.velocity - 10, offset)


def pad(w: SongWriter, sec: Section, degree: int, span: tuple[int, int], offset: float) -> None:
    for pitch in _voicing(w, degree, 55, 4):
        w.note("pad", span[0], span[1], pitch, sec.velocity - 20, offset)


def arp(w: SongWriter, sec: Section, degree: int, span: tuple[int, int], offset: float) -> None:
    chord = _voicing(w, degree, 60, 3)
    chord = chord + [chord[0] + 12]
    step_len = max(1, w.grid.steps_per_beat // (2 if sec.groove % 2 else 4))
    start, n = span
    order = chord if sec.groove < 2 else chord[::-1]
    for k, step in enumerate(range(start, start + n, step_len)):
        w.note("arp", step, step_len * 0.9, order[k % len(order)], sec.velocity - 15 + 10 * (k % 2 == 0), offset)


def motif(w: SongWriter, sec: Section) -> list[tuple[int, int, int]]:
    """A one-bar melodic motif: (step, length in steps, scale index) triples."""
    spb, bar = w.grid.steps_per_beat, w.grid.steps_per_bar
    unit = max(1, spb // 2)
    steps, pos, idx = [], 0, w.rng.randrange(7, 14)
    while pos < bar:
        length = unit * w.rng.choice([1, 1, 2, 2, 3, 4])
        if w.rng.random() > 0.2:
            steps.append((pos, min(length, bar - pos), idx))
        idx = max(0, min(20, idx + w.rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3])))
        pos += length
    return steps


def lead(w: SongWriter, sec: Section, melody: list[tuple[int, int, int]], bar: int, offset: float) -> None:
    pitches = w.scale_pitches(60, 88)
    transpose = (0, 0, 2, -1)[bar % 4]  # the motif answers itself across a 4-bar phrase
    for step, length, idx in melody:
        pitch = pitches[max(0, min(len(pitches) - 1, idx + transpose))]
        w.note("lead", step, length * 0.95, pitch, sec.velocity, offset)


def drums(w: SongWriter, sec: Section, offset: float, fill: bool, crash: bool) -> None:
    spb, beats = w.grid.steps_per_beat, w.grid.beats_per_bar
    bar, v = spb * beats, sec.velocity

    def hit(step: float, pitch: int, vel: int) -> None:
        w.note("drums", step, 1, pitch, vel, offset)

    if crash:
        hit(0, CRASH, v + 10)
    hat = (HAT, RIDE, PEDAL_HAT, SHAKER)[sec.groove]
    hat_step = spb // 2 if sec.groove % 2 == 0 else max(1, spb // 4)
    if w.meter == "6/8":
        hat_step = spb // 3
    for step in range(0, bar, hat_step):
        hit(step, hat, v - 25 + (10 if step % spb == 0 else 0))
    end = bar // 2 if fill else bar
    if w.meter == "4/4":
        four_on_floor = sec.groove == 3
        kicks = range(0, bar, spb) if four_on_floor else [0, 2 * spb + spb // 2 * (sec.groove % 2), 2 * spb]
        snares = [spb, 3 * spb]
        if four_on_floor:
            for step in range(spb // 2, bar, spb):
                hit(step, OPEN_HAT, v - 20)
    elif w.meter == "3/4":
        kicks, snares = [0], [spb, 2 * spb]
    else:
        kicks, snares = [0, spb * 1.5 if sec.groove % 2 else 0], [spb]
    for step in sorted(set(kicks)):
        if step < end:
            hit(step, KICK, v)
    for step in snares:
        if step < end:
            hit(step, CLAP if sec.groove == 3 else SNARE, v - 5)
    if fill:  # a tom/snare run over the second half, getting louder
        run = range(bar // 2, bar, max(1, spb // 4 if spb == 4 else spb // 3))
        for k, step in enumerate(run):
            hit(step, SNARE if k % 3 == 0 else TOMS[k % len(TOMS)], v - 20 + 3 * k)
