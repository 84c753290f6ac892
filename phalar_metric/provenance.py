"""Provenance: which package version and which weights produced a result.

Every result the package writes carries `provenance(...)`: `phalar_version` (the installed
package version) and `weights_sha256` (the sha256 of the checkpoint's `model.safetensors`;
for a model held in memory, of the `model.safetensors` that `save_pretrained` would write,
the same bytes), plus `hub_repo`, `hub_revision` (as asked) and `hub_commit` (as resolved)
for weights loaded from the Hugging Face Hub.
"""

from __future__ import annotations

import hashlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from safetensors.torch import save
from torch import nn

try:
    __version__ = version("phalar-metric")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0+unknown"


def state_bytes(model: nn.Module) -> bytes:
    """The `model.safetensors` bytes of a model's `state_dict()` (what `save_pretrained` writes)."""
    return save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})


def weights_sha256(model: nn.Module) -> str:
    """Hex sha256 of `state_bytes(model)`: equal to the sha256 of the saved `model.safetensors`."""
    return hashlib.sha256(state_bytes(model)).hexdigest()


def provenance(
    sha256: str, hub_repo: str | None = None, hub_revision: str | None = None, hub_commit: str | None = None
) -> dict[str, Any]:
    """The provenance fields of a result (the `hub_*` keys only for weights from the Hub)."""
    out: dict[str, Any] = {"phalar_version": __version__, "weights_sha256": sha256}
    if hub_repo is not None:
        out.update(hub_repo=hub_repo, hub_revision=hub_revision or "main", hub_commit=hub_commit)
    return out
