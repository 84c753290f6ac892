"""Render the example clips in this folder with the project's own generator and FluidSynth.

    python -m examples.make_examples

Writes 10 s, 16 kHz mono FLAC files: `mix.flac` (a song without its bass), `stem_aligned.flac`
(that song's bass), `stem_shifted.flac` (the same bass delayed by an eighth note, off the
beat) and `stem_unrelated.flac` (the bass of another song). The songs come from seeds no
training or validation split uses, rendered with TimGM6mb (a soundfont not used in training).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

from phalar_metric.config import SAMPLE_RATE
from training.sources.procedural import generate_song
from training.synth import VALIDATION_SOUNDFONT, StemSynth

SECONDS = 10.0


def render(seed: int, start: float, synth: StemSynth) -> tuple[np.ndarray, np.ndarray, float]:
    """(mix without the bass, bass, tempo) of song `seed` from `start` seconds, SECONDS long."""
    song = generate_song(seed, f"example/{seed}")
    names = [s.name for s in song.stems]
    if "bass" not in names or song.duration < start + SECONDS:
        raise ValueError(f"seed {seed} has no bass or is too short; pick another")
    n = int((start + SECONDS) * SAMPLE_RATE)
    stems = {s.name: synth.render(s, VALIDATION_SOUNDFONT, n)[int(start * SAMPLE_RATE) :] for s in song.stems}
    bass = stems.pop("bass")
    return sum(stems.values()), bass, song.tempo


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=90_000_004)
    p.add_argument("--other-seed", type=int, default=90_000_002)
    p.add_argument("--start", type=float, default=13.0, help="seconds into the song (the bass plays in both 5 s windows)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = p.parse_args()
    synth = StemSynth(SAMPLE_RATE)
    mix, bass, tempo = render(args.seed, args.start, synth)
    _, other_bass, _ = render(args.other_seed, args.start, synth)
    eighth = int(round(60.0 / tempo / 2 * SAMPLE_RATE))
    shifted = np.concatenate([np.zeros(eighth, np.float32), bass[:-eighth]])
    peak = max(np.abs(x).max() for x in (mix, bass, other_bass))
    for name, audio in {"mix": mix, "stem_aligned": bass, "stem_shifted": shifted, "stem_unrelated": other_bass}.items():
        wav = (audio / peak * 0.9).astype(np.float32)
        sf.write(args.out / f"{name}.flac", wav, SAMPLE_RATE, subtype="PCM_16")
    print(f"wrote {args.out}: tempo {tempo:.1f} BPM, shift {eighth / SAMPLE_RATE * 1000:.0f} ms")


if __name__ == "__main__":
    main()
