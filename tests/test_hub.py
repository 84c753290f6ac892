"""phalar_metric.hub: checkpoint folders, checksums, the shipped default, and the Hub path offline.

The Hub is never contacted: a small HTTP server on 127.0.0.1 speaks the part of the Hub's
resolve protocol that `hf_hub_download` uses (HEAD / GET
`{endpoint}/{repo_id}/resolve/{revision}/{filename}` answered with `ETag`, `X-Repo-Commit`
and `Content-Length`, and `X-Error-Code` on 404). The end-to-end tests run the download in
a subprocess because huggingface_hub reads `HF_ENDPOINT` / `HF_HUB_OFFLINE` at import.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import torch
from huggingface_hub import constants as hf_constants
from safetensors.torch import load_file

from phalar_metric import PhaLar, PhaLarScore, hub
from phalar_metric import __version__ as phalar_version
from phalar_metric.calibration import Calibration
from phalar_metric.hub import ChecksumError, WeightsNotFoundError, load_pretrained

REPO = "phalar/tiny"
COMMIT = "0123456789abcdef0123456789abcdef01234567"  # the fake repo's only commit
ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT_FILES = ["checksums.json", "config.json", "model.safetensors"]


def same_weights(a: PhaLar, b: PhaLar) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_save_pretrained_writes_the_documented_folder(tiny_model: PhaLar, tmp_path: Path) -> None:
    folder = hub.save_pretrained(tiny_model, tmp_path / "ckpt", model_card="# PhaLar tiny\n")
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", *CHECKPOINT_FILES]
    assert json.loads((folder / "config.json").read_text()) == tiny_model.config.to_dict()
    sha = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert json.loads((folder / "checksums.json").read_text()) == {"model.safetensors": sha}
    stored = load_file(folder / "model.safetensors")
    assert stored.keys() == tiny_model.state_dict().keys()
    assert not any(k.startswith("frontend.") for k in stored)  # CQT kernels are rebuilt, not stored
    assert (folder / "README.md").read_text() == "# PhaLar tiny\n"


def test_load_pretrained_round_trip(tiny_model: PhaLar, tiny_checkpoint: Path) -> None:
    sha = json.loads((tiny_checkpoint / "checksums.json").read_text())["model.safetensors"]
    model = load_pretrained(tiny_checkpoint, sha256=sha.upper())
    assert not model.training
    assert model.config == tiny_model.config and same_weights(model, tiny_model)
    assert same_weights(load_pretrained(str(tiny_checkpoint)), tiny_model)


def test_checksum_mismatch_raises(tiny_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ChecksumError, match="but the `sha256` argument expects 00ff"):
        load_pretrained(tiny_checkpoint, sha256="00ff")
    folder = Path(shutil.copytree(tiny_checkpoint, tmp_path / "tampered"))
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-1] ^= 1
    (folder / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="checksums.json expects"):
        load_pretrained(folder)
    (folder / "checksums.json").write_text("{}")
    with pytest.raises(ChecksumError, match="has no entry for model.safetensors"):
        load_pretrained(folder)


def test_missing_folders_and_files_raise(tiny_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="No such checkpoint folder"):
        load_pretrained(tmp_path / "nowhere")
    with pytest.raises(WeightsNotFoundError, match="No such checkpoint folder"):
        load_pretrained("./nowhere/at/all")
    folder = Path(shutil.copytree(tiny_checkpoint, tmp_path / "partial"))
    (folder / "checksums.json").unlink()
    with pytest.raises(WeightsNotFoundError, match="missing: .*checksums.json"):
        load_pretrained(folder)


def test_no_shipped_weights_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(hub, "default_weights_dir", lambda: tmp_path)
    with pytest.raises(WeightsNotFoundError, match="default PhaLar weights are not installed"):
        PhaLarScore()


def test_shipped_weights_load_with_their_checksum(
    monkeypatch: pytest.MonkeyPatch, tiny_model: PhaLar, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    shipped = Path(shutil.copytree(tiny_checkpoint, tmp_path / "weights"))
    monkeypatch.setattr(hub, "default_weights_dir", lambda: shipped)
    assert same_weights(PhaLarScore().model, tiny_model)
    (shipped / "checksums.json").write_text(json.dumps({"model.safetensors": "0" * 64}))
    with pytest.raises(ChecksumError):
        hub.load_default()


def test_default_weights_dir_is_inside_the_package() -> None:
    assert hub.default_weights_dir() == Path(hub.__file__).resolve().parent / "weights"


def test_push_to_hub_uploads_the_checkpoint_folder(monkeypatch: pytest.MonkeyPatch, tiny_model: PhaLar) -> None:
    calls: list[tuple[str, dict]] = []

    class FakeApi:
        def __init__(self, token: str | None = None) -> None:
            calls.append(("init", {"token": token}))

        def create_repo(self, repo_id: str, **kwargs) -> None:
            calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))

        def create_branch(self, repo_id: str, **kwargs) -> None:
            calls.append(("create_branch", {"repo_id": repo_id, **kwargs}))

        def upload_folder(self, *, folder_path: str, **kwargs):
            files = sorted(p.name for p in Path(folder_path).iterdir())
            loaded = load_pretrained(folder_path)
            calls.append(("upload_folder", {"files": files, "same": same_weights(loaded, tiny_model), **kwargs}))
            return type("CommitInfo", (), {"commit_url": "https://hub.example/commit/1"})()

    monkeypatch.setattr(hub, "HfApi", FakeApi)
    url = PhaLarScore(model=tiny_model).push_to_hub(
        "me/phalar", revision="v1", private=True, token="tok", commit_message="msg", model_card="card"
    )
    assert url == "https://hub.example/commit/1"
    assert calls == [
        ("init", {"token": "tok"}),
        ("create_repo", {"repo_id": "me/phalar", "private": True, "exist_ok": True}),
        ("create_branch", {"repo_id": "me/phalar", "branch": "v1", "exist_ok": True}),
        (
            "upload_folder",
            {
                "files": ["README.md", *CHECKPOINT_FILES],
                "same": True,
                "repo_id": "me/phalar",
                "revision": "v1",
                "commit_message": "msg",
            },
        ),
    ]


class FakeHub(BaseHTTPRequestHandler):
    """The Hub's `resolve` endpoint for one repository; `files` and `log` are set per server."""

    files: dict[str, bytes] = {}
    log: list[str] = []
    timeout = 10  # seconds per connection: a stuck client cannot hang the test

    def do_HEAD(self) -> None:
        self.respond(with_body=False)

    def do_GET(self) -> None:
        self.respond(with_body=True)

    def respond(self, with_body: bool) -> None:
        self.log.append(f"{self.command} {self.path}")
        match = re.fullmatch(r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<name>.+)", urlsplit(self.path).path)
        if match is None or unquote(match["repo"]) != REPO:
            return self.error("RepoNotFound")
        if unquote(match["rev"]) not in ("main", COMMIT):
            return self.error("RevisionNotFound")
        data = self.files.get(unquote(match["name"]))
        if data is None:
            return self.error("EntryNotFound")
        self.send_response(200)
        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if with_body:
            self.wfile.write(data)

    def error(self, code: str) -> None:
        self.send_response(404)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass


