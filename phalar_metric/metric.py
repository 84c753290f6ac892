"""`PhaLarScore`: the public metric API, a thin class over `functional.py` and `hub.py`."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from . import functional as F
from . import hub
from .audio import AudioInput
from .calibration import Calibration
from .embedding import check_batch_size
from .model import PhaLar
from .pair_score import PairScore
from .provenance import provenance, weights_sha256


class PhaLarScore:
    """Musical coherence of a stem with a mix: one real number, higher = more coherent.

    Audio arguments are paths (wav, flac, ogg, ...; the file's own rate is used) or
    `[samples]` / `[channels, samples]` arrays or tensors with `sample_rate` in Hz. Clips are
    mixed to mono, resampled to `config.sample_rate` (16 kHz) and scored over time-aligned
    windows of `config.window_seconds` (5 s); see `phalar_metric.audio` for the policy.
    With a calibrated checkpoint, `calibrated=True` gives probabilities in [0, 1] instead of
    raw scores (`calibration.py`).

    Example:
        >>> import soundfile as sf
        >>> metric = PhaLarScore()  # the shipped weights, CPU
        >>> s = metric.score("examples/mix.flac", "examples/stem_aligned.flac")  # higher = more coherent
        >>> type(s).__name__
        'float'
        >>> mix, sr = sf.read("examples/mix.flac")  # arrays: [samples] or [channels, samples]
        >>> stems = ["examples/stem_aligned.flac", "examples/stem_unrelated.flac"]
        >>> metric.score_matrix([mix], stems, sample_rate=sr).shape  # every clip embedded once
        (1, 2)
        >>> times, curve = metric.score_curve("examples/mix.flac", "examples/stem_aligned.flac")
        >>> times  # window centres in seconds, one window every second
        array([2.5, 3.5, 4.5, 5.5, 6.5, 7.5])
        >>> metric.embed("examples/mix.flac").shape  # [n_windows, 512 + 64] complex64
        (2, 576)
        >>> sorted(metric.provenance)
        [...'phalar_version', 'weights_sha256']
    """

    def __init__(
        self,
        model: PhaLar | hub.Checkpoint | None = None,
        device: str | torch.device | None = None,
        batch_size: int = 16,
    ) -> None:
        """Wrap `model` (moved to `device` if given), or load the shipped weights.

        Args:
            model: a `PhaLar` model to use (its train/eval mode is left as it is: scoring
                always runs in eval mode), or a loaded `hub.Checkpoint` (model and
                provenance); default the shipped weights (`hub.default_checkpoint`).
            device: where to run the model (default: CPU, or where `model` already is).
            batch_size: model windows per forward pass.

        Raises:
            WeightsNotFoundError: no `model` given and no shipped weights installed.
            ValueError: `batch_size` is not a positive integer.
        """
        self.batch_size = check_batch_size(batch_size)
        if model is None:
            model = hub.default_checkpoint(device)
        self._checkpoint = model if isinstance(model, hub.Checkpoint) else None
        self.calibration: Calibration | None = None if self._checkpoint is None else self._checkpoint.calibration
        """The map from raw score to probability, or None (then `calibration_note` says why)."""
        self.calibration_note: str | None = (
            "a model passed in memory has no calibration: load a checkpoint with its calibration.json "
            "(`PhaLarScore.from_pretrained`)"
            if self._checkpoint is None
            else self._checkpoint.calibration_note
        )
        model = model.model if isinstance(model, hub.Checkpoint) else model
        self.model = model if device is None else model.to(device)

    @classmethod
    def from_pretrained(
        cls,
        repo_id_or_dir: str | Path,
        revision: str | None = None,
        device: str | torch.device | None = None,
        cache_dir: str | Path | None = None,
        sha256: str | None = None,
        batch_size: int = 16,
    ) -> "PhaLarScore":
        """Load a checkpoint folder or Hub repository (see `hub.load_pretrained`).

        Args:
            repo_id_or_dir: a checkpoint folder, or a Hub repo id.
            revision: Hub branch, tag or commit hash (pin it for reproducible numbers).
            device: where to run the model.
            cache_dir: Hugging Face cache folder.
            sha256: expected sha256 of `model.safetensors`.
            batch_size: model windows per forward pass.

        Returns:
            The metric.
        """
        checkpoint = hub.load_checkpoint(
            repo_id_or_dir, revision=revision, cache_dir=cache_dir, sha256=sha256, device=device
        )
        return cls(checkpoint, batch_size=batch_size)

    def save_pretrained(self, directory: str | Path, model_card: str | None = None) -> Path:
        """Write the model as a checkpoint folder (see `hub.save_pretrained`); returns its path."""
        return hub.save_pretrained(self.model, directory, model_card=model_card)

    def push_to_hub(
        self,
        repo_id: str,
        revision: str | None = None,
        private: bool = False,
        token: str | None = None,
        commit_message: str = "Upload PhaLar checkpoint",
        model_card: str | None = None,
    ) -> str:
        """Upload the model to a Hub repository (see `hub.push_to_hub`); returns the commit URL."""
        return hub.push_to_hub(self.model, repo_id, revision, private, token, commit_message, model_card)

    @property
    def provenance(self) -> dict[str, Any]:
        """Where the scores come from: `phalar_version`, `weights_sha256` (of `model.safetensors`)
        and, for weights from the Hub, `hub_repo`, `hub_revision` and `hub_commit`.

        A model passed in memory is hashed as `save_pretrained` would write it (each call:
        weights may change between calls).
        """
        if self._checkpoint is not None and self._checkpoint.model is self.model:
            found = self._checkpoint.provenance
        else:
            found = provenance(weights_sha256(self.model))
        if self.calibration is not None:
            fitted = self.calibration.fit.get("date")
            found["calibration"] = {"a": self.calibration.a, "b": self.calibration.b, "date": fitted}
        return found

    def probability(self, score: float | np.ndarray) -> float | np.ndarray:
        """The calibrated probability in [0, 1] that the stem is the mix's true partner rather
        than another song's stem (class prior 0.5), of a raw score or an array of them.

        Raises:
            ValueError: these weights have no calibration (the message says why).
        """
        return self._require_calibration().probability(score)

    @property
    def sample_rate(self) -> int:
        """The model rate in Hz (inputs at other rates are resampled)."""
        return self.model.config.sample_rate

    def score(
        self,
        mix: AudioInput,
        stem: AudioInput,
        sample_rate: int | None = None,
        *,
        start: float | None = None,
        end: float | None = None,
        calibrated: bool = False,
    ) -> float:
        """Score of `stem` with `mix`: the mean over time-aligned windows (symmetric in the two).

        `start` / `end`: seconds into both clips, to score only that span (files are read
        from `start`, not loaded whole). `calibrated`: return `probability(score)` instead.
        """
        self._check_calibrated(calibrated)
        value = F.phalar_score(self.model, mix, stem, sample_rate, self.batch_size, start=start, end=end)
        return self.probability(value) if calibrated else value

    def score_details(
        self,
        mix: AudioInput,
        stem: AudioInput,
        sample_rate: int | None = None,
        *,
        start: float | None = None,
        end: float | None = None,
    ) -> PairScore:
        """`score` with the per-window scores, the silent windows, the warnings (returned, not
        emitted) and, when calibrated, the probability."""
        details = F.phalar_score_details(self.model, mix, stem, sample_rate, self.batch_size, start=start, end=end)
        return self.with_probability(details)

    def with_probability(self, details: PairScore) -> PairScore:
        """`details` with its `probability` filled in when these weights are calibrated (else as it is)."""
        if self.calibration is None:
            return details
        return dataclasses.replace(details, probability=self.calibration.probability(details.score))

    def score_matrix(
        self,
        mixes: Sequence[AudioInput],
        stems: Sequence[AudioInput],
        sample_rate: int | None = None,
        *,
        calibrated: bool = False,
    ) -> np.ndarray:
        """Scores `[len(mixes), len(stems)]` of every mix with every stem, each clip embedded once
        (`calibrated`: probabilities, float64)."""
        self._check_calibrated(calibrated)
        matrix = F.phalar_score_matrix(self.model, mixes, stems, sample_rate, self.batch_size)
        return self.probability(matrix) if calibrated else matrix

    def embed(
        self,
        clips: AudioInput | Sequence[AudioInput],
        sample_rate: int | None = None,
        *,
        start: float | None = None,
        end: float | None = None,
    ) -> np.ndarray | list[np.ndarray]:
        """Window embeddings `[n_windows, n]` (complex64) of one clip, or a list of them for a list."""
        return F.phalar_embed(self.model, clips, sample_rate, self.batch_size, start=start, end=end)

    def score_curve(
        self,
        mix: AudioInput,
        stem: AudioInput,
        sample_rate: int | None = None,
        hop_seconds: float = 1.0,
        *,
        start: float | None = None,
        end: float | None = None,
        calibrated: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`(times, scores)`, both `[n]`: window centres in seconds and the score of each window
        (`calibrated`: the probability of each window instead)."""
        self._check_calibrated(calibrated)
        times, scores = F.phalar_score_curve(
            self.model, mix, stem, sample_rate, hop_seconds, self.batch_size, start=start, end=end
        )
        return times, self.probability(scores) if calibrated else scores

    def best_offset(
        self,
        mix: AudioInput,
        stem: AudioInput,
        sample_rate: int | None = None,
        max_shift: float = 1.0,
        step: float | None = None,
        *,
        start: float | None = None,
        end: float | None = None,
    ) -> F.BestOffset:
        """The offset in seconds (> 0: the stem is delayed) that scores highest, and the `[n_shifts, 2]` table."""
        return F.phalar_best_offset(
            self.model, mix, stem, sample_rate, max_shift, step, self.batch_size, start=start, end=end
        )

    def _check_calibrated(self, calibrated: bool) -> None:
        """Fail before any work when `calibrated` is asked of uncalibrated weights."""
        if calibrated:
            self._require_calibration()

    def _require_calibration(self) -> Calibration:
        """The calibration; `ValueError` saying why there is none."""
        if self.calibration is None:
            raise ValueError(f"Argument `calibrated` / `probability`: {self.calibration_note}")
        return self.calibration
