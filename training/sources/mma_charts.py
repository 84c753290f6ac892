"""Chord charts for MMA (Musical MIDI Accompaniment): its groove library and seeded song charts.

MMA's style files (`/usr/share/mma/lib/stdlib/*.mma`, Debian package `mma`) define grooves
with `DefGroove NAME`; the `Time` (beats per bar), `TimeSig` and `SeqSize` (pattern bars) in
force at that line belong to the groove. `read_library` lists them by reading the files;
`draw_chart` picks a style, its grooves (main variations, intro, fills, ending), a key and
mode, a tempo in the style's range and a song form of sections with common progressions;
`chart_text` writes the chart as an MMA song file. Everything is drawn from one
`random.Random`, over lists sorted by name.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from .procedural_writer import MODES

MMA_STDLIB = Path("/usr/share/mma/lib/stdlib")
SKIPPED_STYLES = ("metronome", "none")  # click tracks and the empty groove, not music
ROLES = ("main", "intro", "fill", "end")
PITCH_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# chord quality (MMA's spelling) -> intervals above the root
QUALITIES = {
    "": (0, 4, 7), "m": (0, 3, 7), "7": (0, 4, 7, 10), "m7": (0, 3, 7, 10), "maj7": (0, 4, 7, 11),
    "m7b5": (0, 3, 6, 10), "dim": (0, 3, 6), "dim7": (0, 3, 6, 9), "6": (0, 4, 7, 9), "m6": (0, 3, 7, 9),
    "9": (0, 4, 7, 10, 14), "m9": (0, 3, 7, 10, 14), "sus4": (0, 5, 7),
}
# Roman-numeral progressions per mode: bars split by "|", chords of a bar by spaces.
# Case gives the triad (upper major, lower minor); suffixes 7, maj7, 6, 9, sus4, h7 (half-diminished), o, o7.
BLUES = {  # the 12-bar forms, drawn more often for the blues styles
    "major": "I7 | IV7 | I7 | I7 | IV7 | IV7 | I7 | I7 | V7 | IV7 | I7 | V7",
    "minor": "i7 | iv7 | i7 | i7 | iv7 | iv7 | i7 | i7 | bVI7 | V7 | i7 | V7",
}
PROGRESSIONS = {
    "major": (
        "I | vi | IV | V", "I | V | vi | IV", "Imaj7 | vi7 | ii7 | V7", "ii7 | V7 | Imaj7 | Imaj7",
        "Imaj7 | VI7 | ii7 | V7", "I | I7 | IV | iv", "I IV | V I", "iii7 | vi7 | ii7 | V7",
        "I | III7 | vi | II7 | ii7 | V7 | I | V7", "I6 | ii7 V7 | iii7 VI7 | ii7 V7",
        BLUES["major"], "I | IV | I | V7",
        "Imaj7 | IVmaj7 | iii7 | VI7 | ii7 | V7 | Imaj7 | Imaj7",
    ),
    "minor": (
        "i | iv | V7 | i", "i | bVI | bIII | bVII", "iih7 | V7 | i | i", "i | bVII | bVI | V7",
        BLUES["minor"], "i | i | iv | V7",
        "i7 | iv7 | bVII7 | bIIImaj7 | bVImaj7 | iih7 | V7 | i7", "i | viio7 | i | V7",
    ),
    "dorian": ("i7 | IV7", "i7 | i7 | IV7 | IV7", "i7 | bIII | IV | i7", "i7 | ii7 | i7 | IV7"),
    "mixolydian": ("I | bVII | IV | I", "I7 | I7 | bVII | IV", "I | bVII | I | IV", "I7 | v7 | I7 | IV"),
    "lydian": ("Imaj7 | II", "Imaj7 | II7 | Imaj7 | vii7"),
    "phrygian": ("i | bII | i | bII", "i | bII | bIII | bII"),
}
MODE_WEIGHTS = {"major": 0.45, "minor": 0.3, "dorian": 0.09, "mixolydian": 0.09, "lydian": 0.035, "phrygian": 0.035}
FORMS = ("AABA", "ABAB", "AABB", "AB", "ABAC", "AAB")
# tempo (MMA beats per minute) by style: the first pattern found in the style's name wins
TEMPI = (
    (r"128", (50, 80)),  # 12/8 written in 4: a dotted quarter per beat
    (r"68march", (100, 130)),  # 6/8 in 2: dotted quarters
    (r"68swing", (150, 240)),  # 6/8 in 6: eighths
    (r"68", (110, 180)),  # 6/8 with doubled beats (arpeggio68, blues68, ballad68)
    (r"jazz-54", (120, 180)),
    (r"fast", (170, 240)),
    (r"slow|ballad|lullaby|hymn|spiritual", (60, 90)),
    (r"viene", (150, 200)),
    (r"waltz", (90, 160)),
    (r"march|broadway|polka|samba|merengue|ska|quickstep|ragtime|dixie|charleston", (180, 260)),
    (r"bebop|bossa", (110, 150)),
    (r"rock|funk|beat|twist|jive|trance|r&b|rb|soul", (100, 150)),
)
DEFAULT_TEMPO = (85, 140)


@dataclass(frozen=True)
class Groove:
    """A groove of a style file, with what MMA holds for it: beats per bar, meter, pattern bars."""

    name: str
    role: str  # one of ROLES
    beats_per_bar: int  # MMA `Time`
    meter: str  # MMA `TimeSig`, e.g. "6/8" (`Time`/4 when the file sets none)
    seq_bars: int  # MMA `SeqSize`


@dataclass(frozen=True)
class Style:
    """One style file: its name (the file's stem) and its grooves in file order."""

    name: str
    grooves: tuple[Groove, ...]


@dataclass(frozen=True)
class Chord:
    root: int  # pitch class 0..11
    quality: str  # a key of QUALITIES

    @property
    def symbol(self) -> str:
        return PITCH_NAMES[self.root] + self.quality


@dataclass(frozen=True)
class Bar:
    """One bar of the chart: the groove playing, one chord per beat, its section label."""

    groove: str
    chords: tuple[Chord, ...]
    section: str  # "intro", "A", "B", ..., "end"


@dataclass(frozen=True)
class Chart:
    style: str
    groove: str  # the main groove (section A)
    tonic: int  # pitch class
    mode: str
    tempo: int  # MMA beats per minute
    beats_per_bar: int
    meter: str
    form: tuple[str, ...]  # section labels in order
    bars: tuple[Bar, ...]
    mma_seed: int  # MMA's `RndSeed`: its random timing, volume and skips repeat

    @property
    def key(self) -> str:
        return PITCH_NAMES[self.tonic]


def groove_role(name: str) -> str:
    """intro / fill / end / main, from the groove's name (MMA's naming convention)."""
    low = name.lower()
    if "intro" in low:
        return "intro"
    if "fill" in low:
        return "fill"
    if "end" in low:
        return "end"
    return "main"


def parse_style(text: str, name: str) -> Style:
    """The grooves an MMA style file defines, with the Time/TimeSig/SeqSize in force at each
    `DefGroove` (a `Groove X` line restores X's)."""
    time, meter, seq = 4, "", 1
    saved: dict[str, tuple[int, str, int]] = {}
    grooves = []
    in_doc = False
    for raw in text.splitlines():
        words = raw.split("//")[0].split()
        if not words:
            continue
        cmd, args = words[0].lower(), words[1:]
        if in_doc:
            in_doc = cmd != "end"
        elif cmd == "begin" and args and args[0].lower() == "doc":
            in_doc = True
        elif cmd == "time" and args and args[0].split("/")[0].isdigit():
            time = int(args[0].split("/")[0])
        elif cmd == "timesig" and args:
            meter = "/".join(" ".join(args).replace("/", " ").split()[:2])
        elif cmd == "seqsize" and args and args[0].isdigit():
            seq = int(args[0])
        elif cmd == "groove" and args and args[0].lower() in saved:
            time, meter, seq = saved[args[0].lower()]
        elif cmd == "defgroove" and args:
            saved[args[0].lower()] = (time, meter, seq)
            # a 4/4 TimeSig on another Time is a slip (vienesewaltz.mma: Time 3, Timesig 4 4)
            sig = meter if meter and (meter != "4/4" or time == 4) else f"{time}/4"
            grooves.append(Groove(args[0], groove_role(args[0]), time, sig, seq))
    return Style(name, tuple(grooves))


def read_library(lib: Path = MMA_STDLIB) -> list[Style]:
    """The library's styles with at least one main groove, sorted by name."""
    if not lib.is_dir():
        raise FileNotFoundError(f"MMA groove library {lib} is missing: "
                                "run training/install_system_deps.sh (Debian package mma)")
    styles = []
    for path in sorted(lib.glob("*.mma")):
        if path.stem.startswith(SKIPPED_STYLES):
            continue
        style = parse_style(path.read_text(errors="replace"), path.stem)
        if any(g.role == "main" for g in style.grooves):
            styles.append(style)
    return styles


def parse_roman(numeral: str, tonic: int) -> Chord:
    """A Roman numeral ("bVII7", "iih7", "Imaj7") in the key of `tonic` -> its chord."""
    m = re.fullmatch(r"([b#]?)(VII|VI|V|IV|III|II|I|vii|vi|v|iv|iii|ii|i)(.*)", numeral)
    if m is None:
        raise ValueError(f"Not a Roman numeral chord: {numeral!r}")
    accidental, degree, suffix = m.groups()
    steps = ("I", "II", "III", "IV", "V", "VI", "VII").index(degree.upper())
    root = (tonic + MODES["major"][steps] + {"b": -1, "#": 1, "": 0}[accidental]) % 12
    minor = degree.islower()
    quality = {"h7": "m7b5", "o": "dim", "o7": "dim7"}.get(suffix)
    if quality is None:
        quality = ("m" if minor else "") + suffix if suffix in ("", "7", "6", "9") else suffix
    if quality not in QUALITIES:
        raise ValueError(f"Unknown chord quality {suffix!r} in {numeral!r}")
    return Chord(root, quality)


def progression_bars(progression: str, tonic: int, beats_per_bar: int) -> list[tuple[Chord, ...]]:
    """Each bar of a progression as one chord per beat (a bar's chords share its beats evenly)."""
    bars = []
    for bar in progression.split("|"):
        chords = [parse_roman(c, tonic) for c in bar.split()]
        bars.append(tuple(chords[min(len(chords) - 1, b * len(chords) // beats_per_bar)] for b in range(beats_per_bar)))
    return bars


def pick_related(rng: random.Random, grooves: list[Groove], main: str) -> str | None:
    """One of `grooves`, preferring those named after `main` (SwingFill for Swing); None if none."""
    if not grooves:
        return None
    named = [g for g in grooves if g.name.lower().startswith(main.lower())]
    return rng.choice(named or grooves).name


def draw_tempo(rng: random.Random, style: str) -> int:
    lo, hi = next((r for pattern, r in TEMPI if re.search(pattern, style)), DEFAULT_TEMPO)
    return rng.randint(lo, hi)


def draw_grooves(rng: random.Random, style: Style) -> dict[str, str | None]:
    """The grooves a song uses: "main" (section A), "second" (other sections: another main
    variation or the same), "fill", "intro", "end" (None where the style has none or the draw
    skips it); all with the main groove's beats per bar."""
    main = rng.choice([g for g in style.grooves if g.role == "main"])
    same_time = [g for g in style.grooves if g.beats_per_bar == main.beats_per_bar]
    by_role = {role: [g for g in same_time if g.role == role] for role in ROLES}
    others = [g for g in by_role["main"] if g.name != main.name]
    return {
        "main": main.name,
        "second": rng.choice(others).name if others and rng.random() < 0.6 else main.name,
        "fill": pick_related(rng, by_role["fill"], main.name) if rng.random() < 0.8 else None,
        "intro": pick_related(rng, by_role["intro"], main.name) if rng.random() < 0.8 else None,
        "end": pick_related(rng, by_role["end"], main.name) if rng.random() < 0.9 else None,
    }


def draw_chart(rng: random.Random, styles: list[Style]) -> Chart:
    """A song chart: style, grooves, key, mode, tempo, form and chords, about 60-110 s long
    (an intro and an ending as long as their grooves' patterns, at most 8 and 4 bars)."""
    style = rng.choice(styles)
    grooves = draw_grooves(rng, style)
    main = next(g for g in style.grooves if g.name == grooves["main"])
    seq = {g.name: g.seq_bars for g in style.grooves}
    tonic = rng.randrange(12)
    mode = rng.choices(list(MODE_WEIGHTS), list(MODE_WEIGHTS.values()))[0]
    tempo = draw_tempo(rng, style.name)
    bpb = main.beats_per_bar
    target_bars = max(8, round(rng.uniform(60.0, 110.0) * tempo / (60.0 * bpb)))
    form = rng.choice(FORMS)
    sections: dict[str, list[tuple[Chord, ...]]] = {}
    for label in sorted(set(form)):
        blues = "blues" in style.name and mode in BLUES and rng.random() < 0.6
        prog = progression_bars(BLUES[mode] if blues else rng.choice(PROGRESSIONS[mode]), tonic, bpb)
        sections[label] = prog * max(1, -(-8 // len(prog)))  # at least 8 bars

    intro, fill, ending = grooves["intro"], grooves["fill"], grooves["end"]
    intro_bars, end_bars = min(seq[intro], 8) if intro else 0, min(seq[ending], 4) if ending else 0
    bars = [Bar(intro, sections["A"][b % len(sections["A"])], "intro") for b in range(intro_bars)]
    labels: list[str] = []
    while True:  # the form, repeated, until the next section would pass the target by over half its length
        label = form[len(labels) % len(form)]
        chords = sections[label]
        if labels and len(bars) + end_bars + len(chords) / 2 > target_bars:
            break
        groove = grooves["main"] if label == "A" else grooves["second"]
        bars += [Bar(fill if fill and b == len(chords) - 1 else groove, bar, label) for b, bar in enumerate(chords)]
        labels.append(label)
    home = progression_bars("I" if mode in ("major", "mixolydian", "lydian") else "i", tonic, bpb)[0]
    bars += [Bar(ending, home, "end")] * end_bars
    form_labels = ("intro",) * bool(intro) + tuple(labels) + ("end",) * bool(ending)
    return Chart(style.name, main.name, tonic, mode, tempo, bpb, main.meter, form_labels, tuple(bars),
                 rng.randrange(1, 2**31))


def chart_text(chart: Chart) -> str:
    """The chart as an MMA song file: tempo, a `Groove` line where the groove changes, one
    line of chords per bar ("/" repeats the chord before)."""
    lines = [f"// {chart.style}: {chart.key} {chart.mode}, form {' '.join(chart.form)}", f"RndSeed {chart.mma_seed}",
             f"Tempo {chart.tempo}"]
    groove = None
    for bar in chart.bars:
        if bar.groove != groove:
            groove = bar.groove
            lines.append(f"Groove {groove}")
        tokens = [c.symbol if b == 0 or c != bar.chords[b - 1] else "/" for b, c in enumerate(bar.chords)]
        lines.append(" ".join(tokens))
    return "\n".join(lines) + "\n"