@pytest.fixture
def fake_hub(tiny_checkpoint: Path) -> Iterator[tuple[str, type[FakeHub]]]:
    """A fake Hub on 127.0.0.1 serving the tiny checkpoint as `phalar/tiny`; yields (endpoint, handler)."""
    yield from serve({name: (tiny_checkpoint / name).read_bytes() for name in CHECKPOINT_FILES})


def serve(files: dict[str, bytes]) -> Iterator[tuple[str, type[FakeHub]]]:
    """Run a fake Hub serving `files` as `phalar/tiny` while the generator is open; yields (endpoint, handler)."""
    handler = type("Handler", (FakeHub,), {"files": files, "log": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


LOAD_SCRIPT = """
import json, sys
import torch
from phalar_metric.hub import WeightsNotFoundError, load_pretrained
out = {}
for repo, revision in json.loads(sys.argv[1]):
    try:
        model = load_pretrained(repo, revision=revision)
        out[repo] = sum(float(v.double().sum()) for v in model.state_dict().values())
    except WeightsNotFoundError as err:
        out[repo] = str(err)
print(json.dumps(out))
"""


def run_load(cache: Path, requests: list[tuple[str, str | None]], **env: str) -> dict:
    """Run `load_pretrained` for each (repo, revision) in a fresh interpreter with `env` set."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    full_env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        HF_HOME=str(cache.parent / "hf_home"),  # never the user's token or cache
        HF_HUB_CACHE=str(cache),
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        NO_PROXY="127.0.0.1,localhost",
        OMP_NUM_THREADS="1",
        **env,
    )
    proc = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, json.dumps(requests)],
        env=full_env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_hub_download_then_offline_cache(
    fake_hub: tuple[str, type[FakeHub]], tiny_model: PhaLar, tmp_path: Path
) -> None:
    endpoint, handler = fake_hub
    cache = tmp_path / "hub_cache"
    want = sum(float(v.double().sum()) for v in tiny_model.state_dict().values())
    # (b) download through HF_ENDPOINT into an empty cache
    online = run_load(cache, [(REPO, None)], HF_ENDPOINT=endpoint)
    assert online[REPO] == pytest.approx(want, rel=1e-12)
    assert any(line.startswith("GET /phalar/tiny/resolve/main/model.safetensors") for line in handler.log)
    # (a) the pre-populated cache, offline: no request reaches the server
    n_requests = len(handler.log)
    offline = run_load(cache, [(REPO, "main"), ("phalar/not-cached", None)], HF_ENDPOINT=endpoint, HF_HUB_OFFLINE="1")
    assert offline[REPO] == pytest.approx(want, rel=1e-12)
    message = offline["phalar/not-cached"]
    assert "phalar/not-cached@main (config.json) is not in the Hugging Face cache and HF_HUB_OFFLINE is set" in message
    assert "`hf download phalar/not-cached --revision main`" in message
    assert len(handler.log) == n_requests


@pytest.mark.skipif(hf_constants.HF_HUB_OFFLINE, reason="HF_HUB_OFFLINE is set for this test session")
def test_hub_pinned_revision_and_sha256(
    fake_hub: tuple[str, type[FakeHub]], tiny_model: PhaLar, tmp_path: Path
) -> None:
    endpoint, handler = fake_hub
    sha = hashlib.sha256(handler.files["model.safetensors"]).hexdigest()
    model = load_pretrained(REPO, revision=COMMIT, cache_dir=tmp_path, sha256=sha, endpoint=endpoint)
    assert same_weights(model, tiny_model)
    assert all(f"/resolve/{COMMIT}/" in line for line in handler.log)
    with pytest.raises(ChecksumError, match="the `sha256` argument expects"):
        load_pretrained(REPO, revision=COMMIT, cache_dir=tmp_path, sha256="ab" * 32, endpoint=endpoint)
    metric = PhaLarScore.from_pretrained(REPO, revision=COMMIT, cache_dir=tmp_path)  # cached: no endpoint needed
    assert same_weights(metric.model, tiny_model)
    assert metric.provenance == {
        "phalar_version": phalar_version, "weights_sha256": sha, "hub_repo": REPO, "hub_revision": COMMIT,
        "hub_commit": COMMIT,
    }  # fmt: skip
    latest = hub.load_checkpoint(REPO, cache_dir=tmp_path / "main", endpoint=endpoint).provenance
    assert (latest["hub_revision"], latest["hub_commit"]) == ("main", COMMIT)  # the branch, and what it resolved to


@pytest.mark.skipif(hf_constants.HF_HUB_OFFLINE, reason="HF_HUB_OFFLINE is set for this test session")
def test_hub_downloads_the_calibration_that_checksums_list(tiny_model: PhaLar, tmp_path: Path) -> None:
    folder = hub.save_pretrained(tiny_model, tmp_path / "calibrated")
    sha = json.loads((folder / "checksums.json").read_text())["model.safetensors"]
    hub.save_calibration(folder, Calibration(0.5, -2.0, sha))
    server = serve({p.name: p.read_bytes() for p in folder.iterdir()})
    endpoint, handler = next(server)
    try:
        checkpoint = hub.load_checkpoint(REPO, revision=COMMIT, cache_dir=tmp_path / "cache", endpoint=endpoint)
    finally:
        server.close()
    assert (checkpoint.calibration.a, checkpoint.calibration.b) == (0.5, -2.0)
    assert any(line.startswith(f"GET /{REPO}/resolve/{COMMIT}/calibration.json") for line in handler.log)


def test_offline_and_not_cached_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # read at call time too
    what_to_do = r"HF_HUB_OFFLINE is set.*`hf download owner/phalar --revision v1`.*local checkpoint folder"
    with pytest.raises(WeightsNotFoundError, match=what_to_do):
        load_pretrained("owner/phalar", revision="v1", cache_dir=tmp_path)
