"""phalar-metric: PhaLar, a phase-aware reference metric of musical coherence (mix vs stem).

    from phalar_metric import PhaLarScore
    metric = PhaLarScore()                      # shipped weights, CPU, eval mode
    metric.score("mix.wav", "bass.wav")         # float, higher = more coherent
"""

from .audio import AudioError, load_audio
from .calibration import Calibration
from .config import PhaLarConfig
from .copy_check import StemCopyWarning
from .functional import (
    BestOffset,
    phalar_best_offset,
    phalar_embed,
    phalar_paired_details,
    phalar_paired_scores,
    phalar_score,
    phalar_score_curve,
    phalar_score_details,
    phalar_score_matrix,
)
from .gate import SILENCE_DBFS, SilentInputWarning
from .hub import ChecksumError, WeightsNotFoundError, load_default, load_pretrained, push_to_hub, save_pretrained
from .metric import PhaLarScore
from .model import PhaLar
from .pair_score import PairScore
from .provenance import __version__

__all__ = [
    "AudioError",
    "BestOffset",
    "Calibration",
    "ChecksumError",
    "PairScore",
    "PhaLar",
    "PhaLarConfig",
    "PhaLarScore",
    "SILENCE_DBFS",
    "SilentInputWarning",
    "StemCopyWarning",
    "WeightsNotFoundError",
    "load_audio",
    "load_default",
    "load_pretrained",
    "phalar_best_offset",
    "phalar_embed",
    "phalar_paired_details",
    "phalar_paired_scores",
    "phalar_score",
    "phalar_score_curve",
    "phalar_score_details",
    "phalar_score_matrix",
    "push_to_hub",
    "save_pretrained",
    "__version__",
]
