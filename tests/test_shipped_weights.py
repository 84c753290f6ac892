"""The shipped default weights: their checksums, the one-line load, and their scores on examples/.

examples/pairs.csv pairs the mix with its own bass (aligned), the same bass shifted by an
eighth note, and another song's bass; the expected ranking is aligned > shifted > unrelated.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from phalar_metric import PhaLarScore
from phalar_metric.config import PhaLarConfig
from phalar_metric.hub import CHECKSUMS_NAME, CONFIG_NAME, WEIGHTS_NAME, default_weights_dir
from phalar_metric.provenance import __version__

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# The least score gap between consecutive examples in the ranking, the target of issue 12.
# Measured with the shipped weights and the silence gate: 0.7.0 scores aligned 9.347,
# shifted 2.104, unrelated 4.847 (0.6.0: 8.948, 1.863, 4.593; 0.5.0: 9.544, 1.585, 4.545;
# 0.4.0: 5.004, -2.540, 0.313; 0.3.0: 5.525, -2.600, -0.199; 0.2.0: 6.876, -0.719, 1.212;
# 0.1.0: 7.602, -1.825, 1.054).
# aligned - shifted meets it; shifted is below unrelated (the timing term of a stem moved off
# the beat is negative, an unrelated stem's about 0: docs/training.md, run off1), an expected
# failure below that passes (and so fails, being strict) once new weights rank them as intended.
MIN_GAP = 1.0
pytestmark = pytest.mark.filterwarnings("ignore::phalar_metric.SilentInputWarning")  # the basses' silent start


@pytest.fixture(scope="module")
def metric() -> PhaLarScore:
    return PhaLarScore()  # the one-line default: shipped weights, CPU, eval mode


def score_examples(metric: PhaLarScore) -> dict[str, float]:
    """Score of each examples/pairs.csv row by its stem's name ("aligned", "shifted", "unrelated")."""
    with (EXAMPLES / "pairs.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["mix"] for r in rows} == {"mix.flac"}
    matrix = metric.score_matrix([EXAMPLES / "mix.flac"], [EXAMPLES / r["stem"] for r in rows])  # [1, 3]
    return {Path(r["stem"]).stem.removeprefix("stem_"): float(s) for r, s in zip(rows, matrix[0])}


@pytest.fixture(scope="module")
def scores(metric: PhaLarScore) -> dict[str, float]:
    return score_examples(metric)


def test_checksums_match_the_files() -> None:
    folder = default_weights_dir()
    checksums = json.loads((folder / CHECKSUMS_NAME).read_text())
    assert WEIGHTS_NAME in checksums
    for name, digest in checksums.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


def test_the_default_loads_in_one_line(metric: PhaLarScore) -> None:
    config = PhaLarConfig.from_dict(json.loads((default_weights_dir() / CONFIG_NAME).read_text()))
    assert metric.model.config == config
    assert not metric.model.training
    assert {p.device.type for p in metric.model.parameters()} == {"cpu"}


def test_scores_on_the_examples_are_deterministic(metric: PhaLarScore, scores: dict[str, float]) -> None:
    assert set(scores) == {"aligned", "shifted", "unrelated"}
    assert score_examples(metric) == scores  # exactly
    assert np.isfinite(list(scores.values())).all()


def test_aligned_ranks_first_by_the_gap(scores: dict[str, float]) -> None:
    assert scores["aligned"] - scores["shifted"] >= MIN_GAP, scores


@pytest.mark.xfail(strict=True, reason="the shipped weights score the shifted bass below the unrelated one "
                                       "(2.104 vs 4.847); new weights (issue 12) must fix it")
def test_shifted_ranks_above_unrelated_by_the_gap(scores: dict[str, float]) -> None:
    assert scores["shifted"] - scores["unrelated"] >= MIN_GAP, scores


def test_the_readme_shows_the_score_commands_first_line(scores: dict[str, float]) -> None:
    """README.md quotes the first JSON line of its score command: it must be the shipped
    weights' (their checksum, this package version) and their score of the aligned pair."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    quoted = text.split("With the shipped weights the first line is\n\n", 1)[1].split("\n", 1)[0].strip()
    record = json.loads(quoted)
    checksums = json.loads((default_weights_dir() / CHECKSUMS_NAME).read_text())
    assert record["weights_sha256"] == checksums[WEIGHTS_NAME]
    assert record["phalar_version"] == __version__ and record["label"] == "aligned"
    assert record["score"] == pytest.approx(scores["aligned"], rel=1e-6)
