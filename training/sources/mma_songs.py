"""Songs arranged by MMA (Musical MIDI Accompaniment) from generated chord charts.

`generate_mma_song(seed, name)` draws a chart (mma_charts.py), has the `mma` program (Debian
package `mma`) write it as multi-track MIDI, and turns the MIDI into stems: one per MMA track
(bass, chord, arpeggio, walk, sustained strings, ...), the drum channel split by kit piece
(kick, snare, hi-hat, toms, cymbals, percussion), at most MAX_STEMS. A lead melody over the
chords is added in Python for most songs. A chart MMA rejects is redrawn (seeded).
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from ..symbolic import Note, Stem, SymbolicSong
from .mma_charts import MMA_STDLIB, QUALITIES, Chart, chart_text, draw_chart, read_library
from .procedural_writer import DRUM_KITS, MODES, PROGRAMS

if TYPE_CHECKING:
    from pretty_midi import PrettyMIDI

MAX_STEMS = 8
ATTEMPTS = 5
MMA_TIMEOUT = 60.0  # seconds
MIN_NOTES = 8  # a pitched track with fewer notes joins a stem of the same program
DRUM_PIECES = {  # General MIDI drum notes by kit piece; the rest is "percussion"
    "kick": (35, 36), "snare": (37, 38, 39, 40), "hihat": (42, 44, 46),
    "toms": (41, 43, 45, 47, 48, 50), "cymbals": (49, 51, 52, 53, 55, 57, 59),
}
LEAD_CHANCE = 0.75


def run_mma(text: str, timeout: float = MMA_TIMEOUT) -> bytes:
    """The MIDI file `mma` writes for the song file `text`; RuntimeError with MMA's message if none."""
    with tempfile.TemporaryDirectory(prefix="mma_") as tmp:
        song, midi = Path(tmp) / "song.mma", Path(tmp) / "song.mid"
        song.write_text(text)
        try:
            done = subprocess.run(["mma", "-w", "-f", str(midi), str(song)], cwd=tmp, capture_output=True,
                                  text=True, timeout=timeout, env={**os.environ, "PYTHONHASHSEED": "0"})
        except FileNotFoundError as exc:
            raise RuntimeError("`mma` is not on PATH: "
                               "run training/install_system_deps.sh (Debian package mma)") from exc
        if done.returncode != 0 or not midi.exists():
            message = " ".join((done.stdout + done.stderr).split())[-300:]
            raise RuntimeError(f"mma failed (exit {done.returncode}): {message}")
        return midi.read_bytes()


def in_time_order(*note_lists: list[Note]) -> list[Note]:
    return sorted((n for notes in note_lists for n in notes), key=lambda n: (n.start, n.pitch, n.end))


def drum_piece(pitch: int) -> str:
    return next((piece for piece, notes in DRUM_PIECES.items() if pitch in notes), "percussion")


def midi_stems(pm: PrettyMIDI) -> list[Stem]:
    """MMA's MIDI -> stems: one per track, the drum channel split by kit piece."""
    notes: dict[tuple[bool, str], list[Note]] = {}
    programs: dict[tuple[bool, str], Counter] = {}
    for inst in pm.instruments:  # one per (track, channel, program): a track's voice may change
        for n in inst.notes:
            if n.end <= n.start:
                continue
            name = f"drums-{drum_piece(n.pitch)}" if inst.is_drum else inst.name.lower() or "part"
            key = (bool(inst.is_drum), name)
            velocity = min(127, max(1, int(n.velocity)))
            notes.setdefault(key, []).append(Note(float(n.start), float(n.end), int(n.pitch), velocity))
            programs.setdefault(key, Counter())[inst.program] += 1
    stems = []
    for (is_drum, name), ns in sorted(notes.items()):
        program = int(min(programs[(is_drum, name)].items(), key=lambda pc: (-pc[1], pc[0]))[0])
        if is_drum and program not in DRUM_KITS:
            program = 0
        stems.append(Stem(name, program, is_drum, in_time_order(ns)))
    return merge_small(stems)


def merge_drums(stems: list[Stem], small: Stem, target: Stem) -> None:
    """`small`'s notes join `target`, named by both kit pieces ("drums" once it is the only drum stem)."""
    stems.remove(small)
    pieces = sorted(set(small.name.removeprefix("drums-").split("+") + target.name.removeprefix("drums-").split("+")))
    target.name = "drums" if sum(s.is_drum for s in stems) == 1 else "drums-" + "+".join(pieces)
    target.notes = in_time_order(target.notes, small.notes)


