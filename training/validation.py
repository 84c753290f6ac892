"""Fixed validation sets (unseen songs, unseen timbres) and acc@K / hard@8 on them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from phalar_metric.functional import embed_windows
from phalar_metric.model import PhaLar

from .eval_windows import every_window_pairs
from .retrieval_metrics import accuracy_at_k, hard_accuracy
from .sampler import Batch, PairSampler
from .sources import Song, load_songs

SPLITS = ("val", "val_timbre")  # unseen songs and works; the same songs with TimGM6mb only
OOD_SPLIT = "ood"  # unseen human-composed music with TimGM6mb: few songs, so every window
KS = (2, 8, 16, 64)
HARD_GROUP = 8  # hard@8: the true target among 8 windows of the same song


def eval_pairs(songs: list[Song], window: int, n_pairs: int, n_groups: int, seed: int = 1234) -> tuple[Batch, Batch]:
    """Deterministic clean (unaugmented) pairs: `n_pairs` from random songs, and `n_groups`
    same-song groups of HARD_GROUP windows with one stem split each."""
    rng = np.random.default_rng(seed)
    pairs = PairSampler(songs, window, hard_fraction=0.0, augment=None).batch(rng, n_pairs)
    groups = PairSampler(songs, window, hard_fraction=1.0, group_size=HARD_GROUP, augment=None)
    return pairs, groups.batch(rng, n_groups * HARD_GROUP)


@torch.inference_mode()
def score_pairs(model: PhaLar, batch: Batch) -> np.ndarray:
    """`[B, B]` scores, context i vs target j."""
    ex, ey = (embed_windows(model, wav, batch_size=64) for wav in (batch.context, batch.target))
    return model.score(ex, ey).cpu().numpy()


@dataclass
class ValidationSet:
    """Per split: (random pairs, same-song groups)."""

    sets: dict[str, tuple[Batch, Batch]]

    @classmethod
    def build(cls, root: str, window: int, n_pairs: int, n_groups: int) -> "ValidationSet":
        """SPLITS with `n_pairs` random pairs and `n_groups` groups each, and OOD_SPLIT with
        every window (its pairs are also its groups) when the cache has it."""
        sets = {s: eval_pairs(load_songs(["rendered"], root, s), window, n_pairs, n_groups) for s in SPLITS}
        ood = load_songs(["rendered"], root, OOD_SPLIT)
        if ood:
            pairs = every_window_pairs(ood, window, HARD_GROUP)
            sets[OOD_SPLIT] = (pairs, pairs)
        return cls(sets)

    def evaluate(self, model: PhaLar) -> dict[str, float]:
        """{"val/acc@K": ..., "val/hard@8": ..., "val_timbre/...": ...}."""
        model.eval()
        out = {}
        for split, (pairs, groups) in self.sets.items():
            pair_scores = score_pairs(model, pairs)
            for k, acc in accuracy_at_k(pair_scores, pairs.song, KS).items():
                out[f"{split}/acc@{k}"] = acc
            group_scores = pair_scores if groups is pairs else score_pairs(model, groups)
            out[f"{split}/hard@{HARD_GROUP}"] = hard_accuracy(group_scores, groups.group)
        return out
