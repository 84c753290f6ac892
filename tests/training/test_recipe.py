"""training.recipe on a two-stage recipe of tiny runs: the stage chain, skips, resume, errors."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

from phalar_metric.hub import load_pretrained
from tiny_data import TINY_MODEL
from training import recipe, train

TINY = {"batch_size": 6, "group_size": 3, "hard_fraction": 0.5, "warmup_steps": 2, "eval_every": 1,
        "eval_pairs": 100, "eval_groups": 1, "threads": 1, "log_every": 1, "model": TINY_MODEL}
LATER_FEATURES = ("reverb_p", "lowpass_p", "saturate_p", "humanise_p", "pitch_neg_p", "tempo_neg_p", "n_degenerate")


def toml_value(value: object) -> str:
    """A TOML value: an inline table for a dict, else JSON (valid TOML for strings, numbers, lists)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def write_recipe(path: Path, stages: dict[str, dict]) -> Path:
    path.write_text("".join(f"[{name}]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in table.items())
                            for name, table in stages.items()))
    return path


def two_stages(second_steps: int = 1) -> dict[str, dict]:
    return {"first": {**TINY, "max_steps": 1},
            "second": {"from": "first", "version": "9.9.9", **TINY, "max_steps": second_steps, "lr": 5e-4}}


