"""Human-composed multi-part music from music21's corpus (the CocoChorales-like source).

The Bach chorales, each voice rendered with an instrument drawn from an ensemble, plus
other multi-part works (madrigals, motets, masses, string quartets) for variety.
"""

from __future__ import annotations

import random
import zlib

from ..symbolic import Note, Stem, SymbolicSong

ENSEMBLES = {  # soprano, alto, tenor, bass -> GM programs
    "strings": [40, 40, 41, 42],
    "brass": [56, 60, 57, 58],
    "woodwinds": [73, 68, 71, 70],
    "choir": [52, 52, 53, 52],
    "keys": [0, 0, 0, 0],
}
OTHER_COMPOSERS = ["monteverdi", "palestrina", "haydn", "mozart", "beethoven", "trecento", "josquin"]


def corpus_works(max_other: int = 400) -> list[str]:
    """Corpus paths: all Bach chorales, then up to `max_other` other multi-part works (sorted),
    one path per `work_name` (the first: music21 holds some works in two formats, e.g.
    `bwv277.krn` and `.mxl`)."""
    from music21 import corpus

    bach = sorted(str(p) for p in corpus.getComposer("bach"))
    other = sorted(str(p) for c in OTHER_COMPOSERS for p in corpus.getComposer(c))
    unique: dict[str, str] = {}
    for path in bach + other[:max_other]:
        unique.setdefault(work_name(path), path)
    return list(unique.values())


def work_name(path: str) -> str:
    """A stable short id for a corpus path, e.g. 'bach/bwv66.6'."""
    parts = path.replace("\\", "/").split("/")
    return f"{parts[-2]}/{parts[-1].rsplit('.', 1)[0]}"


def is_validation(path: str, fraction: float = 0.1) -> bool:
    """A fixed ~10% of works (by a hash of the name) is held out for validation."""
    return zlib.crc32(work_name(path).encode()) % 1000 < fraction * 1000


def load_work(path: str, rng: random.Random, name: str) -> SymbolicSong | None:
    """Parse a corpus work into stems, one per part; None if it has < 2 usable parts."""
    from music21 import converter, stream

    score = converter.parse(path)
    if isinstance(score, stream.Opus):  # e.g. abc files holding one score per voice
        score = score.mergeScores()
    parts = list(score.parts)
    tempo = rng.uniform(60, 100) if "bach" in path else rng.uniform(60, 130)
    beat = 60.0 / tempo  # seconds per quarter note
    ensemble = rng.choice(list(ENSEMBLES) + ["random"])
    stems = []
    for i, part in enumerate(parts):
        notes = []
        for n in part.flatten().notes:
            start, dur = float(n.offset) * beat, max(float(n.quarterLength), 0.25) * beat
            for p in n.pitches:
                notes.append(Note(start, start + dur * 0.97, int(p.midi), rng.randint(70, 100)))
        if not notes:
            continue
        if ensemble == "random":
            program = rng.choice([0, 6, 11, 19, 24, 40, 41, 42, 46, 52, 56, 57, 60, 65, 68, 70, 71, 73, 74])
        else:
            program = ENSEMBLES[ensemble][min(i, 3)]
        stems.append(Stem(f"part{i}", program, notes=notes))
    if len(stems) < 2:
        return None
    length = max(n.end for s in stems for n in s.notes)
    beats = [k * beat for k in range(int(length / beat) + 1)]
    return SymbolicSong(name, stems, beats, tempo=tempo, meta={"work": work_name(path), "ensemble": ensemble})
