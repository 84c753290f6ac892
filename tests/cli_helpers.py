"""Fixtures and helpers of the `phalar` command tests: audio files, manifests, an in-process runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf
from helpers import RATE, synth

from phalar_metric.cli import main

# The stems are detuned from the mixes' harmonics and click at other times, so that no stem
# is phase-locked to a mix (which the copy check would report as a leaked copy).
TONES = {"mix1.wav": 110.0, "mix2.wav": 165.0, "bass.wav": 56.3, "lead.wav": 447.0}
CLICKS = {"mix1.wav": (0.3, 0.8), "mix2.wav": (0.25, 0.95), "bass.wav": (0.45, 1.1), "lead.wav": (0.2, 0.65)}


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    """A folder of 1.5 s clips at 16 kHz (`TONES`), a 1.2 s `short.wav` and a corrupt `bad.wav`."""
    folder = tmp_path / "audio"
    folder.mkdir()
    for name, f0 in TONES.items():
        sf.write(folder / name, synth(RATE, f0=f0, clicks=CLICKS[name]), RATE)
    sf.write(folder / "short.wav", synth(RATE, seconds=1.2), RATE)
    (folder / "bad.wav").write_bytes(b"not audio")
    return folder


@pytest.fixture
def run(tiny_checkpoint: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch):
    """`run(*argv)` -> (exit status, stdout, stderr) of `main`, with `--model` on the tiny checkpoint."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("WORLD_SIZE", raising=False)

    def _run(*argv: str, model: bool = True) -> tuple[int, str, str]:
        args = [*argv, "--model", str(tiny_checkpoint)] if model else list(argv)
        try:
            status = main(args)
        except SystemExit as e:
            status = e.code
        out, err = capsys.readouterr()
        return status, out, err

    return _run


def write_manifest(path: Path, rows: list[dict]) -> Path:
    """A .csv (header from the first row) or .jsonl manifest."""
    if path.suffix == ".csv":
        lines = [",".join(rows[0])] + [",".join(str(v) for v in r.values()) for r in rows]
    else:
        lines = [json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]
