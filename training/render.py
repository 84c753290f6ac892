"""Render the training/validation cache: symbolic songs -> per-stem 16 kHz audio on disk.

    python -m training.render --out data/rendered --seed 0 --workers 2

Layout: `OUT/<split>/<source>/<id>/stems.npy` (int16 `[n_stems, samples]`) and `meta.json`
(stem names, programs, soundfonts, beats, tempo). A song's folder appears atomically, so an
interrupted render resumes where it stopped and a trainer can read the cache while it grows.
The songs, their stems and the soundfont draws are deterministic from `--seed`; the samples
can differ slightly between renders (FluidSynth starts notes on 64-sample blocks counted from
the synth's creation, so what was rendered before a song in the same process matters; with
`--workers` > 1 that depends on which worker drew the song).
Splits: `train` (training soundfonts), `val` (unseen songs and works, training soundfonts),
`val_timbre` (the same unseen songs, TimGM6mb only) and `ood` (the held-out half of
Freedoom's human-composed tracks, TimGM6mb only: unseen music and unseen timbre).
`--sources` renders only some sources (e.g. a second render process for another source).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import multiprocessing
import os
import random
import shutil
from pathlib import Path

import numpy as np
from tqdm import tqdm

from phalar_metric.config import SAMPLE_RATE

from .sources import chorales, freedoom, procedural
from .sources.mma_songs import generate_mma_song
from .symbolic import SymbolicSong
from .synth import DRUM_KITS, TRAIN_SOUNDFONTS, VALIDATION_SOUNDFONT, StemSynth

MAX_SECONDS = {"freedoom": 600.0}  # per source; others stop at DEFAULT_MAX_SECONDS
DEFAULT_MAX_SECONDS = 120.0
SOURCES = ("procedural", "corpus", "freedoom", "mma")


def draw_soundfonts(rng: random.Random, n_stems: int, split: str) -> list[str]:
    """Per song or per stem (half the songs each), weighted by TRAIN_SOUNDFONTS."""
    if split in ("val_timbre", "ood"):
        return [VALIDATION_SOUNDFONT] * n_stems
    names, weights = list(TRAIN_SOUNDFONTS), list(TRAIN_SOUNDFONTS.values())
    if rng.random() < 0.5:
        return rng.choices(names, weights, k=1) * n_stems
    return rng.choices(names, weights, k=n_stems)


def with_drum_kits(rng: random.Random, song: SymbolicSong, soundfonts: list[str], p: float = 0.35) -> list[str]:
    """Train split: each drum stem switches to a sampled AVL kit (DRUM_KITS) with probability `p`."""
    return [rng.choice(DRUM_KITS) if stem.is_drum and rng.random() < p else sf
            for stem, sf in zip(song.stems, soundfonts)]


def write_song(song: SymbolicSong, folder: Path, synth: StemSynth, soundfonts: list[str],
               max_seconds: float = DEFAULT_MAX_SECONDS) -> None:
    """Render every stem (at most `max_seconds`) and write the song folder atomically."""
    n = int(min(song.duration + 1.0, max_seconds) * SAMPLE_RATE)
    audio = np.stack([synth.render(stem, sf, n) for stem, sf in zip(song.stems, soundfonts)])
    peak = max(float(np.abs(audio).max()), 1e-6)
    audio = audio * min(1.0, 0.99 / peak)  # int16 without clipping; stem balance kept
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.save(tmp / "stems.npy", np.round(audio * 32767).astype(np.int16))
    meta = {
        "name": song.name,
        "sample_rate": SAMPLE_RATE,
        "stems": [{"name": s.name, "program": s.program, "is_drum": s.is_drum, "soundfont": sf}
                  for s, sf in zip(song.stems, soundfonts)],
        "tempo": song.tempo,
        "beats": [b for b in song.beats if b < n / SAMPLE_RATE],
        "downbeats": [b for b in song.downbeats if b < n / SAMPLE_RATE],
        "meta": song.meta,
    }
    (tmp / "meta.json").write_text(json.dumps(meta))
    # the notes, so evaluation can re-render a stem exactly (transposed, at another tempo)
    notes = [[[n.start, n.end, n.pitch, n.velocity] for n in s.notes] for s in song.stems]
    (tmp / "notes.json").write_text(json.dumps(notes))
    os.replace(tmp, folder)


def jobs(args: argparse.Namespace) -> list[tuple[str, str, str, int]]:
    """(split, source, id, seed) for every song of `args.sources` to render, validation first,
    then train with the sources interleaved so a partial cache already mixes them."""
    out = [] if "freedoom" not in args.sources else freedoom_jobs()
    works = chorales.corpus_works(args.corpus) if args.corpus and "corpus" in args.sources else []
    val_works = [w for w in works if chorales.is_validation(w)]
    train_works = [w for w in works if not chorales.is_validation(w)]
    n_val = args.val_songs if "procedural" in args.sources else 0
    for split in ("val", "val_timbre"):
        out += [(split, "procedural", f"{i:05d}", 10_000_000 + i) for i in range(n_val)]
        out += [(split, "corpus", w, 0) for w in val_works]
    train = [("train", "procedural", f"{i:05d}", i) for i in range(args.procedural if "procedural" in args.sources else 0)]
    train_c = [("train", "corpus", w, 0) for w in train_works]
    step = max(1, len(train) // max(1, len(train_c)))
    for k, job in enumerate(train):
        out.append(job)
        if k % step == step - 1 and train_c:
            out.append(train_c.pop(0))
    mma = [("train", "mma", f"{i:05d}", i) for i in range(args.mma if "mma" in args.sources else 0)]
    return out + train_c + mma


def freedoom_jobs() -> list[tuple[str, str, str, int]]:
    """The held-out half of Freedoom's tracks in `ood`, the other half in `train`."""
    tracks = freedoom.freedoom_tracks()
    return [("ood" if freedoom.is_held_out(t, tracks) else "train", "freedoom", t.name, 0) for t in tracks]


