"""Fixed validation sets (unseen songs, unseen timbres) and their metrics: acc@K, hard@8, and
two validity checks of the pairs themselves: `pitch`, the share of pitched pairs whose context
scores its true target above that target transposed by 1-11 semitones (its CQT shifted, as
the harmonic negatives of training are made), and `noise`, the share of pairs scoring the
true target above white noise of the target's RMS."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from phalar_metric.functional import embed_windows
from phalar_metric.model import PhaLar

from .eval_windows import every_window_pairs
from .negatives import draw_transpositions, transpose_spec
from .retrieval_metrics import accuracy_at_k, hard_accuracy
from .sampler import Batch, PairSampler
from .sources import Song, load_songs

SPLITS = ("val", "val_timbre")  # unseen songs and works; the same songs with TimGM6mb only
OOD_SPLIT = "ood"  # unseen human-composed music with TimGM6mb: few songs, so every window
KS = (2, 8, 16, 64)
HARD_GROUP = 8  # hard@8: the true target among 8 windows of the same song
VALIDITY_ITEMS = 256  # pairs per split for `pitch` and `noise` (the first ones; fixed)


def eval_pairs(songs: list[Song], window: int, n_pairs: int, n_groups: int, seed: int = 1234) -> tuple[Batch, Batch]:
    """Deterministic clean (unaugmented) pairs: `n_pairs` from random songs, and `n_groups`
    same-song groups of HARD_GROUP windows with one stem split each."""
    rng = np.random.default_rng(seed)
    pairs = PairSampler(songs, window, hard_fraction=0.0, augment=None).batch(rng, n_pairs)
    groups = PairSampler(songs, window, hard_fraction=1.0, group_size=HARD_GROUP, augment=None)
    return pairs, groups.batch(rng, n_groups * HARD_GROUP)


def score_pairs(model: PhaLar, batch: Batch) -> np.ndarray:
    """`[B, B]` scores, context i vs target j."""
    return _embed_and_score(model, batch)[0].cpu().numpy()


@torch.inference_mode()
def _embed_and_score(model: PhaLar, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """The `[B, B]` scores of `batch` and its context embeddings `[B, out_dim]`."""
    ex, ey = (embed_windows(model, wav, batch_size=64) for wav in (batch.context, batch.target))
    return model.score(ex, ey), ex


@torch.inference_mode()
def validity_checks(model: PhaLar, batch: Batch, ex: torch.Tensor, scores: torch.Tensor,
                    seed: int = 4321) -> dict[str, float]:
    """{"pitch": ..., "noise": ...} (module docstring) over the first VALIDITY_ITEMS pairs of
    `batch`, given its context embeddings `ex` and scores `[B, B]`; "pitch" only for a CQT
    front-end and pitched pairs. Deterministic in `seed`."""
    rng = np.random.default_rng(seed)
    n = min(len(batch.target), VALIDITY_ITEMS)
    true = scores.diagonal()[:n]
    target = batch.target[:n]
    rms = np.sqrt(np.mean(np.square(target), axis=1, keepdims=True))
    noise = (rng.standard_normal(target.shape) * rms).astype(np.float32)
    out = {"noise": _wins(model, ex[:n], true, embed_windows(model, noise, batch_size=64))}
    idx = np.flatnonzero(batch.pitched[:n])
    bins_per_semitone = model.config.bins_per_octave // 12 if model.config.frontend == "cqt" else 0
    if bins_per_semitone and idx.size:
        bins = torch.as_tensor(draw_transpositions(rng, idx.size, bins_per_semitone), device=ex.device)
        pitched = torch.as_tensor(target[idx], device=ex.device)
        emb = torch.cat([model.embed_spectrogram(transpose_spec(model.frontend(pitched[j : j + 64]), bins[j : j + 64]))
                         for j in range(0, idx.size, 64)])
        out["pitch"] = _wins(model, ex[idx], true[idx], emb)
    return out


def _wins(model: PhaLar, ex: torch.Tensor, true: torch.Tensor, ey_negative: torch.Tensor) -> float:
    """Share of rows whose true score beats the score of context i vs negative i."""
    negative = torch.stack([model.score(ex[i : i + 1], ey_negative[i : i + 1])[0, 0] for i in range(len(ex))])
    return float((true > negative).float().mean())


def selection_value(metrics: dict, select_on: str) -> float:
    """The number that picks `best/`: the mean of the '+'-joined metric names of `select_on`
    (e.g. "ood/acc@64+ood/pitch") in `metrics` (values may be strings, as read from val.csv)."""
    return float(np.mean([float(metrics[name]) for name in select_on.split("+")]))


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
        """{"val/acc@K": ..., "val/hard@8": ..., "val/pitch": ..., "val/noise": ...,
        "val_timbre/...": ...}."""
        model.eval()
        out = {}
        for split, (pairs, groups) in self.sets.items():
            scores, ex = _embed_and_score(model, pairs)
            pair_scores = scores.cpu().numpy()
            for k, acc in accuracy_at_k(pair_scores, pairs.song, KS).items():
                out[f"{split}/acc@{k}"] = acc
            group_scores = pair_scores if groups is pairs else score_pairs(model, groups)
            out[f"{split}/hard@{HARD_GROUP}"] = hard_accuracy(group_scores, groups.group)
            out.update({f"{split}/{k}": v for k, v in validity_checks(model, pairs, ex, scores).items()})
        return out
