"""Weights I/O: save / load a PhaLar checkpoint folder, locally or on the Hugging Face Hub.

A checkpoint is a folder with
- `model.safetensors`: the model's `state_dict()` (the CQT kernels are rebuilt at init and
  are not stored),
- `config.json`: exactly `PhaLarConfig.to_dict()`,
- `checksums.json`: `{"model.safetensors": "<sha256 hex>", ...}`, checked on every load,
- optionally `calibration.json` (`calibration.py`: the map from raw score to probability,
  fitted for these weights), listed in `checksums.json` and checked like the weights; an
  unlisted one, or one fitted for other weights, is not used (`Checkpoint.calibration_note`),
- optionally `README.md`: the model card.
Hub downloads go through `hf_hub_download` into the standard Hugging Face cache, at a
pinned `revision` when given; `HF_HUB_OFFLINE=1` is honoured (read at call time). Nothing
touches the network at import time.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import LocalEntryNotFoundError
from safetensors.torch import load_file

from .calibration import CALIBRATION_NAME, Calibration
from .config import PhaLarConfig
from .model import PhaLar
from .provenance import provenance, state_bytes

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
CHECKSUMS_NAME = "checksums.json"
CARD_NAME = "README.md"
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


class WeightsNotFoundError(FileNotFoundError):
    """The requested weights are neither in the given folder nor in the Hugging Face cache."""


class ChecksumError(ValueError):
    """`model.safetensors` does not have the expected sha256."""


@dataclass(frozen=True)
class Checkpoint:
    """A loaded model with where it came from.

    `model`: the `PhaLar` model in eval mode. `weights_sha256`: the verified sha256 of its
    `model.safetensors`. `calibration`: the verified calibration of these weights, or None,
    and then `calibration_note` says why. `hub_repo`, `hub_revision`, `hub_commit`: the Hub
    repository, the revision asked for and the commit it resolved to (None for a folder).
    """

    model: PhaLar
    weights_sha256: str
    calibration: Calibration | None = None
    calibration_note: str | None = None
    hub_repo: str | None = None
    hub_revision: str | None = None
    hub_commit: str | None = None

    @property
    def provenance(self) -> dict[str, Any]:
        """`phalar_version`, `weights_sha256` and, from the Hub, `hub_repo`/`hub_revision`/`hub_commit`."""
        return provenance(self.weights_sha256, self.hub_repo, self.hub_revision, self.hub_commit)


def default_weights_dir() -> Path:
    """The folder of the shipped default weights, `phalar_metric/weights/` in the package."""
    return Path(__file__).resolve().parent / "weights"


def load_default(device: str | torch.device | None = None) -> PhaLar:
    """Load the shipped default model (sha256-checked), in eval mode.

    Args:
        device: where to put the model (default CPU).

    Returns:
        The default `PhaLar` model.

    Raises:
        WeightsNotFoundError: this installation has no shipped weights.
        ChecksumError: the shipped weights do not match their checksum.
    """
    return default_checkpoint(device).model


def default_checkpoint(device: str | torch.device | None = None) -> Checkpoint:
    """`load_default` with the checkpoint's provenance (see `Checkpoint`)."""
    directory = default_weights_dir()
    if not (directory / WEIGHTS_NAME).is_file():
        raise WeightsNotFoundError(
            f"The default PhaLar weights are not installed ({directory / WEIGHTS_NAME} is missing). "
            "Load a checkpoint instead: `PhaLarScore.from_pretrained(repo_id_or_folder)`."
        )
    return load_checkpoint(directory, device=device)


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_pretrained(
    model: PhaLar, directory: str | Path, model_card: str | None = None, calibration: Calibration | None = None
) -> Path:
    """Write a checkpoint folder: `model.safetensors`, `config.json`, `checksums.json` (+ `README.md`).

    Args:
        model: the model to save.
        directory: the folder (created if missing; existing files are overwritten).
        model_card: optional model card text, written as `README.md`.
        calibration: optional calibration of these weights, written as `calibration.json`;
            without it, a `calibration.json` already in the folder (of earlier weights) is removed.

    Returns:
        The folder's path.

    Raises:
        ValueError: `calibration` was fitted for other weights.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / WEIGHTS_NAME).write_bytes(state_bytes(model))
    model.config.save(directory / CONFIG_NAME)
    checksums = {WEIGHTS_NAME: sha256_file(directory / WEIGHTS_NAME)}
    (directory / CHECKSUMS_NAME).write_text(json.dumps(checksums, indent=2) + "\n")
    (directory / CALIBRATION_NAME).unlink(missing_ok=True)
    if calibration is not None:
        save_calibration(directory, calibration)
    if model_card is not None:
        (directory / CARD_NAME).write_text(model_card)
    return directory


def save_calibration(directory: str | Path, calibration: Calibration) -> Path:
    """Write `calibration.json` into a checkpoint folder and list it in its `checksums.json`.

    Raises:
        WeightsNotFoundError: `directory` has no `checksums.json` (not a checkpoint folder).
        ValueError: `calibration` was fitted for other weights than the folder's.
    """
    directory = Path(directory)
    checksums_path = directory / CHECKSUMS_NAME
    if not checksums_path.is_file():
        raise WeightsNotFoundError(f"Not a PhaLar checkpoint folder, missing: {checksums_path}")
    checksums = json.loads(checksums_path.read_text())
    if calibration.weights_sha256 != checksums.get(WEIGHTS_NAME):
        raise ValueError(
            f"Argument `calibration` was fitted for weights {calibration.weights_sha256}, but {directory} holds "
            f"weights {checksums.get(WEIGHTS_NAME)}"
        )
    calibration.save(directory / CALIBRATION_NAME)
    checksums[CALIBRATION_NAME] = sha256_file(directory / CALIBRATION_NAME)
    checksums_path.write_text(json.dumps(checksums, indent=2) + "\n")
    return directory / CALIBRATION_NAME


def load_pretrained(
    repo_id_or_path: str | Path,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    sha256: str | None = None,
    device: str | torch.device | None = None,
    endpoint: str | None = None,
) -> PhaLar:
    """Load a checkpoint from a local folder or a Hugging Face Hub repository, in eval mode.

    Args:
        repo_id_or_path: a checkpoint folder, or a Hub repo id such as ``"owner/phalar"``.
        revision: Hub branch, tag or (for reproducibility) commit hash; default ``"main"``.
        cache_dir: Hugging Face cache folder (default: the standard cache, `HF_HUB_CACHE`).
        sha256: expected sha256 of `model.safetensors`, checked in addition to
            `checksums.json`.
        device: where to put the model (default CPU).
        endpoint: a Hub mirror URL (default: `HF_ENDPOINT` or huggingface.co).

    Returns:
        The `PhaLar` model in eval mode.

    Raises:
        WeightsNotFoundError: a missing folder or file, or a repo that is not cached while
            offline or while the Hub cannot be reached.
        ChecksumError: `model.safetensors` does not match `checksums.json` or `sha256`.
    """
    return load_checkpoint(repo_id_or_path, revision, cache_dir, sha256, device, endpoint).model


def load_checkpoint(
    repo_id_or_path: str | Path,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    sha256: str | None = None,
    device: str | torch.device | None = None,
    endpoint: str | None = None,
) -> Checkpoint:
    """`load_pretrained` with the checkpoint's provenance (see `Checkpoint`); same arguments and errors."""
    folder = Path(repo_id_or_path).expanduser()
    hub: dict[str, str | None] = {}
    if folder.is_dir():
        files = {name: folder / name for name in (WEIGHTS_NAME, CONFIG_NAME, CHECKSUMS_NAME)}
        missing = [str(p) for p in files.values() if not p.is_file()]
        if missing:
            raise WeightsNotFoundError(f"Not a PhaLar checkpoint folder, missing: {', '.join(missing)}")
        if (folder / CALIBRATION_NAME).is_file():
            files[CALIBRATION_NAME] = folder / CALIBRATION_NAME
    elif isinstance(repo_id_or_path, Path) or not _REPO_ID.fullmatch(str(repo_id_or_path)):
        raise WeightsNotFoundError(f"No such checkpoint folder: {folder} (and not a Hub repo id)")
    else:
        files = _download(str(repo_id_or_path), revision, cache_dir, endpoint)
        snapshot = files[WEIGHTS_NAME].parent  # the cache's snapshots/<commit>/ folder
        commit = snapshot.name if snapshot.parent.name == "snapshots" else None
        hub = {"hub_repo": str(repo_id_or_path), "hub_revision": revision or "main", "hub_commit": commit}
    actual = _verify(files[WEIGHTS_NAME], files[CHECKSUMS_NAME], sha256)
    calibration, note = _calibration(files.get(CALIBRATION_NAME), files[CHECKSUMS_NAME], actual)
    model = PhaLar(PhaLarConfig.load(files[CONFIG_NAME]))
    model.load_state_dict(load_file(str(files[WEIGHTS_NAME]), device="cpu"))
    return Checkpoint(model.to(device or "cpu").eval(), actual, calibration, note, **hub)


