"""The model card and the export of a run folder."""

from __future__ import annotations

import dataclasses
import json
import shlex
from pathlib import Path

import pytest
import torch

from phalar_metric.config import PhaLarConfig
from phalar_metric.hub import load_pretrained, save_pretrained
from phalar_metric.model import PhaLar, count_parameters
from tiny_data import TINY_MODEL
from training.config_args import parse_overrides
from training.export import main, model_card, train_command
from training.train import TrainConfig


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A run folder as `training.train` leaves it: config.json, log.csv, val.csv, best/."""
    folder = tmp_path / "run"
    torch.manual_seed(0)
    model = PhaLar(PhaLarConfig(**TINY_MODEL))
    save_pretrained(model, folder / "best")
    cfg = TrainConfig(data="/data/rendered", max_steps=300, batch_size=16, model=TINY_MODEL, select_on="val/acc@64")
    config = {"train": dataclasses.asdict(cfg), "model": model.config.to_dict()}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "log.csv").write_text("step,loss,lr,grad_norm,clips_per_s\n10,3.1,1e-3,1.0,50.0\n300,2.0,1e-4,0.5,61.5\n")
    (folder / "val.csv").write_text("step,val/acc@2,val/acc@64\n100,0.6,0.05\n200,0.8,0.25\n300,0.85,0.2\n")
    return folder


def test_model_card(run: Path) -> None:
    card = model_card(run, history_note="Resumed once at step 150.")
    assert "steps: 300 of 300; batch 16 pairs" in card
    assert f"parameters: {count_parameters(load_pretrained(run / 'best')):,}" in card
    assert "61.5 clips/s" in card and "Resumed once at step 150." in card
    assert "## Validation (best checkpoint, step 200; selected on val/acc@64)" in card  # the max of acc@64
    assert "| val/acc@2 | 0.800 |" in card and "| val/acc@64 | 0.250 |" in card


def test_the_command_reproduces_the_config(run: Path) -> None:
    config = json.loads((run / "config.json").read_text())
    cmd = train_command(config)
    assert cmd in model_card(run)
    argv = shlex.split(cmd)
    assert argv[:3] == ["python", "-m", "training.train"]
    cfg = parse_overrides(TrainConfig, argv[3:])
    assert dataclasses.asdict(cfg) == {**config["train"], "model": cfg.model}
    assert PhaLarConfig.from_dict(cfg.model).to_dict() == config["model"]


def test_export_writes_a_loadable_checkpoint_with_its_card(run: Path, tmp_path: Path) -> None:
    history = tmp_path / "history.md"
    history.write_text("Two restarts.")
    main(["--run", str(run), "--to", str(tmp_path / "out"), "--history", str(history)])
    assert (tmp_path / "out" / "README.md").read_text() == model_card(run, "Two restarts.")
    exported, best = load_pretrained(tmp_path / "out"), load_pretrained(run / "best")
    for name, weight in best.state_dict().items():
        assert torch.equal(weight, exported.state_dict()[name])


def test_the_card_names_the_version_and_the_recipe_stage_with_portable_paths(run: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.toml"
    recipe.write_text("[only]\nmax_steps = 300\n")
    card = model_card(run, version="1.2.3", recipe=recipe, stage="only")
    assert "- weights_version: 1.2.3" in card
    assert "training.train --data=DATA --max_steps=300" in card and "/data/rendered" not in card
    assert f"--recipe {recipe} --data DATA --runs RUNS --until only --export" in card
    assert "```toml\n[only]\nmax_steps = 300\n```" in card
    assert "weights_version" not in model_card(run) and "## Recipe" not in model_card(run)


@pytest.mark.parametrize(("args", "match"), [(["--version", "v1"], "MAJOR.MINOR.PATCH"),
                                             (["--stage", "only"], "--recipe and --stage go together")])
def test_export_argument_mistakes(run: Path, tmp_path: Path, args: list[str], match: str,
                                  capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["--run", str(run), "--to", str(tmp_path / "out"), *args])
    assert match in capsys.readouterr().err and not (tmp_path / "out").exists()
