"""Print the reference scores that tests/test_reference_scores.py pins.

    python -m benchmarks.make_reference_scores

The model is the seeded random default architecture, `torch.manual_seed(0)` then
`PhaLar(PhaLarConfig())` in eval mode: it does not change when trained weights ship, so the
pins catch any change of what the default architecture computes (an optimisation of the
front-end, backbone, windowing or resampling must leave them within 1e-4 relative). The clips
are `benchmarks.common.synth_music`: three 7 s mixes (bass + chords + drums, seeds 0-2, two
windows each) against three stems (bass + drums of the same seeds), scored with
`phalar_score_matrix` at 16 kHz, and one pair at 44.1 kHz stereo through `phalar_score`, so
that resampling and channel mixing are pinned too. Run with one CPU thread and batch size 4.
Re-run it and update the test only when a change of the scores is intended (architecture,
initialisation, front-end maths), and say so in the commit.
"""

from __future__ import annotations

import numpy as np
import torch

from phalar_metric.config import SAMPLE_RATE, PhaLarConfig
from phalar_metric.functional import phalar_score, phalar_score_matrix
from phalar_metric.model import PhaLar

from .common import synth_music

SEED = 0
SECONDS = 7.0  # two scoring windows per clip: 0-5 s and 2-7 s
HIGH_RATE = 44100  # Hz, the rate of the resampled pair
BATCH_SIZE = 4
MIX_PARTS, STEM_PARTS = ("bass", "chords", "drums"), ("bass", "drums")


def reference_model() -> PhaLar:
    """The seeded random default model, in eval mode, on the CPU."""
    torch.manual_seed(SEED)
    return PhaLar(PhaLarConfig()).eval()


def reference_scores(model: PhaLar) -> tuple[np.ndarray, float]:
    """`[3, 3]` scores of mixes (rows) against stems at 16 kHz, and the score of a 44.1 kHz stereo pair."""
    mixes = [synth_music(SECONDS, SAMPLE_RATE, seed=s, parts=MIX_PARTS) for s in range(3)]
    stems = [synth_music(SECONDS, SAMPLE_RATE, seed=s, parts=STEM_PARTS) for s in range(3)]
    matrix = phalar_score_matrix(model, mixes, stems, sample_rate=SAMPLE_RATE, batch_size=BATCH_SIZE)
    mix, stem = (synth_music(SECONDS, HIGH_RATE, seed=3, parts=parts) for parts in (MIX_PARTS, STEM_PARTS))
    stereo = np.stack([mix, 0.5 * mix]), np.stack([stem, 0.8 * stem])  # [2, samples] each
    return matrix, phalar_score(model, *stereo, sample_rate=HIGH_RATE, batch_size=BATCH_SIZE)


def main() -> None:
    """Print the values as the Python literals of the test file."""
    torch.set_num_threads(1)
    matrix, high_rate = reference_scores(reference_model())
    rows = ",\n".join("    [" + ", ".join(f"{v:.7g}" for v in row) + "]" for row in matrix)
    print(f"REFERENCE_MATRIX = np.array([\n{rows},\n])")
    print(f"REFERENCE_44K_STEREO = {high_rate:.7g}")


if __name__ == "__main__":
    main()
