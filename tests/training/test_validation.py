"""Fixed validation sets and their metrics on the tiny render cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from phalar_metric.config import PhaLarConfig
from phalar_metric.model import PhaLar
from tiny_data import TINY_MODEL
from training.sources import load_songs
from training.validation import (HARD_GROUP, KS, OOD_SPLIT, SPLITS, ValidationSet, eval_pairs, selection_value,
                                 validity_checks)


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
    expected |= {f"{s}/{check}" for s in splits for check in ("pitch", "noise")}  # the fixture has pitched stems
    assert set(metrics) == expected and all(0.0 <= v <= 1.0 for v in metrics.values())
    assert not model.training  # evaluated in eval mode


def test_selection_value_is_the_mean_of_the_named_metrics() -> None:
    row = {"ood/acc@64": "0.6", "ood/pitch": 0.4, "ood/noise": 0.8, "val/acc@64": 0.9}
    assert selection_value(row, "ood/acc@64") == pytest.approx(0.6)
    assert selection_value(row, "ood/acc@64+ood/pitch+ood/noise") == pytest.approx(0.6)
    with pytest.raises(KeyError):
        selection_value(row, "ood/acc@64+ood/hard@8")


def test_validity_checks_need_a_cqt_for_pitch(rendered_root: Path) -> None:
    """A Mel front-end has no semitone shift: only `noise`; a CQT model gets both, in [0, 1]."""
    pairs, _ = eval_pairs(load_songs(["rendered"], str(rendered_root), "val"), 16000, 12, 1)
    assert pairs.pitched.any()
    for frontend, keys in (("cqt", {"noise", "pitch"}), ("mel", {"noise"})):
        torch.manual_seed(0)
        model = PhaLar(PhaLarConfig(**{**TINY_MODEL, "frontend": frontend})).eval()
        with torch.inference_mode():
            ex, ey = (model.embed(torch.from_numpy(w)) for w in (pairs.context, pairs.target))
            checks = validity_checks(model, pairs, ex, model.score(ex, ey))
        assert set(checks) == keys and all(0.0 <= v <= 1.0 for v in checks.values())
