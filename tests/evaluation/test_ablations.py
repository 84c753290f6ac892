"""The ablation study on a tiny budget: every variant builds, runs train and evaluate, resume skips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from evaluation import ablations
from phalar_metric import PhaLar
from phalar_metric.config import PhaLarConfig, tiny_config

TINY = json.dumps(tiny_config().to_dict())


@pytest.mark.parametrize("name", list(ablations.VARIANTS))
def test_every_variant_is_a_valid_model(name: str) -> None:
    model = PhaLar(PhaLarConfig.from_dict({**tiny_config().to_dict(), **ablations.VARIANTS[name][0]})).eval()
    emb = model.embed(torch.zeros(2, model.config.window_samples))
    assert model.score(emb, emb).shape == (2, 2)


def argv(runs: Path, data: Path, out: Path) -> list[str]:
    """Two variants, one training step each, tiny model and validation."""
    return ["--runs", str(runs), "--data", str(data), "--max-steps", "1", "--variants", "full,gap", "--model", TINY,
            "--train-arg=--batch_size=4", "--train-arg=--eval_pairs=80", "--train-arg=--eval_groups=1",
            "--pairs", "80", "--groups", "2", "--trials", "200", "--json", str(out / "a.json"),
            "--markdown", str(out / "a.md")]  # fmt: skip


def test_train_evaluate_and_resume(rendered_root: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    first = ablations.main(argv(tmp_path / "runs", rendered_root, tmp_path))
    assert list(first["results"]) == ["full", "gap"]
    for name, r in first["results"].items():
        assert set(r) == {"acc@2", "acc@8", "acc@16", "acc@64", "hard@8"} and 0 <= r["acc@64"] <= 1
        run = tmp_path / "runs" / name
        assert (run / "best" / "model.safetensors").is_file() and (run / "retrieval.json").is_file()
        assert torch.load(run / "ckpt.pt", weights_only=False)["model_config"]["pooling"] == (
            "gap" if name == "gap" else "spectral")
    table = (tmp_path / "a.md").read_text().splitlines()
    assert table[0].startswith("| variant | description | acc@64 | hard@8 |") and len(table) == 4

    def no_training(argv: list[str]) -> None:
        raise AssertionError(f"finished runs must not train again: {argv}")

    def no_scoring(args: object) -> None:
        raise AssertionError(f"stored scores must be reused, whatever --threads: {args}")

    monkeypatch.setattr(ablations.train, "main", no_training)
    monkeypatch.setattr(ablations, "run_retrieval", no_scoring)
    assert ablations.main(argv(tmp_path / "runs", rendered_root, tmp_path) + ["--threads", "2"]) == first


def test_a_run_folder_of_another_config_is_refused(rendered_root: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "runs" / "gap"
    run.mkdir(parents=True)
    torch.save({"model_config": tiny_config().to_dict(), "step": 1}, run / "ckpt.pt")
    with pytest.raises(SystemExit) as exit_info:
        ablations.main(argv(tmp_path / "runs", rendered_root, tmp_path)[:6] + ["--variants", "gap", "--model", TINY])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "trained with another model config" in err and err.count("\n") == 1


@pytest.mark.parametrize(("extra", "message"), [(["--variants", "full,nope"], "unknown ['nope']"),
                                                 (["--model", "[1]"], "--model expects a JSON object")])
def test_user_errors(extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        ablations.main(["--runs", str(tmp_path), "--data", str(tmp_path), "--max-steps", "1", *extra])
    assert message in capsys.readouterr().err