def takes_turns(a: Stem, b: Stem, block: float = 2.0) -> bool:
    """Whether two stems mostly play in different places (like MMA's Bass and Walk tracks,
    one per section): under a fifth of the smaller one's `block`-second spans hold both."""
    spans_a, spans_b = ({int(n.start // block) for n in s.notes} for s in (a, b))
    return len(spans_a & spans_b) < 0.2 * min(len(spans_a), len(spans_b))


def merge_small(stems: list[Stem], max_stems: int = MAX_STEMS) -> list[Stem]:
    """A pitched stem joins the largest of the same program when it is tiny or they take turns
    (one player); beyond `max_stems`, the smallest drum stem joins the next smallest, and once
    drums are one stem the smallest stem is dropped."""
    stems = [Stem(s.name, s.program, s.is_drum, list(s.notes)) for s in stems]  # the caller's stay as they are
    for small in sorted((s for s in stems if not s.is_drum), key=lambda s: (len(s.notes), s.name)):
        same = [s for s in stems if s is not small and not s.is_drum and s.program == small.program
                and len(s.notes) >= len(small.notes) and (len(small.notes) < MIN_NOTES or takes_turns(small, s))]
        if same:
            stems.remove(small)
            target = max(same, key=lambda s: (len(s.notes), s.name))
            target.notes = in_time_order(target.notes, small.notes)
    while len(stems) > max_stems:
        drums = sorted((s for s in stems if s.is_drum), key=lambda s: (len(s.notes), s.name))
        if len(drums) > 1:
            merge_drums(stems, drums[0], drums[1])
        else:
            stems.remove(min(stems, key=lambda s: (len(s.notes), s.name)))
    return stems


def lead_melody(rng: random.Random, chart: Chart, beats: list[float]) -> Stem:
    """A lead over the sections' chords: a 4-bar rhythm per section label, repeated where the
    label returns; chord tones on the beats, scale tones between, a held note every 4th bar."""
    scale = [(chart.tonic + i) % 12 for i in MODES[chart.mode]]
    bpb = chart.beats_per_bar
    rhythms: dict[str, list[list[tuple[float, float]]]] = {}
    notes = []
    pitch = 60 + rng.randrange(12)
    for bar_index, bar in enumerate(chart.bars):
        if bar.section in ("intro", "end"):
            continue
        if bar.section not in rhythms:
            rhythms[bar.section] = [draw_rhythm(rng, bpb, phrase_end=(b % 4 == 3)) for b in range(4)]
        rhythm = rhythms[bar.section][bar_index % 4]
        for onset, length in rhythm:
            beat = bar_index * bpb + onset
            chord = bar.chords[int(onset)]
            tones = {(chord.root + i) % 12 for i in QUALITIES[chord.quality]}
            allowed = tones if onset == int(onset) else set(scale)
            step = rng.choice((-4, -2, -1, 1, 2, 3)) if rng.random() < 0.8 else 0
            target = min(max(pitch + step, 55), 84)
            pitch = min(range(target - 6, target + 7), key=lambda p: (p % 12 not in allowed, abs(p - target), p))
            start, end = beat_time(beats, beat), beat_time(beats, beat + length * 0.9)
            notes.append(Note(start, end, pitch, rng.randint(70, 105)))
    return Stem("lead", rng.choice(PROGRAMS["lead"]), False, notes)


def draw_rhythm(rng: random.Random, beats_per_bar: int, phrase_end: bool) -> list[tuple[float, float]]:
    """(onset, length) in beats for one bar: quarters, eighth pairs, half notes; a phrase end holds."""
    if phrase_end:
        return [(0.0, min(2.0, beats_per_bar))]
    out, beat = [], 0.0
    while beat < beats_per_bar:
        kind = rng.choices(("quarter", "eighths", "half", "rest"), (0.4, 0.3, 0.15, 0.15))[0]
        if kind == "eighths":
            out += [(beat, 0.5), (beat + 0.5, 0.5)]
        elif kind == "half" and beat + 2 <= beats_per_bar:
            out.append((beat, 2.0))
            beat += 1
        elif kind != "rest":
            out.append((beat, 1.0))
        beat += 1
    return out


def beat_time(beats: list[float], beat: float) -> float:
    """Seconds at a fractional beat index (linear between the beat times; the last interval extended)."""
    k = min(int(beat), len(beats) - 2)
    return beats[k] + (beat - k) * (beats[k + 1] - beats[k])


def chart_song(chart: Chart, midi: bytes, rng: random.Random, name: str) -> SymbolicSong:
    """The song of a chart MMA arranged as `midi`: stems, beats on MMA's beat grid, meta."""
    import pretty_midi  # the training extra

    pm = pretty_midi.PrettyMIDI(io.BytesIO(midi))
    stems = midi_stems(pm)
    n_beats = len(chart.bars) * chart.beats_per_bar
    beats = [float(pm.tick_to_time(k * pm.resolution)) for k in range(n_beats + 1)]  # an MMA beat is a quarter
    if rng.random() < LEAD_CHANCE:
        stems = merge_small(stems, MAX_STEMS - 1) + [lead_melody(rng, chart, beats)]
    if sum(bool(s.notes) for s in stems) < 2:
        raise RuntimeError(f"mma wrote {len(stems)} stem(s) with notes; a song needs two")
    meta = {"groove": chart.groove, "style": chart.style, "key": chart.key,
            "mode": chart.mode, "meter": chart.meter, "beats_per_bar": chart.beats_per_bar,
            "tempo": chart.tempo, "form": list(chart.form)}
    return SymbolicSong(name=name, stems=stems, beats=beats[:-1], downbeats=beats[:-1:chart.beats_per_bar],
                        tempo=float(chart.tempo), meta=meta)


def generate_mma_song(seed: int, name: str, lib: Path = MMA_STDLIB) -> SymbolicSong:
    """One MMA-arranged song, fully determined by `seed` (and the installed groove library)."""
    styles = read_library(lib)
    errors = []
    for attempt in range(ATTEMPTS):
        rng = random.Random(f"mma/{seed}/{attempt}")
        chart = draw_chart(rng, styles)
        try:
            return chart_song(chart, run_mma(chart_text(chart)), rng, name)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            errors.append(f"{chart.style}: {exc}")
    raise RuntimeError(f"{name}: no chart of seed {seed} rendered in {ATTEMPTS} attempts: " + "; ".join(errors))
