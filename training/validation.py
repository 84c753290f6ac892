"""Fixed validation sets (unseen songs, unseen timbres) and their metrics: acc@K, hard@8, and
validity checks of the pairs themselves: `pitch`, the share of pitched pairs whose context
scores its true target above that target transposed by 1-11 semitones (both spectrograms from
`TransposedCQT`, as the harmonic negatives of training are made), `pitch_1st` the same for a
transposition by one semitone up or down (the hardest, and what 0.2.0 hears least),
`pitch@k` that share for the interval k = 1..11 semitones, each tried on the same
PITCH_MIN_PAIRS pitched pairs drawn at random with a sign drawn per pair, `pitch_min` the lowest
of the eleven (0.3.0 hears ±4 and ±8 least, which a random interval rarely shows), and `noise`,
the share of pairs scoring the true target above white noise of the target's RMS, and
`degenerate`, the share scoring it above each of silence (0: the library's silence gate), pink
noise and a click train: the kinds of the validity suite's other degenerate rows, made by the
training negatives' generators (the suite's clicks are sine bursts at a wrong tempo, these
noise bursts at a random one; the front-end is gain-invariant, so no level). With
`real_pitch_pairs`, the ood split also has `pitch_real`, `pitch_real_min` and `pitch_real@k`:
the same question on targets re-rendered from their notes, transposed as the validity suite
transposes (training/real_pitch.py).

The eleven `pitch@k` (and six `pitch_real@k`) are detail (`is_interval_metric`): the trainer
keeps them in its history and intervals.csv, not val.csv, and can draw its harmonic negatives
by the `pitch@k` (`interval_weights_from`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from phalar_metric.config import PhaLarConfig
from phalar_metric.embedding import embed_windows, window_scores
from phalar_metric.model import PhaLar

from .eval_windows import every_window_pairs
from .negatives import MAX_SEMITONES, TransposedCQT, click_train, draw_transpositions, pink_noise, semitone_bins
from .real_pitch import REAL_CHECKS, REAL_SUMMARY, RealPitchSet
from .retrieval_metrics import accuracy_at_k, hard_accuracy
from .sampler import Batch, PairSampler
from .sources import Song, load_songs

SPLITS = ("val", "val_timbre")  # unseen songs and works; the same songs with TimGM6mb only
OOD_SPLIT = "ood"  # unseen human-composed music with TimGM6mb: few songs, so every window
KS = (2, 8, 16, 64)
HARD_GROUP = 8  # hard@8: the true target among 8 windows of the same song
PITCH_MIN_PAIRS = 128  # pitched pairs per split that `pitch@k` transposes by every interval (or all)
INTERVAL_CHECKS = tuple(f"pitch@{k}" for k in range(1, MAX_SEMITONES + 1))  # `pitch@k`, k = 1..MAX_SEMITONES
INTERVAL_WEIGHT_FLOOR = 0.05  # `interval_weights_from`: an interval always heard is still drawn this much


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
def validity_checks(model: PhaLar, batch: Batch, ex: torch.Tensor, true: torch.Tensor,
                    seed: int = 4321) -> dict[str, float]:
    """{"noise": ..., "degenerate": ..., "pitch": ..., "pitch_1st": ..., "pitch_min": ...,
    "pitch@1": ..., ..., "pitch@11": ...} (module docstring) over every pair of `batch`
    (`pitch_min` and `pitch@k`: PITCH_MIN_PAIRS of its pitched pairs), given its
    context embeddings `ex` `[B, out_dim]` and true-pair scores `true` `[B]`; the pitch checks
    only where `semitone_bins` is not 0 and some pair is pitched. Runs in eval mode (restored
    after); deterministic in `seed`. The noise has unit RMS: the front-end is gain-invariant."""
    was_training = model.training
    model.eval()
    try:
        rng = np.random.default_rng(seed)
        noise = rng.standard_normal(batch.target.shape).astype(np.float32)
        out = {"noise": share_above(true, window_scores(model, ex, embed_windows(model, noise, batch_size=64)))}
        idx = np.flatnonzero(batch.pitched)
        bins_per_semitone = semitone_bins(model.config)
        if bins_per_semitone and idx.size:
            bins = torch.as_tensor(draw_transpositions(rng, idx.size, bins_per_semitone), device=ex.device)
            semitone = torch.as_tensor(rng.choice([-1, 1], size=idx.size) * bins_per_semitone, device=ex.device)
            pitched = torch.as_tensor(batch.target[idx], device=ex.device)
            transposer = TransposedCQT(model.config).to(ex.device)
            own, pitch, first = transposed_scores(model, transposer, pitched, ex[idx],
                                                  torch.stack([torch.zeros_like(bins), bins, semitone]))
            out["pitch"], out["pitch_1st"] = share_above(own, pitch), share_above(own, first)
            shares = _interval_shares(model, transposer, pitched, ex[idx], own, rng, bins_per_semitone)
            out["pitch_min"] = min(shares)
            out.update(zip(INTERVAL_CHECKS, shares))
        degenerate = degenerate_scores(model, ex, np.random.default_rng(seed + 1))  # its own draws: the rest as before
        out["degenerate"] = share_above(true, degenerate.max(dim=0).values)
        return out
    finally:
        model.train(was_training)


def degenerate_scores(model: PhaLar, ex: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """`[3, B]` scores of each context `ex` `[B, out_dim]` against silence (0, as the library's
    silence gate scores it: phalar_metric/gate.py), pink noise and a click train
    (`negatives.pink_noise`, `click_train`; a clip of each per context)."""
    b, samples, rate = len(ex), model.config.window_samples, model.config.sample_rate
    pink = np.stack([pink_noise(rng, samples) for _ in range(b)]).astype(np.float32)
    clicks = np.stack([click_train(rng, samples, rate) for _ in range(b)]).astype(np.float32)
    pink_scores = window_scores(model, ex, embed_windows(model, pink, 64))
    return torch.stack([torch.zeros_like(pink_scores), pink_scores,
                        window_scores(model, ex, embed_windows(model, clicks, 64))])


def _interval_shares(model: PhaLar, transposer: TransposedCQT, targets: torch.Tensor, ex: torch.Tensor,
                     own: torch.Tensor, rng: np.random.Generator, bins_per_semitone: int) -> list[float]:
    """Per interval 1..MAX_SEMITONES semitones, the share of PITCH_MIN_PAIRS pairs drawn from
    `targets` `[P, samples]` (contexts `ex` `[P, out_dim]`, true scores `own` `[P]`) whose true
    score beats the target transposed by that interval, its sign drawn per pair."""
    pick = torch.as_tensor(np.sort(rng.choice(len(targets), min(len(targets), PITCH_MIN_PAIRS), replace=False)),
                           device=ex.device)
    signs = torch.as_tensor(rng.choice([-1, 1], size=(MAX_SEMITONES, len(pick))), device=ex.device)
    every = signs * torch.arange(1, MAX_SEMITONES + 1, device=ex.device)[:, None] * bins_per_semitone
    return [share_above(own[pick], scores) for scores in transposed_scores(model, transposer, targets[pick],
                                                                          ex[pick], every)]


@torch.inference_mode()
def transposed_scores(model: PhaLar, transposer: TransposedCQT, targets: torch.Tensor, ex: torch.Tensor,
                      shifts: torch.Tensor) -> torch.Tensor:
    """`[K, P]` scores of each context `ex` `[P, out_dim]` against its target `targets`
    `[P, samples]` shifted by `shifts[k]` `[K, P]` bins (`TransposedCQT`; each target's widened
    CQT computed once, 64 targets at a time)."""
    scores: list[list[torch.Tensor]] = [[] for _ in range(len(shifts))]
    for j in range(0, len(targets), 64):
        mag = transposer.magnitude(targets[j : j + 64])
        for k, shift in enumerate(shifts):
            spec = transposer.crop(mag, shift[j : j + 64])
            scores[k].append(window_scores(model, ex[j : j + 64], model.embed_spectrogram(spec)))
    return torch.stack([torch.cat(per_shift) for per_shift in scores])


def share_above(true: torch.Tensor, negative: torch.Tensor) -> float:
    """Exact share of rows whose true score is strictly above the negative's `[K]`."""
    return float((true > negative).double().mean())