@pytest.fixture(scope="module")
def trained(rendered_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with `recipe.toml` (two stages of one step each), `runs/` and the export in `out/`."""
    root = tmp_path_factory.mktemp("recipe")
    write_recipe(root / "recipe.toml", two_stages())
    recipe.main(["--recipe", str(root / "recipe.toml"), "--data", str(rendered_root), "--runs", str(root / "runs"),
                 "--export", "--to", str(root / "out")])
    return root


def spy_on_train(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The argument lists of every `train.main` call from now on (the calls still train)."""
    calls, main = [], train.main
    monkeypatch.setattr(train, "main", lambda args: (calls.append(args), main(args)))
    return calls


def test_each_stage_starts_from_the_best_of_the_stage_it_names(trained: Path) -> None:
    runs = trained / "runs"
    first, second = (json.loads((runs / s / "config.json").read_text())["train"] for s in ("first", "second"))
    assert first["init_from"] == "scratch" and first["out_dir"] == str(runs / "first")
    assert second["init_from"] == str(runs / "first" / "best") and second["lr"] == 5e-4
    for stage in ("first", "second"):
        assert torch.load(runs / stage / "ckpt.pt", weights_only=False)["step"] == 1
    start = torch.load(runs / "second" / "ckpt.pt", weights_only=False)["history"][0]
    first_best = json.loads((runs / "first" / "best" / "README.md").read_text())  # its validation record
    assert start["step"] == 0  # the second stage validated its start: the first stage's best weights
    assert {k: v for k, v in start.items() if "/" in k} == {k: v for k, v in first_best.items() if "/" in k}


def test_export_writes_the_last_stage_with_recipe_stage_and_version(trained: Path) -> None:
    card = (trained / "out" / "README.md").read_text()
    assert "- weights_version: 9.9.9" in card
    assert f"Stage `second` of the recipe `{trained / 'recipe.toml'}`" in card
    assert (f"python -m training.recipe --recipe {trained / 'recipe.toml'} --data DATA --runs RUNS "
            "--until second --export") in card
    assert "--data=DATA --out_dir=RUNS/second --init_from=RUNS/first/best" in card
    assert str(trained / "runs") not in card
    assert (trained / "recipe.toml").read_text() in card
    exported, best = load_pretrained(trained / "out"), load_pretrained(trained / "runs" / "second" / "best")
    for name, weight in best.state_dict().items():
        assert torch.equal(weight, exported.state_dict()[name])


def test_finished_stages_are_skipped(trained: Path, rendered_root: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture) -> None:
    calls = spy_on_train(monkeypatch)
    recipe.main(["--recipe", str(trained / "recipe.toml"), "--data", str(rendered_root),
                 "--runs", str(trained / "runs")])
    assert calls == []
    assert capsys.readouterr().out.count("finished (1 of 1 steps), skipped") == 2


def test_a_longer_stage_resumes_from_its_checkpoint(trained: Path, rendered_root: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    runs = shutil.copytree(trained / "runs", tmp_path / "runs")
    longer = write_recipe(tmp_path / "recipe.toml", two_stages(second_steps=2))
    calls = spy_on_train(monkeypatch)
    recipe.main(["--recipe", str(longer), "--data", str(rendered_root), "--runs", str(runs)])
    assert len(calls) == 1 and f"--out_dir={runs / 'second'}" in calls[0]
    history = torch.load(runs / "second" / "ckpt.pt", weights_only=False)["history"]
    assert [h["step"] for h in history] == [0, 1, 2]  # resumed at 1: the start is not validated again


@pytest.mark.parametrize(("stages", "match"), [
    ({"first": {"bogus": 1}}, r"stage 'first': Unknown config keys: \['bogus'\]"),
    ({"first": {"max_steps": "many"}}, "max_steps"),
    ({"first": {"from": "nowhere"}}, "'nowhere', which is not an earlier stage"),
    ({"first": {"from": "second"}, "second": {}}, "'second', which is not an earlier stage"),
    ({"first": {"out_dir": "elsewhere"}}, r"sets \['out_dir'\]"),
    ({"first": {"version": "v2"}}, "MAJOR.MINOR.PATCH"),
    ({"first": {"amp": "fp8"}}, r"stage 'first': `amp` must be"),
    ({"first": {}, "second": {"from": "first", "degenerate_kinds": "silence,hum"}},
     r"stage 'second': unknown degenerate kinds \['hum'\]"),
    ({"first": {}, "second": {"from": "first", "pitch_interval_weights": [1.0, 2.0]}},
     r"stage 'second': `pitch_interval_weights`: `weights` must be 11 non-negative numbers"),
    ({"first": {"source_weights": {"procedural": 1, "corpus": -1}}},
     r"stage 'first': `source_weights` must map sources .* got \{'procedural': 1, 'corpus': -1\}"),
    ({"first": {"offset_rank_weight": 1.0}}, r"stage 'first': `offset_rank_weight` ranks moved targets"),
])
def test_recipe_mistakes_stop_before_any_training(stages: dict, match: str, tmp_path: Path) -> None:
    path = write_recipe(tmp_path / "recipe.toml", stages)
    with pytest.raises(SystemExit, match=match):
        recipe.main(["--recipe", str(path), "--data", str(tmp_path / "data"), "--runs", str(tmp_path / "runs")])
    assert not (tmp_path / "runs").exists()


def test_until_names_a_stage(tmp_path: Path) -> None:
    path = write_recipe(tmp_path / "recipe.toml", two_stages())
    with pytest.raises(SystemExit, match=r"--until expects a stage of .*\(\['first', 'second'\]\), got 'third'"):
        recipe.main(["--recipe", str(path), "--data", "DATA", "--runs", str(tmp_path / "runs"), "--until", "third"])


def test_the_default_recipe_chains_its_stages_and_switches_off_what_0_1_0_lacked() -> None:
    stages = recipe.load_recipe(Path(recipe.__file__).parent / "recipes" / "default.toml")
    assert [(s.name, s.start, s.version) for s in stages] == [
        ("scratch", None, None), ("eq", "scratch", None), ("batch64", "eq", "0.1.0"), ("negatives", "batch64", "0.2.0"),
        ("fs2", "negatives", None), ("fs2b", "fs2", "0.3.0"), ("rr1", "fs2b", "0.4.0"), ("hdc1", "rr1", "0.5.0"),
        ("hdc2", "hdc1", "0.6.0"), ("lr1", "hdc2", "0.7.0")]
    defaults = dataclasses.asdict(train.TrainConfig())
    for stage in stages[:3]:
        assert {k: stage.settings[k] for k in LATER_FEATURES} == dict.fromkeys(LATER_FEATURES, 0)
        assert (stage.settings["select_on"], stage.settings["amp"]) == ("val/acc@64", "bf16")
    assert not set(stages[3].settings) & {*LATER_FEATURES, "select_on", "amp"}  # today's defaults
    assert all(defaults[k] != 0 for k in LATER_FEATURES)
    assert stages[4].settings["model"] == {"filter_scale": 2.0}  # fs2b inherits it with fs2's weights
    assert all("model" not in stage.settings for stage in stages[5:7])
    assert stages[7].settings["model"] == {"harmony_dim": 64}  # added to rr1's weights (train.with_config)
    assert all("model" not in stage.settings for stage in stages[8:])  # later stages continue with the branch
