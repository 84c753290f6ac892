"""Provenance (issue 14 item 1): package version and weights sha256 in every result."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import audio, run, write_manifest  # noqa: F401 (fixtures)

import phalar_metric
from phalar_metric import PhaLar, PhaLarScore, save_pretrained
from phalar_metric.config import tiny_config
from phalar_metric.hub import load_checkpoint


def checksum(folder: Path) -> str:
    return json.loads((folder / "checksums.json").read_text())["model.safetensors"]


def test_provenance_of_a_folder_and_of_a_model_in_memory(tiny_checkpoint: Path, tiny_model: PhaLar) -> None:
    want = {"phalar_version": phalar_metric.__version__, "weights_sha256": checksum(tiny_checkpoint)}
    assert PhaLarScore.from_pretrained(tiny_checkpoint).provenance == want
    assert load_checkpoint(tiny_checkpoint).provenance == want
    assert PhaLarScore(model=tiny_model).provenance == want  # hashed as save_pretrained writes it


def test_shipped_weights_provenance_is_their_checksum() -> None:
    from phalar_metric.hub import default_weights_dir

    assert PhaLarScore().provenance["weights_sha256"] == checksum(default_weights_dir())


def test_every_score_line_carries_the_provenance(run, audio: Path, tiny_checkpoint: Path) -> None:
    rows = [{"mix": "mix1.wav", "stem": "bass.wav"}, {"mix": "mix1.wav", "stem": "missing.wav"}]
    status, out, _ = run("score", "--manifest", str(write_manifest(audio / "pairs.csv", rows)), "-q")
    lines = [json.loads(line) for line in out.splitlines()]
    assert status == 2 and "score" in lines[0] and "error" in lines[1]
    for line in lines:
        assert line["weights_sha256"] == checksum(tiny_checkpoint)
        assert line["phalar_version"] == phalar_metric.__version__
    status, out, _ = run("score", str(audio / "mix1.wav"), str(audio / "bass.wav"), "--json")
    assert status == 0 and json.loads(out)["weights_sha256"] == checksum(tiny_checkpoint)


@pytest.fixture
def other_checkpoints(tmp_path: Path) -> dict[str, Path]:
    """Tiny checkpoints with other weights (same config) and with another config."""
    torch.manual_seed(7)
    return {
        "weights": save_pretrained(PhaLar(tiny_config()).eval(), tmp_path / "other_weights"),
        "config": save_pretrained(PhaLar(tiny_config(hidden_dim=8)).eval(), tmp_path / "other_config"),
    }


def test_embeddings_store_provenance_and_refuse_other_weights(
    run, audio: Path, tmp_path: Path, tiny_checkpoint: Path, other_checkpoints: dict[str, Path]
) -> None:
    emb = tmp_path / "emb.npz"
    assert run("embed", str(audio / "mix1.wav"), str(audio / "bass.wav"), "-o", str(emb), "-q")[0] == 0
    with np.load(emb) as z:
        stored = json.loads(str(z["__provenance__"]))
    assert stored["weights_sha256"] == checksum(tiny_checkpoint)
    assert stored["phalar_version"] == phalar_metric.__version__
    assert stored["config"] == tiny_config().to_dict()
    pair = (str(audio / "mix1.wav"), str(audio / "bass.wav"), "--embeddings", str(emb))
    assert run("score", *pair)[0] == 0
    status, _, err = run("score", *pair, "--model", str(other_checkpoints["weights"]), model=False)
    other = checksum(other_checkpoints["weights"])
    assert status == 1 and len(err.splitlines()) == 1
    assert f"was made with weights {checksum(tiny_checkpoint)}" in err and f"has weights {other}" in err
    status, _, err = run("score", *pair, "--model", str(other_checkpoints["config"]), model=False)
    assert status == 1 and "config differs (hidden_dim: 16 vs 8)" in err


def test_embeddings_without_provenance_are_refused(run, audio: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.npz"
    np.savez(old, **{"__paths__": np.array(["mix1.wav"]), "__samples__": np.array([24000]), "mix1.wav": np.zeros(2)})
    status, _, err = run("score", str(audio / "mix1.wav"), str(audio / "bass.wav"), "--embeddings", str(old))
    assert status == 1 and "has no provenance" in err and "embed the clips again" in err


def test_correlate_json_has_the_provenance_of_the_scores_it_computed(run, audio: Path, tiny_checkpoint: Path) -> None:
    ratings = audio / "ratings.csv"
    ratings.write_text("r,m,s,x\n1,mix1.wav,bass.wav,0.1\n3,mix2.wav,lead.wav,0.5\n2,mix1.wav,lead.wav,0.2\n")
    status, out, _ = run("correlate", str(ratings), "--rating", "r", "--mix", "m", "--stem", "s", "--json",
                         "--bootstrap", "0")  # fmt: skip
    assert status == 0 and json.loads(out)["provenance"]["weights_sha256"] == checksum(tiny_checkpoint)
    status, out, _ = run("correlate", str(ratings), "--rating", "r", "--score", "x", "--json", "--bootstrap", "0",
                         model=False)  # fmt: skip
    assert status == 0 and "provenance" not in json.loads(out)  # scores given, not computed
