"""Harmonic negatives re-rendered from notes (training/rerendered_negatives.py), with `ToneSynth`
in place of FluidSynth, and the trainer's `--rerender_pairs`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from symbolic_data import RATE, ToneSynth, write_symbolic_cache
from tiny_data import TINY_MODEL

from phalar_metric.config import PhaLarConfig
from phalar_metric.embedding import window_scores
from phalar_metric.model import PhaLar
from training import rerendered_negatives, train
from training.negatives import TransposedCQT
from training.rerender import WindowRenderer
from training.rerendered_negatives import RerenderedNegatives
from training.sampler import Augment, PairSampler
from training.sources.rendered import load_rendered

CHORDS, DRUMS = 2, 0  # stems of symbolic_data's songs: drums, bass, chords


@pytest.fixture(scope="module")
def notes_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("notes")
    for split, n in (("train", 4), ("val", 8), ("val_timbre", 8)):  # val: enough songs for acc@64
        write_symbolic_cache(root, ToneSynth(), n_songs=n, split=split)
    return root


def peak_hz(x: np.ndarray) -> float:
    return float(np.fft.rfftfreq(len(x), 1 / RATE)[np.abs(np.fft.rfft(x)).argmax()])


def test_the_target_is_the_cache_again_and_a_copy_is_transposed(notes_root: Path) -> None:
    song = load_rendered(notes_root, "train")[0]
    negatives = RerenderedNegatives(None, WindowRenderer(ToneSynth()))
    target, copies = negatives.target_and_copies(np.random.default_rng(0), song, 2 * RATE, np.array([CHORDS]), RATE,
                                                 [12, -12])
    cached = song.read(2 * RATE, RATE)[CHORDS]
    assert target.shape == (RATE,) and copies.shape == (2, RATE) and copies.dtype == np.float32
    assert np.corrcoef(target, cached)[0, 1] > 0.999 and np.abs(target).max() == pytest.approx(np.abs(cached).max(),
                                                                                                  rel=0.05)
    assert peak_hz(copies[0]) == pytest.approx(2 * peak_hz(target), rel=0.01)
    assert peak_hz(copies[1]) == pytest.approx(peak_hz(target) / 2, rel=0.01)


def test_a_target_and_its_copies_share_one_augmentation_and_drums_stay(notes_root: Path) -> None:
    """With every augmentation on, a copy 'transposed' by 0 is the target itself; drums alone
    do not move at any interval."""
    song = load_rendered(notes_root, "train")[1]
    augment = Augment(eq_p=1.0, reverb_p=1.0, lowpass_p=1.0, saturate_p=1.0, humanise_p=1.0)
    negatives = RerenderedNegatives(augment, WindowRenderer(ToneSynth()))
    target, copies = negatives.target_and_copies(np.random.default_rng(3), song, RATE, np.array([DRUMS, CHORDS]), RATE,
                                                 [0, 5])
    np.testing.assert_array_equal(copies[0], target)
    assert not np.allclose(copies[1], target, atol=1e-3)
    drums, moved = negatives.target_and_copies(np.random.default_rng(3), song, RATE, np.array([DRUMS]), RATE, [5])
    np.testing.assert_allclose(moved[0], drums, atol=1e-6)


def test_apply_replaces_only_pitched_targets_and_names_their_rows(notes_root: Path) -> None:
    sampler = PairSampler(load_rendered(notes_root, "train"), RATE, augment=None)
    batch = sampler.batch(np.random.default_rng(0), 8)
    before = batch.target.copy()
    semitones = np.array([[3, -4], [5, 7], [1, 2]] * 4)
    copies, rows = RerenderedNegatives(None, WindowRenderer(ToneSynth())).apply(np.random.default_rng(1), batch, 12,
                                                                                 semitones)
    pitched = np.flatnonzero(batch.pitched)
    assert sorted(set(rows.tolist())) == pitched.tolist()  # more asked than qualify: all of them
    assert copies.shape == (2 * len(pitched), RATE) and np.bincount(rows, minlength=8)[pitched].tolist() == [2] * len(
        pitched)
    unchanged = np.setdiff1d(np.arange(8), pitched)
    np.testing.assert_array_equal(batch.target[unchanged], before[unchanged])
    for i in pitched:  # re-rendered, close to what the cache summed
        assert np.corrcoef(batch.target[i], before[i])[0, 1] > 0.99


def test_the_step_scores_rerendered_copies_as_extra_columns_made_as_the_targets_are() -> None:
    torch.manual_seed(0)
    model = PhaLar(PhaLarConfig.from_dict(TINY_MODEL)).eval()
    step = train.ContrastiveStep(model)
    b, n = 3, model.config.window_samples
    context, target, copies = (torch.randn(k, n) for k in (b, b, 2))
    negatives = {"pitch_idx": torch.tensor([0]), "pitch_bins": torch.tensor([2]), "tempo_idx": torch.tensor([1]),
                 "tempo_rate": torch.tensor([1.05]), "tempo_anchor": torch.tensor([4]),
                 "degenerate": torch.zeros(2, n), "rerendered": copies, "rerendered_idx": torch.tensor([2, 2])}
    with torch.inference_mode():
        scores, extra = step(context, target, negatives)
        transposer = TransposedCQT(model.config)
        ex = model.embed_spectrogram(model.frontend(context))
        own = window_scores(model, ex[[2, 2]], model.embed_spectrogram(transposer(copies, torch.zeros(2, dtype=torch.long))))
    assert scores.shape == (b, b) and extra.shape == (b, 1 + 1 + 2 + 2)
    torch.testing.assert_close(extra[2, -2:], own, rtol=1e-4, atol=1e-4)


def test_a_run_with_rerendered_pairs_trains_and_a_cache_without_notes_is_refused(
        notes_root: Path, rendered_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synth = ToneSynth()
    monkeypatch.setattr(rerendered_negatives, "WindowRenderer", lambda: WindowRenderer(synth))
    common = ["--max_steps=2", "--batch_size=6", "--group_size=3", "--hard_fraction=0.5", "--warmup_steps=1",
              "--eval_every=100", "--eval_pairs=100", "--eval_groups=1", "--threads=1", "--rerender_pairs=2",
              "--pitch_pair_weight=0.3", "--select_on=val/acc@64", f"--model={TINY_MODEL!r}"]
    train.main([f"--data={notes_root}", f"--out_dir={tmp_path / 'run'}", *common])
    assert torch.load(tmp_path / "run" / "ckpt.pt", weights_only=False)["step"] == 2
    assert len(synth.calls) >= 2 * 2 * 3  # 2 steps x 2 pairs x (the target and 2 copies), per stem
    with pytest.raises(ValueError, match="notes.json"):
        train.main([f"--data={rendered_root}", f"--out_dir={tmp_path / 'no_notes'}", *common])