def is_interval_metric(name: str) -> bool:
    """Whether `name` (e.g. "val/pitch@4") is one of the per-interval shares `pitch@k` or `pitch_real@k`."""
    return name.rpartition("/")[2] in (*INTERVAL_CHECKS, *REAL_CHECKS)


def interval_metric_names(split: str) -> list[str]:
    """The names of `split`'s per-interval shares, "SPLIT/pitch@1" .. "SPLIT/pitch@11"."""
    return [f"{split}/{check}" for check in INTERVAL_CHECKS]


def interval_weights_from(history: list[dict], split: str) -> list[float] | None:
    """The weights of the intervals 1..MAX_SEMITONES semitones, max(1 - `split`/pitch@k,
    INTERVAL_WEIGHT_FLOOR), from the latest entry of `history` (the trainer's validations, oldest
    first) that has them; None when none has: the intervals a model hears least are drawn most."""
    names = interval_metric_names(split)
    latest = next((h for h in reversed(history) if all(n in h for n in names)), None)
    return None if latest is None else [max(1.0 - float(latest[n]), INTERVAL_WEIGHT_FLOOR) for n in names]


def selection_value(metrics: dict, select_on: str) -> float:
    """The number that picks `best/`: the mean of the '+'-joined metric names of `select_on`
    (e.g. "ood/acc@64+ood/pitch") in `metrics` (values may be strings, as read from val.csv)."""
    return float(np.mean([float(metrics[name]) for name in select_on.split("+")]))


