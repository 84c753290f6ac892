"""The `phalar` command, run in-process through `main()` on the tiny fixture checkpoint.

Two tests start real processes: the `python -m phalar_metric` entry point, and a sharded
run under torchrun (2 processes) checked against a single-process run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from cli_helpers import TONES, audio, read_lines, run, write_manifest  # noqa: F401 (fixtures)
from helpers import RATE

import phalar_metric
from phalar_metric import PhaLarScore, hub

REPO = Path(phalar_metric.__file__).resolve().parent.parent


def test_score_pair_prints_the_metric_score(run, audio: Path, metric: PhaLarScore) -> None:
    status, out, err = run("score", str(audio / "mix1.wav"), str(audio / "bass.wav"))
    assert status == 0 and err == ""
    assert float(out) == pytest.approx(metric.score(audio / "mix1.wav", audio / "bass.wav"), abs=1e-5)


def test_score_pair_json(run, audio: Path, metric: PhaLarScore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(audio)
    status, out, _ = run("score", "mix1.wav", "short.wav", "--json")
    record = json.loads(out)
    assert status == 0 and {"mix", "stem", "score"} <= set(record)  # plus the fields added since (README table)
    assert record["mix"] == "mix1.wav" and record["stem"] == "short.wav"
    with pytest.warns(UserWarning):  # different lengths: both cut to 1.2 s
        expected = metric.score("mix1.wav", "short.wav")
    assert record["score"] == pytest.approx(expected, abs=1e-5)


def test_score_manifest_echoes_columns_keeps_order_and_reports_failures(
    run, audio: Path, metric: PhaLarScore, tmp_path: Path
) -> None:
    rows = [
        {"id": "a", "mix": "audio/mix1.wav", "stem": "audio/bass.wav", "note": "x"},
        {"id": "b", "mix": "audio/mix1.wav", "stem": "audio/missing.wav", "note": "y"},
        {"id": "c", "mix": "audio/mix2.wav", "stem": "audio/lead.wav", "note": "z"},
        {"id": "d", "mix": "audio/mix2.wav", "stem": "audio/bad.wav", "note": ""},
        {"id": "e", "mix": "audio/mix2.wav", "stem": "audio/bass.wav", "note": "w"},
        {"id": "f", "mix": "audio/mix1.wav", "stem": "", "note": "v"},
    ]
    manifest = write_manifest(tmp_path / "pairs.csv", rows)
    status, out, err = run("score", "--manifest", str(manifest), "-o", str(tmp_path / "out.jsonl"))
    records = read_lines(tmp_path / "out.jsonl")
    assert status == 2 and out == ""
    assert [{k: r[k] for k in rows[0]} for r in records] == rows  # columns echoed, input order
    for i in (0, 2, 4):  # scored
        expected = metric.score(tmp_path / rows[i]["mix"], tmp_path / rows[i]["stem"])
        assert "error" not in records[i] and records[i]["score"] == pytest.approx(expected, abs=1e-5)
    for i, reason in ((1, "no such audio file"), (3, "cannot read audio file"), (5, "expected an audio path")):
        assert "score" not in records[i] and reason in records[i]["error"]
        assert f"item {i + 1} ({rows[i]['mix']} + {rows[i]['stem']}) failed: " in err
    assert "scored 3 of 6 pairs, 3 failed" in err


def test_silent_stems_score_zero_and_are_reported_not_failed(run, audio: Path, tmp_path: Path) -> None:
    sf.write(audio / "silence.wav", np.zeros(int(1.5 * RATE), np.float32), RATE)
    rows = [{"mix": "mix1.wav", "stem": "silence.wav"}, {"mix": "mix1.wav", "stem": "bass.wav"}]
    status, out, err = run("score", "--manifest", str(write_manifest(audio / "pairs.csv", rows)), "-q")
    silent, sound = (json.loads(line) for line in out.splitlines())
    assert status == 0 and err == ""
    assert (silent["score"], silent["windows"], silent["silent_windows"]) == (0.0, 2, 2)
    assert silent["warnings"] == ["windows below -70 dBFS RMS are silent and score 0: `stem` (2 of 2)"]
    assert (sound["silent_windows"], sound["warnings"]) == (0, []) and sound["score"] != 0.0
    status, out, err = run("score", str(audio / "silence.wav"), str(audio / "bass.wav"))
    assert status == 0 and float(out) == 0.0
    assert err == "phalar: warning: windows below -70 dBFS RMS are silent and score 0: `mix` (2 of 2)\n"


def test_score_manifest_jsonl_custom_columns_to_stdout(
    run, audio: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [{"context": "mix1.wav", "part": "lead.wav", "k": 1}, {"context": "mix2.wav", "part": "bass.wav", "k": [2]}]
    manifest = write_manifest(audio / "pairs.jsonl", rows)
    monkeypatch.chdir(tmp_path)  # relative paths are read from the manifest's folder, not the cwd
    argv = ("score", "--manifest", str(manifest), "--mix-col", "context", "--stem-col", "part", "--quiet")
    status, out, err = run(*argv)
    records = [json.loads(line) for line in out.splitlines()]
    assert status == 0 and err == ""
    assert [{k: r[k] for k in rows[0]} for r in records] == rows
    assert all(isinstance(r["score"], float) for r in records)


def test_score_manifest_embeds_each_file_once(run, audio: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = PhaLarScore.embed
    monkeypatch.setattr(PhaLarScore, "embed", lambda self, clip, **kw: calls.append(1) or original(self, clip, **kw))
    rows = [{"mix": m, "stem": s} for m in ("mix1.wav", "mix2.wav") for s in ("bass.wav", "lead.wav", "mix1.wav")]
    status, _, _ = run("score", "--manifest", str(write_manifest(audio / "pairs.csv", rows)), "-q")
    assert status == 0 and len(calls) == 4


def test_embed_writes_arrays_per_clip_and_goes_on_after_a_failure(
    run, audio: Path, metric: PhaLarScore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(audio)
    status, _, err = run("embed", "mix1.wav", "missing.wav", "bass.wav", "-o", str(tmp_path / "emb.npz"))
    assert status == 2 and "item 2 (missing.wav) failed" in err and "embedded 2 of 3 clips, 1 failed" in err
    with np.load(tmp_path / "emb.npz") as z:
        assert [k for k in z.files if not k.startswith("__")] == ["mix1.wav", "bass.wav"]
        emb = z["mix1.wav"]
    assert emb.dtype == np.complex64 and emb.shape == (2, metric.model.config.out_dim)  # 1.5 s: 2 windows of 1 s
    np.testing.assert_allclose(emb, metric.embed("mix1.wav"), atol=1e-5)


def test_stored_embeddings_are_scored_without_audio(run, audio: Path, tmp_path: Path) -> None:
    clips = write_manifest(audio / "clips.csv", [{"path": name} for name in TONES])
    rows = [{"mix": "mix1.wav", "stem": "bass.wav"}, {"mix": "mix2.wav", "stem": "lead.wav"}]
    pairs = write_manifest(audio / "pairs.csv", rows)
    assert run("embed", "--manifest", str(clips), "-o", str(tmp_path / "emb.npz"))[0] == 0
    assert run("score", "--manifest", str(pairs), "-o", str(tmp_path / "audio.jsonl"))[0] == 0
    for name in TONES:
        (audio / name).unlink()
    stored = ("--embeddings", str(tmp_path / "emb.npz"), "-o", str(tmp_path / "stored.jsonl"))
    assert run("score", "--manifest", str(pairs), *stored)[0] == 0
    assert read_lines(tmp_path / "stored.jsonl") == read_lines(tmp_path / "audio.jsonl")


def test_correlate_json_and_table(run, tmp_path: Path) -> None:
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("rating,score,system\n1,0.1,A\n2,0.5,A\n3,0.2,B\n4,0.9,B\n,0.3,B\n")
    columns = ("--rating", "rating", "--score", "score")
    status, out, _ = run("correlate", str(ratings), *columns, "--json", "--bootstrap", "20", model=False)
    result = json.loads(out)
    assert status == 0 and list(result) == ["pearson", "spearman", "kendall", "n", "skipped"]
    assert result["n"] == 4 and result["skipped"] == 1 and len(result["kendall"]["ci"]) == 2
    assert result["pearson"]["value"] == pytest.approx(np.corrcoef([1, 2, 3, 4], [0.1, 0.5, 0.2, 0.9])[0, 1])
    status, out, _ = run("correlate", str(ratings), *columns, "--system", "system", "--bootstrap", "20", model=False)
    assert status == 0 and out.splitlines()[0] == "n = 4 (skipped 1)" and out.splitlines()[-1].split()[:2] == ["B", "2"]


def test_correlate_scores_audio_pairs(run, audio: Path, metric: PhaLarScore) -> None:
    ratings = audio / "ratings.csv"
    ratings.write_text("r,m,s\n1,mix1.wav,bass.wav\n3,mix2.wav,lead.wav\n2,mix1.wav,lead.wav\n5,mix2.wav,bass.wav\n")
    columns = ("--rating", "r", "--mix", "m", "--stem", "s")
    status, out, _ = run("correlate", str(ratings), *columns, "--json", "--bootstrap", "0")
    pairs = [("mix1.wav", "bass.wav"), ("mix2.wav", "lead.wav"), ("mix1.wav", "lead.wav"), ("mix2.wav", "bass.wav")]
    scores = [metric.score(audio / m, audio / s) for m, s in pairs]
    assert status == 0
    assert json.loads(out)["pearson"]["value"] == pytest.approx(np.corrcoef([1, 3, 2, 5], scores)[0, 1], abs=1e-4)


ERRORS = [  # (argv, a piece of the one-line message)
    ([], "the following arguments are required: COMMAND"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["score", "{a}/mix1.wav"], "give either MIX STEM or --manifest"),
    (["score", "{a}/mix1.wav", "{a}/bass.wav", "--manifest", "{a}/p.csv"], "give either MIX STEM or --manifest"),
    (["score", "{a}/mix1.wav", "{a}/missing.wav"], "no such audio file"),
    (["score", "{a}/mix1.wav", "{a}/bad.wav"], "cannot read audio file"),
    (["score", "{a}/mix1.wav", "{a}/bass.wav", "-o", "{a}/o.jsonl"], "-o/--output goes with --manifest"),
    (["score", "--manifest", "{a}/nope.csv"], "No such file or directory: {a}/nope.csv"),
    (["score", "--manifest", "{a}/mix1.wav"], "expected a suffix in"),
    (["score", "--manifest", "{a}/cols.csv"], "has no column 'mix' (columns: a, b)"),
    (["score", "--manifest", "{a}/empty.csv"], "has no rows"),
    (["score", "--manifest", "{a}/broken.jsonl"], "line 2 is not valid JSON"),
    (["score", "--manifest", "{a}/list.jsonl"], "line 1 expected a JSON object, but got list"),
    (["score", "--manifest", "{a}/p.csv", "--json"], "--json goes with MIX STEM"),
    (["score", "--manifest", "{a}/p.csv", "--embeddings", "{a}/mix1.wav"], "is not a PhaLar embeddings file"),
    (["score", "--manifest", "{a}/p.csv", "--embeddings", "{a}/plain.npz"], "'__paths__ is not a file in the archive'"),
    (["score", "--manifest", "{a}/p.csv", "--batch-size", "0"], "expected an integer >= 1, got '0'"),
    (["score", "--manifest", "{a}/p.csv", "--device", "tpu9"], "not a torch device"),
    (["embed", "-o", "{a}/e.npz"], "give either CLIP [CLIP ...] or --manifest"),
    (["embed", "{a}/mix1.wav"], "the following arguments are required: -o/--output"),
    (["embed", "--manifest", "{a}/cols.csv", "-o", "{a}/e.npz"], "has no column 'path'"),
    (["correlate", "{a}/r.csv", "--rating", "nope", "--score", "s"], "has no column 'nope'"),
    (["correlate", "{a}/r.csv", "--rating", "s", "--score", "r"], "column 'r' expected numbers, but line 2 has 'bad'"),
    (["correlate", "{a}/r.csv", "--rating", "s"], "give either `score`, or both `mix` and `stem`"),
    (["correlate", "{a}/r.csv", "--rating", "s", "--score", "s", "--mix", "r"], "give either --score COL"),
    (["correlate", "{a}/r.csv", "--rating", "s", "--score", "s", "--bootstrap", "-1"], "expected an integer >= 0"),
    (["correlate", "{a}/r.csv", "--rating", "s", "--score", "s"], "expected at least 3 rows"),
]


@pytest.mark.parametrize("argv, message", ERRORS)
def test_user_errors_are_one_line(run, audio: Path, argv: list[str], message: str) -> None:
    (audio / "p.csv").write_text("mix,stem\nmix1.wav,bass.wav\n")
    (audio / "cols.csv").write_text("a,b\n1,2\n")
    (audio / "empty.csv").write_text("mix,stem\n")
    (audio / "broken.jsonl").write_text('{"mix": "a", "stem": "b"}\n{"mix": \n')
    (audio / "list.jsonl").write_text("[1, 2]\n")
    (audio / "r.csv").write_text("s,r\n1,bad\n2,good\n")
    np.savez(audio / "plain.npz", x=np.zeros(2))
    argv = [a.format(a=audio) for a in argv]
    status, out, err = run(*argv, model=bool(argv) and argv[0] in ("score", "embed"))
    assert_one_line_error(status, err, message.format(a=audio))
    assert out == ""


@pytest.mark.parametrize("model, message", [
    (None, "default PhaLar weights are not installed"),
    ("{a}/no-such-folder", "No such checkpoint folder"),
    ("{a}", "Not a PhaLar checkpoint folder"),
    ("owner/no-such-repo", "HF_HUB_OFFLINE is set"),
])  # fmt: skip
def test_missing_weights_are_one_line(
    run, audio: Path, model: str | None, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub, "default_weights_dir", lambda: audio / "none")
    model_args = [] if model is None else ["--model", model.format(a=audio)]
    status, _, err = run("score", str(audio / "mix1.wav"), str(audio / "bass.wav"), *model_args, model=False)
    assert_one_line_error(status, err, message)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_device_without_cuda(run, audio: Path) -> None:
    status, _, err = run("score", str(audio / "mix1.wav"), str(audio / "bass.wav"), "--device", "cuda")
    assert_one_line_error(status, err, "'cuda': CUDA is not available on this machine")


def test_revision_needs_model(run, audio: Path) -> None:
    status, _, err = run("score", str(audio / "mix1.wav"), str(audio / "bass.wav"), "--revision", "v1", model=False)
    assert_one_line_error(status, err, "--revision goes with --model")


def test_sharded_run_needs_an_output_file(run, audio: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    (audio / "p.csv").write_text("mix,stem\nmix1.wav,bass.wav\n")
    status, _, err = run("score", "--manifest", str(audio / "p.csv"))
    assert_one_line_error(status, err, "-o/--output is required when sharded (WORLD_SIZE=2)")


def assert_one_line_error(status: int, err: str, message: str) -> None:
    assert status == 1
    assert len(err.splitlines()) == 1 and err.startswith("phalar") and "error: " in err, err
    assert message in err and "Traceback" not in err


def run_process(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run `cmd` in `cwd`, importing this source tree, offline."""
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_python_m_entry_point(audio: Path, tiny_checkpoint: Path, metric: PhaLarScore) -> None:
    cmd = [sys.executable, "-m", "phalar_metric", "score", "mix1.wav", "bass.wav", "--model", str(tiny_checkpoint)]
    ok = run_process(cmd, audio)
    assert ok.returncode == 0
    assert float(ok.stdout) == pytest.approx(metric.score(audio / "mix1.wav", audio / "bass.wav"), abs=1e-5)
    bad = run_process(cmd[:4] + ["missing.wav", *cmd[5:]], audio)
    assert_one_line_error(bad.returncode, bad.stderr, "no such audio file")


