"""Config overrides: `--key=value`, `--config FILE.json`, type checks and errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from training.config_args import parse_overrides


@dataclass
class Cfg:
    name: str = "run"
    steps: int = 10
    lr: float = 1e-3
    flag: bool = False
    sources: list = field(default_factory=lambda: ["rendered"])
    model: dict = field(default_factory=dict)


def test_defaults_and_typed_overrides() -> None:
    assert parse_overrides(Cfg, []) == Cfg()
    cfg = parse_overrides(Cfg, ["--steps=5", "--lr=1", "--flag=True", "--name=123", "--sources=['a', 'b:/x']",
                                "--model={'dropout': 0.0}"])
    assert cfg == Cfg(name="123", steps=5, lr=1.0, flag=True, sources=["a", "b:/x"], model={"dropout": 0.0})
    assert isinstance(cfg.lr, float)  # an int is accepted for a float


def test_config_file_then_command_line(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"steps": 7, "lr": 0.5, "model": {"head": "real"}}))
    cfg = parse_overrides(Cfg, ["--steps=8", "--config", str(path)])
    assert (cfg.steps, cfg.lr, cfg.model) == (8, 0.5, {"head": "real"})  # the command line wins


@pytest.mark.parametrize("argv, match", [
    (["--bogus=1"], r"Unknown config keys: \['bogus'\]"),
    (["--steps=1.5"], "--steps expects int"),
    (["--flag=1"], "--flag expects bool"),
    (["--sources=rendered"], "--sources: cannot parse"),
    (["--lr"], "--key=value"),
    (["steps=3"], "--key=value"),
    (["--config"], "--config expects a JSON file"),
])
def test_bad_arguments_raise_value_error(argv: list[str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_overrides(Cfg, argv)


def test_mistyped_value_in_a_config_file(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"steps": "many"}))
    with pytest.raises(ValueError, match="steps"):
        parse_overrides(Cfg, ["--config", str(path)])
