"""The README's Python examples run as written (from the repository root, with the shipped weights)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from phalar_metric import PhaLarScore

ROOT = Path(__file__).resolve().parents[1]
REFIT = ("python -m evaluation.calibrate --model phalar_metric/weights --source rendered:../data/rendered "
         "--split val --pairs 1024 --eval-split val_timbre --out phalar_metric/weights/calibration.json")  # fmt: skip


def test_shipped_weights_are_calibrated() -> None:
    metric = PhaLarScore()
    assert metric.calibration is not None, f"{metric.calibration_note}; after exporting new weights, run: {REFIT}"


def test_readme_python_blocks_run(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torchmetrics")
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert len(blocks) >= 3
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the examples' silent windows warn, as documented
        for block in blocks:  # in order: later blocks use the names of earlier ones
            exec(compile(block, "README.md", "exec"), namespace)
    assert 0.0 <= namespace["p"].min() <= namespace["p"].max() <= 1.0  # the calibrated curve
    assert namespace["per_pair"].compute().shape == (2,)