@dataclass
class ValidationSet:
    """Per split: (random pairs, same-song groups); `real`: per split, its re-rendered pitch
    checks (training/real_pitch.py), where built."""

    sets: dict[str, tuple[Batch, Batch]]
    real: dict[str, RealPitchSet] = field(default_factory=dict)

    @classmethod
    def build(cls, root: str, window: int, n_pairs: int, n_groups: int,
              real_pitch_pairs: int = 0) -> "ValidationSet":
        """SPLITS with `n_pairs` random pairs and `n_groups` groups each, and OOD_SPLIT with
        every window (its pairs are also its groups) when the cache has it, with up to
        `real_pitch_pairs` of its pitched pairs re-rendered (`RealPitchSet`; needs FluidSynth and
        notes.json, refused without)."""
        sets = {s: eval_pairs(load_songs(["rendered"], root, s), window, n_pairs, n_groups) for s in SPLITS}
        ood = load_songs(["rendered"], root, OOD_SPLIT)
        real = {}
        if ood:
            pairs = every_window_pairs(ood, window, HARD_GROUP)
            sets[OOD_SPLIT] = (pairs, pairs)
            if real_pitch_pairs:
                built = RealPitchSet.build(pairs, real_pitch_pairs)
                if built is None:
                    raise ValueError(f"real_pitch_pairs={real_pitch_pairs}: no pitched {OOD_SPLIT} pair of {root} has "
                                     "notes.json to re-render (render the cache again with training.render)")
                real[OOD_SPLIT] = built
        elif real_pitch_pairs:
            raise ValueError(f"real_pitch_pairs={real_pitch_pairs}: {root} has no {OOD_SPLIT} split to re-render")
        return cls(sets, real)

    def metric_names(self, config: PhaLarConfig) -> set[str]:
        """The keys `evaluate` returns for a model of `config`."""
        checks = ("noise", "degenerate", *(("pitch", "pitch_1st", "pitch_min", *INTERVAL_CHECKS)
                                             if semitone_bins(config) else ()))
        names = {f"{split}/{name}" for split, (pairs, _) in self.sets.items()
                 for name in (*(f"acc@{k}" for k in KS), f"hard@{HARD_GROUP}", *checks)
                 if not name.startswith("pitch") or pairs.pitched.any()}
        return names | {f"{split}/{name}" for split in self.real for name in (*REAL_SUMMARY, *REAL_CHECKS)}

    def evaluate(self, model: PhaLar) -> dict[str, float]:
        """{"val/acc@K": ..., "val/hard@8": ..., "val/noise": ..., "val/degenerate": ...,
        "val/pitch": ..., "val/pitch_1st": ..., "val/pitch_min": ..., "val/pitch@k": ...,
        "val_timbre/...": ...}: the keys of
        `metric_names` (no pitch checks without `semitone_bins`; `pitch_real` checks where built)."""
        model.eval()
        out = {}
        for split, (pairs, groups) in self.sets.items():
            scores, ex = _embed_and_score(model, pairs)
            pair_scores = scores.cpu().numpy()
            for k, acc in accuracy_at_k(pair_scores, pairs.song, KS).items():
                out[f"{split}/acc@{k}"] = acc
            group_scores = pair_scores if groups is pairs else score_pairs(model, groups)
            out[f"{split}/hard@{HARD_GROUP}"] = hard_accuracy(group_scores, groups.group)
            out.update({f"{split}/{k}": v for k, v in validity_checks(model, pairs, ex, scores.diagonal()).items()})
            if split in self.real:
                real = self.real[split]
                context = ex[torch.as_tensor(real.rows, device=ex.device)]
                out.update({f"{split}/{k}": v for k, v in real.checks(model, context).items()})
        return out
