"""How well the copy check (`phalar_metric.copy_check`) tells leaked stems from real ones.

    python -m evaluation.copy_threshold --source rendered:../data/rendered --split val \
        --json docs/results/copy_threshold_val.json --markdown docs/results/copy_threshold_val.md

For one seeded window of `--seconds` per song, every active stem (RMS above -50 dBFS) is
checked against the other stems of its song (a real, coherent part: not a copy) and against
the mix that contains it (a leaked part: a copy); the first active stem is also checked
against the next song's mix (unrelated). Then, on the bundled example (`examples/`: mix +
bass), a copy at other gains and signs, with noise, and late by a few samples. Reports the
share of each case at or above `COPY_COHERENCE` and the extremes.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from phalar_metric.copy_check import COPY_COHERENCE, copy_coherence
from training.sources.base import SAMPLE_RATE

from .report import Parser, add_run_args, fatal, markdown_table, songs_from, write_outputs

PROG = "python -m evaluation.copy_threshold"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ACTIVE_DBFS = -50.0


def get_parser() -> argparse.ArgumentParser:
    """The copy-check measurement's arguments."""
    p = Parser(prog=PROG, description="Phase coherence of leaked, real and unrelated stems against mixes.")
    p.add_argument("--source", action="append", required=True, help="rendered:ROOT or NAME:PATH (repeatable)")
    p.add_argument("--split", default="val", help="split (default: val)")
    p.add_argument("--seconds", type=float, default=5.0, help="window length (default: 5)")
    p.add_argument("--seed", type=int, default=1, help="seed of the window starts (default: 1)")
    add_run_args(p)
    return p


def song_cases(songs: list, seconds: float, seed: int) -> dict[str, list[float]]:
    """Coherences of (rest of the song, stem), (mix with the stem, stem) and (next song's mix, stem)."""
    rng = np.random.default_rng(seed)
    length = int(round(seconds * SAMPLE_RATE))
    cases: dict[str, list[float]] = {"real part": [], "leaked part": [], "other song": []}
    previous = None
    for song in songs:
        if song.num_samples < length:
            continue
        stems = song.read(int(rng.integers(0, song.num_samples - length + 1)), length).astype(np.float64)
        active = [s for s in stems if 10 * np.log10(np.mean(s**2) + 1e-30) > ACTIVE_DBFS]
        if len(active) < 2:
            continue
        mix = np.sum(active, axis=0)
        for stem in active:
            cases["real part"].append(copy_coherence(mix - stem, stem))
            cases["leaked part"].append(copy_coherence(mix, stem))
        if previous is not None:
            cases["other song"].append(copy_coherence(mix, previous))
        previous = active[0]
    return cases


def example_cases(seed: int) -> dict[str, float]:
    """Coherences of copies of the bundled example's full mix (mix + bass)."""
    mix, bass = (sf.read(EXAMPLES / f"{name}.flac", dtype="float64")[0] for name in ("mix", "stem_aligned"))
    full = mix + bass
    noise = np.random.default_rng(seed).standard_normal(len(full)) * np.sqrt(np.mean(full**2))
    out = {"copy": full, "copy at -20 dB": 0.1 * full, "inverted copy": -full, "copy + noise at 0 dB SNR": full + noise,
           "bass (a part)": bass}  # fmt: skip
    out.update({f"copy {d} samples late": np.concatenate([np.zeros(d), full[:-d]]) for d in (1, 4, 64)})
    return {name: copy_coherence(full, stem) for name, stem in out.items()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the measurement; returns the JSON result. User errors exit with one line on stderr."""
    args = get_parser().parse_args(argv)
    try:
        cases = song_cases(songs_from(args.source, args.split), args.seconds, args.seed)
    except (ValueError, OSError) as err:
        fatal(PROG, str(err))
    summary = {
        name: {"n": len(v), "share_flagged": float(np.mean(np.array(v) >= COPY_COHERENCE)), "min": min(v),
               "max": max(v)}
        for name, v in cases.items() if v
    }  # fmt: skip
    result = {"threshold": COPY_COHERENCE, "sources": args.source, "split": args.split, "seconds": args.seconds,
              "seed": args.seed, "songs": summary, "example": example_cases(args.seed)}  # fmt: skip
    rows = [[name, s["n"], s["share_flagged"], s["min"], s["max"]] for name, s in summary.items()]
    rows += [[name, 1, float(c >= COPY_COHERENCE), c, c] for name, c in result["example"].items()]
    write_outputs(result, markdown_table(["case", "n", f"share >= {COPY_COHERENCE:g}", "min C", "max C"], rows),
                  args.json, args.markdown)
    return result


if __name__ == "__main__":
    main()