def job_folder(job: tuple[str, str, str, int]) -> str:
    """The job's folder, relative to the cache root: `<split>/<source>/<id>`."""
    split, source, ident, _ = job
    folder_id = chorales.work_name(ident).replace("/", "__") if source == "corpus" else ident
    return f"{split}/{source}/{folder_id}"


def render_job(job: tuple[str, str, str, int], out: Path, seed: int, synth: StemSynth) -> None:
    split, source, ident, song_seed = job
    folder = out / job_folder(job)
    if folder.exists():
        return
    # val and val_timbre share songs (same seed) and differ only in soundfonts
    rng = random.Random(f"{seed}/{source}/{ident}/{song_seed}")
    if source == "procedural":
        song = procedural.generate_song(seed * 100_000_000 + song_seed, f"{source}/{ident}")
    elif source == "mma":
        song = generate_mma_song(seed * 100_000_000 + song_seed, f"{source}/{ident}")
    elif source == "freedoom":
        song = freedoom.load_track(ident, f"{source}/{ident}")
    else:
        song = chorales.load_work(ident, rng, f"{source}/{chorales.work_name(ident)}")
        if song is None:
            folder.mkdir(parents=True)  # an empty marker: nothing to render, do not retry
            return
    soundfonts = draw_soundfonts(random.Random(f"{seed}/{split}/{ident}"), len(song.stems), split)
    if split == "train":
        soundfonts = with_drum_kits(random.Random(f"{seed}/drums/{ident}"), song, soundfonts)
    write_song(song, folder, synth, soundfonts, MAX_SECONDS.get(source, DEFAULT_MAX_SECONDS))


_worker_synth: StemSynth | None = None


def _render_in_worker(job: tuple[str, str, str, int], out: Path, seed: int) -> str | None:
    """Render one job with this process's synth; the failure message, or None."""
    global _worker_synth
    if _worker_synth is None:
        _worker_synth = StemSynth(SAMPLE_RATE)
    try:
        render_job(job, out, seed, _worker_synth)
    except Exception as exc:  # a bad corpus file must not stop a long render; it is reported
        return f"failed {job[:3]}: {type(exc).__name__}: {exc}"
    return None


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("data/rendered"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--procedural", type=int, default=1500, help="procedural training songs")
    p.add_argument("--val-songs", type=int, default=100, help="procedural validation songs")
    p.add_argument("--corpus", type=int, default=400, help="music21 works beyond the Bach chorales")
    p.add_argument("--mma", type=int, default=400, help="MMA groove-library training songs")
    p.add_argument("--workers", type=int, default=1, help="rendering processes (one synth each)")
    p.add_argument("--sources", default=",".join(SOURCES), help=f"comma-separated subset of {','.join(SOURCES)}")
    args = p.parse_args(argv)
    args.sources = args.sources.split(",")
    if unknown := set(args.sources) - set(SOURCES):
        p.error(f"--sources: unknown source(s) {sorted(unknown)}; expected a subset of {list(SOURCES)}")
    todo = jobs(args)
    render_one = functools.partial(_render_in_worker, out=args.out, seed=args.seed)
    with contextlib.ExitStack() as stack:
        if args.workers > 1:  # spawn: a fresh interpreter per worker, no forked FluidSynth state
            pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(args.workers))
            results = pool.imap_unordered(render_one, todo)
        else:
            results = map(render_one, todo)
        failures = 0
        for message in tqdm(results, total=len(todo), desc="render", unit="song"):
            if message is not None:
                failures += 1
                tqdm.write(message)
    print(f"done; {failures} failed")


if __name__ == "__main__":
    main()
