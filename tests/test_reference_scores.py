"""Pinned scores of the default architecture: optimisations must not move them.

The values below were printed by `python -m benchmarks.make_reference_scores` (torch 2.13
CPU, 1 thread): the seeded random default model, `torch.manual_seed(0)` then
`PhaLar(PhaLarConfig())`, scoring deterministic synthetic clips (`benchmarks.common.synth_music`)
with `phalar_score_matrix` at 16 kHz and `phalar_score` on a 44.1 kHz stereo pair. The
random model does not change when trained weights ship. Float32 rounding across thread
counts, batch sizes and CPUs is ~1e-6 relative; the tolerance is 1e-4 relative (of the
largest score, so entries near zero are covered). Regenerate only for an intended change of
the scores (architecture, initialisation, front-end maths), and say so in the commit.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.make_reference_scores import reference_model, reference_scores

REFERENCE_MATRIX = np.array([
    [8.842419, 6.448697, 7.340487],
    [6.264277, 8.6695, 6.59063],
    [7.144416, 6.898057, 9.054564],
])  # fmt: skip
REFERENCE_44K_STEREO = 9.403177
RTOL = 1e-4


@pytest.fixture(scope="module")
def scores() -> tuple[np.ndarray, float]:
    return reference_scores(reference_model())


def test_score_matrix_is_pinned(scores: tuple[np.ndarray, float]) -> None:
    matrix, _ = scores
    np.testing.assert_allclose(matrix, REFERENCE_MATRIX, rtol=RTOL, atol=RTOL * np.abs(REFERENCE_MATRIX).max())


def test_resampled_stereo_score_is_pinned(scores: tuple[np.ndarray, float]) -> None:
    _, high_rate = scores
    assert high_rate == pytest.approx(REFERENCE_44K_STEREO, rel=RTOL)