def push_to_hub(
    model: PhaLar,
    repo_id: str,
    revision: str | None = None,
    private: bool = False,
    token: str | None = None,
    commit_message: str = "Upload PhaLar checkpoint",
    model_card: str | None = None,
) -> str:
    """Upload a checkpoint folder (see `save_pretrained`) to a Hub model repository.

    Args:
        model: the model to upload.
        repo_id: the target repository, created if missing.
        revision: the branch to commit to (created if missing); default the main branch.
        private: create the repository as private.
        token: a Hub token (default: the logged-in user's).
        commit_message: the commit message.
        model_card: optional model card text, uploaded as `README.md`.

    Returns:
        The URL of the commit.
    """
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    if revision is not None:
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        save_pretrained(model, tmp, model_card=model_card)
        info = api.upload_folder(repo_id=repo_id, folder_path=tmp, revision=revision, commit_message=commit_message)
    return str(info.commit_url)


def _download(
    repo_id: str, revision: str | None, cache_dir: str | Path | None, endpoint: str | None
) -> dict[str, Path]:
    """Fetch the checkpoint files from the Hub (or the cache when offline): the three required
    ones, and `calibration.json` when `checksums.json` lists it."""
    offline = _offline()
    files: dict[str, Path] = {}
    names = [CONFIG_NAME, CHECKSUMS_NAME, WEIGHTS_NAME]
    for name in names:
        try:
            path = hf_hub_download(
                repo_id, name, revision=revision, cache_dir=cache_dir, local_files_only=offline, endpoint=endpoint
            )
        except LocalEntryNotFoundError as err:
            why = "HF_HUB_OFFLINE is set" if offline else "the Hugging Face Hub cannot be reached"
            raise WeightsNotFoundError(
                f"{repo_id}@{revision or 'main'} ({name}) is not in the Hugging Face cache and {why}. "
                f"Download it on a connected machine with `hf download {repo_id} --revision {revision or 'main'}` "
                "(`huggingface-cli download` in older huggingface_hub) and copy the cache over, "
                "or pass a local checkpoint folder."
            ) from err
        files[name] = Path(path)
        if name == CHECKSUMS_NAME and CALIBRATION_NAME in json.loads(files[name].read_text()):
            names.append(CALIBRATION_NAME)
    return files


