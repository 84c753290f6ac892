"""The `Example:` blocks of the public docstrings run as doctests (with the shipped weights)."""

from __future__ import annotations

import doctest
import importlib
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = ["phalar_metric.metric", "phalar_metric.torchmetrics"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if name.endswith("torchmetrics"):
        pytest.importorskip("torchmetrics")
    monkeypatch.chdir(ROOT)  # examples read examples/*.flac
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings are not part of the printed output
        result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0 and result.failed == 0