def test_torchrun_shards_merge_into_the_single_process_output(
    run, audio: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    names = [*TONES, "missing.wav", "short.wav"]
    rows = [{"i": i, "mix": names[i % 4], "stem": names[(i * 3 + 1) % len(names)]} for i in range(7)]
    pairs = write_manifest(audio / "pairs.csv", rows)
    clips = write_manifest(audio / "clips.csv", [{"path": n} for n in names])
    assert run("score", "--manifest", str(pairs), "-o", str(tmp_path / "single.jsonl"), "-q")[0] == 2
    assert run("embed", "--manifest", str(clips), "-o", str(tmp_path / "single.npz"), "-q")[0] == 2
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    model = ["--model", str(tiny_checkpoint), "-q"]
    for command, manifest, output in (("score", pairs, "sharded.jsonl"), ("embed", clips, "sharded.npz")):
        argv = ["-m", "phalar_metric", command, "--manifest", str(manifest), "-o", output, *model]
        proc = run_process(torchrun + argv, tmp_path)
        assert proc.returncode != 0 and "failed" in proc.stderr  # missing.wav fails, on every run
    single, sharded = read_lines(tmp_path / "single.jsonl"), read_lines(tmp_path / "sharded.jsonl")
    assert [{k: v for k, v in r.items() if k != "score"} for r in sharded] == [
        {k: v for k, v in r.items() if k != "score"} for r in single
    ]
    assert [r.get("score") for r in sharded] == pytest.approx([r.get("score") for r in single], abs=1e-5)
    with np.load(tmp_path / "single.npz") as a, np.load(tmp_path / "sharded.npz") as b:
        assert a.files == b.files
        for key in a.files:
            if key.startswith("__"):  # the paths and their lengths
                np.testing.assert_array_equal(b[key], a[key])
            else:
                np.testing.assert_allclose(b[key], a[key], atol=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir() if ".part" in p.name) == []