def _offline() -> bool:
    """`HF_HUB_OFFLINE`, as huggingface_hub read it at import or as the environment says now."""
    now = os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}
    return now or hf_constants.is_offline_mode()


def _verify(weights: Path, checksums: Path, sha256: str | None) -> str:
    """Check the sha256 of `weights` against `checksums.json` and the optional `sha256`; return it."""
    actual = sha256_file(weights)
    recorded = json.loads(Path(checksums).read_text()).get(WEIGHTS_NAME)
    if recorded is None:
        raise ChecksumError(f"{checksums} has no entry for {WEIGHTS_NAME}")
    for expected, source in ((recorded, str(checksums)), (sha256, "the `sha256` argument")):
        if expected is not None and expected.lower() != actual:
            raise ChecksumError(
                f"{weights} has sha256 {actual}, but {source} expects {expected}: "
                "the file is corrupt or not the requested version; delete it and download again"
            )
    return actual


def _calibration(path: Path | None, checksums: Path, weights_sha256: str) -> tuple[Calibration | None, str | None]:
    """The folder's verified calibration of these weights, or None and why."""
    listed = json.loads(Path(checksums).read_text()).get(CALIBRATION_NAME)
    if listed is None:
        why = "is not listed in checksums.json" if path is not None else "is not in the checkpoint"
        return None, f"no calibration for these weights ({CALIBRATION_NAME} {why}): `probability` is not available"
    if path is None:
        raise WeightsNotFoundError(f"{checksums} lists {CALIBRATION_NAME}, but the checkpoint has no such file")
    actual = sha256_file(path)
    if listed.lower() != actual:
        raise ChecksumError(f"{path} has sha256 {actual}, but {checksums} expects {listed}: the file is corrupt")
    calibration = Calibration.load(path)
    if calibration.weights_sha256 != weights_sha256:
        return None, (
            f"{CALIBRATION_NAME} was fitted for weights {calibration.weights_sha256}, not these ({weights_sha256}): "
            "`probability` is not available"
        )
    return calibration, None
