"""One dataclass with every hyperparameter of PhaLar and its ablation switches."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAMPLE_RATE = 16000  # Hz, the model rate; training data and evaluation use it too
FRONTENDS = ("cqt", "mel")
POOLINGS = ("spectral", "gap")
HEADS = ("complex", "magnitude", "real")
SIMILARITIES = ("hermitian", "psd", "cosine")
_POSITIVE = (
    "sample_rate", "window_seconds", "min_seconds", "fmin", "n_bins", "bins_per_octave", "hop_length",
    "top_db", "filter_scale", "n_fft", "embed_dim", "n_pool_bins", "hidden_dim", "out_dim", "init_scale",
)  # fmt: skip


@dataclass
class PhaLarConfig:
    """Hyperparameters of the PhaLar model (defaults = the shipped model up to weights 0.4.0;
    0.5.0 adds ``harmony_dim=64``, in its ``config.json``).

    Ablations of DESIGN.md are switches here:
    GAP + real MLP: ``pooling="gap", head="real"``; magnitude-only + real MLP:
    ``head="magnitude"``; complex cosine: ``similarity="cosine"``; PSD W:
    ``similarity="psd"``; Mel front-end: ``frontend="mel"``.
    """

    # audio
    sample_rate: int = SAMPLE_RATE  # Hz, the model rate
    window_seconds: float = 5.0  # one embedding covers this many seconds
    min_seconds: float = 1.0  # shorter clips are rejected, longer ones padded to a window
    # front-end
    frontend: str = "cqt"
    fmin: float = 32.70  # Hz (C1)
    n_bins: int = 84  # frequency bins (CQT bins, or Mel bands for the Mel ablation)
    bins_per_octave: int = 12
    filter_scale: float = 1.0  # CQT window-length factor (benchmarks/cqt_pitch_resolution.py); weights <= 0.2.0: 1
    hop_length: int = 256  # samples (16 ms); CQT2010v2 needs it divisible by 2**(octaves-1)
    top_db: float = 80.0  # dynamic range of the log-magnitude, scaled to [0, 1]
    n_fft: int = 2048  # Mel ablation only
    # backbone: a 1x1 stem to channels[0], then two blocks per stage, the first of the first
    # `strided_stages` stages strided by 2 in time (default 16x: 313 frames -> 20 of 256 ms)
    channels: tuple[int, ...] = (8, 12, 18, 27, 40, 60)
    strided_stages: int = 4
    dropout: float = 0.1
    # pooling
    pooling: str = "spectral"
    embed_dim: int = 80  # D: learned projection of (channels x bins) per frame
    n_pool_bins: int = 8  # C: modulation-frequency bins kept after the rfft along time
    pool_drop_dc: bool = True  # keep bins 1..C (the DC bin has no phase)
    # head and score
    head: str = "complex"
    hidden_dim: int = 512
    out_dim: int = 512
    similarity: str = "hermitian"
    init_scale: float = 10.0  # initial logit of a clip with itself
    # harmony branch (harmony.py): time-averaged features appended to the embedding; 0 = none
    # (weights <= 0.4.0)
    harmony_dim: int = 0

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)
        for name, allowed in (
            ("frontend", FRONTENDS),
            ("pooling", POOLINGS),
            ("head", HEADS),
            ("similarity", SIMILARITIES),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"Config `{name}` must be one of {allowed}, got {getattr(self, name)!r}")
        self._check_sizes()
        if (self.pooling == "gap") != (self.head == "real"):
            raise ValueError("`pooling='gap'` goes with `head='real'` (GAP + real MLP) and only with it")
        if self.head != "complex" and self.similarity != "hermitian":
            raise ValueError("`similarity` ablations apply to the complex head only")
        if not (isinstance(self.harmony_dim, int) and self.harmony_dim >= 0):
            raise ValueError(f"Config `harmony_dim` must be a non-negative integer, got {self.harmony_dim!r}")
        if self.harmony_dim and (self.head, self.similarity) != ("complex", "hermitian"):
            raise ValueError("Config `harmony_dim` > 0 needs the complex head and the hermitian similarity")
        octaves = -(-self.n_bins // self.bins_per_octave)
        if self.frontend == "cqt" and self.hop_length % 2 ** (octaves - 1):
            raise ValueError(
                f"`hop_length` must be divisible by 2**(octaves-1) = {2 ** (octaves - 1)} "
                f"for the multi-rate CQT, got {self.hop_length}"
            )

    def _check_sizes(self) -> None:
        for name in _POSITIVE:
            if not getattr(self, name) > 0:  # `not >` also rejects NaN
                raise ValueError(f"Config `{name}` must be positive, got {getattr(self, name)!r}")
        if self.min_seconds > self.window_seconds:
            raise ValueError(
                f"Config `min_seconds` must not exceed `window_seconds` = {self.window_seconds}, got {self.min_seconds}"
            )
        if len(self.channels) < 2 or min(self.channels) < 1:
            raise ValueError(f"Config `channels` must be >= 2 positive widths (stem, stages), got {self.channels}")
        if not 0 <= self.strided_stages <= len(self.channels) - 1:
            raise ValueError(
                f"Config `strided_stages` must be in [0, {len(self.channels) - 1}] (the number of stages), "
                f"got {self.strided_stages}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"Config `dropout` must be in [0, 1), got {self.dropout}")
        top = self.fmin * 2.0 ** ((self.n_bins - 1) / self.bins_per_octave) if self.frontend == "cqt" else self.fmin
        if top >= self.sample_rate / 2:
            raise ValueError(
                f"Config `n_bins` / `fmin`: the top bin {top:.1f} Hz must lie below the Nyquist frequency "
                f"{self.sample_rate / 2} Hz, got n_bins={self.n_bins}, fmin={self.fmin}"
            )

    @property
    def window_samples(self) -> int:
        return int(round(self.window_seconds * self.sample_rate))

    @property
    def min_samples(self) -> int:
        return int(round(self.min_seconds * self.sample_rate))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PhaLarConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"Unknown config keys: {sorted(unknown)}")
        return cls(**d)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "PhaLarConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))


def tiny_config(**overrides: Any) -> PhaLarConfig:
    """A small config for tests: 1 s windows, few bins and channels."""
    base = dict(
        window_seconds=1.0,
        min_seconds=0.25,
        n_bins=36,
        hop_length=128,
        channels=(4, 6, 8, 8, 8, 8),
        embed_dim=8,
        n_pool_bins=3,
        hidden_dim=16,
        out_dim=16,
    )
    base.update(overrides)
    return PhaLarConfig(**base)
