"""Fixed validation sets and their metrics on the tiny render cache."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from phalar_metric.config import PhaLarConfig
from phalar_metric.model import PhaLar
from tiny_data import TINY_MODEL
from training.sources import load_songs
from training.negatives import TransposedCQT, click_train, draw_transpositions, pink_noise, semitone_bins
from training.sampler import Batch
from training.validation import (HARD_GROUP, INTERVAL_CHECKS, INTERVAL_WEIGHT_FLOOR, KS, OOD_SPLIT, SPLITS,
                                 ValidationSet, eval_pairs, interval_weights_from, is_interval_metric,
                                 selection_value, validity_checks)


def test_eval_pairs_are_fixed_and_clean(rendered_root: Path) -> None:
    songs = load_songs(["rendered"], str(rendered_root), "val")
    (pairs, groups), (pairs2, _) = (eval_pairs(songs, 16000, 12, 2) for _ in range(2))
    assert np.array_equal(pairs.context, pairs2.context) and np.array_equal(pairs.target, pairs2.target)
    assert pairs.context.shape == (12, 16000) and groups.context.shape == (2 * HARD_GROUP, 16000)
    assert np.bincount(groups.group).max() == HARD_GROUP and len(set(groups.song[:HARD_GROUP])) == 1


def test_evaluate_reports_every_split_and_k(rendered_root: Path) -> None:
    torch.manual_seed(0)
    model = PhaLar(PhaLarConfig(**TINY_MODEL)).train()
    metrics = ValidationSet.build(str(rendered_root), 16000, n_pairs=100, n_groups=1).evaluate(model)
    splits = (*SPLITS, OOD_SPLIT)  # the fixture's cache has the ood split too (every window)
    expected = {f"{s}/acc@{k}" for s in splits for k in KS} | {f"{s}/hard@{HARD_GROUP}" for s in splits}
    checks = ("pitch", "pitch_1st", "pitch_min", "noise", "degenerate", *(f"pitch@{k}" for k in range(1, 12)))
    expected |= {f"{s}/{check}" for s in splits for check in checks}
    assert set(metrics) == expected and all(0.0 <= v <= 1.0 for v in metrics.values())
    assert not model.training  # evaluated in eval mode


def test_selection_value_is_the_mean_of_the_named_metrics() -> None:
    row = {"ood/acc@64": "0.6", "ood/pitch": 0.3, "ood/noise": 0.9, "val/acc@64": 0.9}
    assert selection_value(row, "ood/acc@64") == pytest.approx(0.6)
    assert selection_value(row, "ood/pitch+ood/noise") == pytest.approx(0.6)
    assert selection_value(row, "ood/acc@64+ood/pitch") == pytest.approx(0.45)
    with pytest.raises(KeyError):
        selection_value(row, "ood/acc@64+ood/hard@8")


@pytest.fixture(scope="module")
def val_pairs(rendered_root: Path) -> Batch:
    """Twelve `val` pairs, every third marked unpitched (the fixture's stems are all tones), so
    that `pitch` has to pick its pairs."""
    pairs, _ = eval_pairs(load_songs(["rendered"], str(rendered_root), "val"), 16000, 12, 1)
    pitched = pairs.pitched.copy()
    pitched[::3] = False
    return dataclasses.replace(pairs, pitched=pitched)


def _checks(model: PhaLar, pairs: Batch, seed: int = 4321) -> dict[str, float]:
    with torch.inference_mode():
        model_mode = model.training
        model.eval()
        ex, ey = (model.embed(torch.from_numpy(w)) for w in (pairs.context, pairs.target))
        model.train(model_mode)
        return validity_checks(model, pairs, ex, model.score(ex, ey).diagonal(), seed=seed)


def test_validity_checks_match_a_direct_computation(val_pairs: Batch) -> None:
    """`noise` is the share of pairs whose true score beats unit white noise, `pitch` the share
    of pitched pairs whose target beats itself transposed (both through `TransposedCQT`),
    recomputed here clip by clip; equal in train and eval mode."""
    torch.manual_seed(0)
    model = PhaLar(PhaLarConfig(**TINY_MODEL)).eval()
    checks = _checks(model, val_pairs)
    rng = np.random.default_rng(4321)
    noise = rng.standard_normal(val_pairs.target.shape).astype(np.float32)
    idx = np.flatnonzero(val_pairs.pitched)
    bins = torch.as_tensor(draw_transpositions(rng, idx.size, semitone_bins(model.config)))
    semitone = torch.as_tensor(rng.choice([-1, 1], size=idx.size) * semitone_bins(model.config))
    with torch.inference_mode():
        ex = model.embed(torch.from_numpy(val_pairs.context))
        true = [model.score(ex[i : i + 1], model.embed(torch.from_numpy(val_pairs.target[i : i + 1])))[0, 0]
                for i in range(len(ex))]
        noise_wins = [true[i] > model.score(ex[i : i + 1], model.embed(torch.from_numpy(noise[i : i + 1])))[0, 0]
                      for i in range(len(ex))]
        transposer = TransposedCQT(model.config)
        own = [model.embed_spectrogram(transposer(torch.from_numpy(val_pairs.target[i : i + 1]), torch.zeros(1, dtype=torch.long)))
               for i in idx]
        wins = {}
        for name, shifts in (("pitch", bins), ("pitch_1st", semitone)):
            shifted = [model.embed_spectrogram(transposer(torch.from_numpy(val_pairs.target[i : i + 1]), shifts[j : j + 1]))
                       for j, i in enumerate(idx)]
            wins[name] = [model.score(ex[i : i + 1], own[j])[0, 0] > model.score(ex[i : i + 1], shifted[j])[0, 0]
                          for j, i in enumerate(idx)]
    assert checks["noise"] == pytest.approx(float(np.mean(noise_wins)))
    assert checks["pitch"] == pytest.approx(float(np.mean(wins["pitch"])))
    assert checks["pitch_1st"] == pytest.approx(float(np.mean(wins["pitch_1st"])))
    assert _checks(model.train(), val_pairs) == checks and model.training  # eval inside, mode restored


def test_degenerate_is_the_share_of_true_pairs_above_silence_pink_noise_and_clicks(val_pairs: Batch) -> None:
    """Recomputed clip by clip from the same draws (seed + 1: the noise and pitch checks keep
    theirs), silence at 0 as the library's gate scores it; true pairs all below 0 give 0."""
    torch.manual_seed(0)
    model = PhaLar(PhaLarConfig(**TINY_MODEL)).eval()
    checks = _checks(model, val_pairs)
    rng = np.random.default_rng(4321 + 1)
    n, rate = model.config.window_samples, model.config.sample_rate
    pink = [pink_noise(rng, n) for _ in range(len(val_pairs.target))]
    clicks = [click_train(rng, n, rate) for _ in range(len(val_pairs.target))]
    clip = lambda x: torch.from_numpy(np.asarray(x, np.float32)[None])
    with torch.inference_mode():
        wins = []
        for i in range(len(val_pairs.target)):
            ex = model.embed(clip(val_pairs.context[i]))
            score = lambda y: float(model.score(ex, model.embed(clip(y)))[0, 0])
            wins.append(score(val_pairs.target[i]) > max(0.0, score(pink[i]), score(clicks[i])))  # gated silence: 0
    assert checks["degenerate"] == pytest.approx(float(np.mean(wins)))
    with torch.inference_mode():
        ex = model.embed(torch.from_numpy(val_pairs.context))
    below = validity_checks(model, val_pairs, ex, torch.full((len(ex),), -1e6))
    assert below["degenerate"] == 0.0 and below["noise"] == 0.0


def test_pitch_min_is_the_lowest_share_over_every_interval(val_pairs: Batch,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """With every pitched pair in the draw, `pitch@k` is the share of pairs whose target beats
    itself transposed by k semitones (either sign per pair: both are recomputed here and the
    share must lie between their extremes) and `pitch_min` the lowest of the eleven."""
    torch.manual_seed(0)
    model = PhaLar(PhaLarConfig(**TINY_MODEL)).eval()
    checks = _checks(model, val_pairs)
    idx = np.flatnonzero(val_pairs.pitched)
    transposer = TransposedCQT(model.config)
    with torch.inference_mode():
        ex = model.embed(torch.from_numpy(val_pairs.context[idx]))
        target = torch.from_numpy(val_pairs.target[idx])
        embed = lambda shift: model.embed_spectrogram(transposer(target, torch.full((idx.size,), shift)))
        own = model.score(ex, embed(0)).diagonal()
        wins = {k: (own > model.score(ex, embed(k)).diagonal()).double() for k in range(-11, 12) if k}
    per_interval_lo = [float(torch.minimum(wins[k], wins[-k]).mean()) for k in range(1, 12)]
    per_interval_hi = [float(torch.maximum(wins[k], wins[-k]).mean()) for k in range(1, 12)]
    for k, lo, hi in zip(range(1, 12), per_interval_lo, per_interval_hi):
        assert lo - 1e-9 <= checks[f"pitch@{k}"] <= hi + 1e-9, k
    assert checks["pitch_min"] == min(checks[f"pitch@{k}"] for k in range(1, 12))
    assert min(per_interval_lo) - 1e-9 <= checks["pitch_min"] <= min(per_interval_hi) + 1e-9
    monkeypatch.setattr("training.validation.PITCH_MIN_PAIRS", 2)  # a draw of two pairs: shares in halves
    assert _checks(model, val_pairs)["pitch_min"] in (0.0, 0.5, 1.0)


def test_pitch_needs_pitched_pairs_and_a_semitone_cqt(val_pairs: Batch) -> None:
    unpitched = dataclasses.replace(val_pairs, pitched=np.zeros_like(val_pairs.pitched))
    always = {"noise", "degenerate"}
    for overrides, pairs, keys in (({}, unpitched, always), ({"frontend": "mel"}, val_pairs, always),
                                   ({"bins_per_octave": 18, "n_bins": 54}, val_pairs, always),
                                   ({"bins_per_octave": 24, "n_bins": 72}, val_pairs,
                                    always | {"pitch", "pitch_1st", "pitch_min", *INTERVAL_CHECKS})):
        torch.manual_seed(0)
        model = PhaLar(PhaLarConfig(**{**TINY_MODEL, **overrides})).eval()
        assert set(_checks(model, pairs)) == keys, overrides


def test_metric_names_are_the_keys_of_evaluate(rendered_root: Path) -> None:
    validation = ValidationSet.build(str(rendered_root), 16000, n_pairs=100, n_groups=1)
    for overrides in ({}, {"frontend": "mel"}):
        torch.manual_seed(0)
        model = PhaLar(PhaLarConfig(**{**TINY_MODEL, **overrides}))
        assert set(validation.evaluate(model)) == validation.metric_names(model.config)


def test_interval_metrics_are_the_eleven_per_interval_shares() -> None:
    assert [k for k in ("val/pitch@1", "ood/pitch@11", "val/pitch_min", "val/pitch", "pitch@4") if is_interval_metric(k)] \
        == ["val/pitch@1", "ood/pitch@11", "pitch@4"]
    assert not is_interval_metric("val/pitch@12") and not is_interval_metric("val/acc@64")


def test_interval_weights_come_from_the_latest_validation_of_the_split() -> None:
    """One minus the latest `pitch@k` of the split, floored; entries without them are skipped,
    and a history without any gives None."""
    shares = lambda split, values: {f"{split}/pitch@{k}": v for k, v in zip(range(1, 12), values)}
    old = {"step": 0, **shares("val", [0.5] * 11)}
    new = {"step": 100, **shares("val", [0.9, 0.8, 0.7, 0.6, 1.0, 0.99, 0.5, 0.4, 0.3, 0.2, 0.1]),
           **shares("ood", [0.0] * 11)}
    assert interval_weights_from([old, new, {"step": 200, "val/pitch_min": 0.3}], "val") == pytest.approx(
        [0.1, 0.2, 0.3, 0.4, INTERVAL_WEIGHT_FLOOR, INTERVAL_WEIGHT_FLOOR, 0.5, 0.6, 0.7, 0.8, 0.9])
    assert interval_weights_from([old], "val") == pytest.approx([0.5] * 11)
    assert interval_weights_from([new], "ood") == pytest.approx([1.0] * 11)
    assert interval_weights_from([old, new], "val_timbre") is None and interval_weights_from([], "val") is None
