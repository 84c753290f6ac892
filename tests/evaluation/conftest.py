"""Shared fixtures of the evaluation tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_data import write_rendered_cache
from symbolic_data import ToneSynth, write_symbolic_cache


@pytest.fixture(scope="session")
def rendered_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated render cache (see `fake_data.write_rendered_cache`), read-only to the tests."""
    return write_rendered_cache(tmp_path_factory.mktemp("rendered"))


@pytest.fixture(scope="session")
def notes_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A render cache with notes.json, rendered by `ToneSynth`, read-only to the tests."""
    return write_symbolic_cache(tmp_path_factory.mktemp("symbolic"), ToneSynth())
