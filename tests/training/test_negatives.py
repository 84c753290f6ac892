"""The extra negatives: transposition from a widened CQT, spectrogram stretch, degenerate clips, their place in
the training forward and the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from phalar_metric.config import tiny_config
from phalar_metric.frontend import Frontend
from phalar_metric.model import PhaLar
from training.loss import info_nce
from training.negatives import (DEGENERATE_KINDS, MAX_SEMITONES, PAIR_SEMITONES, TransposedCQT, click_train,
                                degenerate_clips, degenerate_kinds, draw_pair_shifts, draw_stretches,
                                draw_transpositions, offset_clips, pink_noise, stretch_spec)
from training.train import ContrastiveStep

RATE = 16000


def _tone(freq: float, seconds: float = 1.0) -> torch.Tensor:
    t = torch.arange(int(RATE * seconds)) / RATE
    return torch.sin(2 * torch.pi * freq * t)


def test_transposed_cqt_moves_a_tone_by_its_bins_with_real_content_at_the_edges() -> None:
    config = tiny_config()  # 36 bins from C1, one a semitone
    transposer = TransposedCQT(config)
    tone = _tone(config.fmin * 2 ** (20 / 12))  # bin 20
    out = transposer(tone.expand(3, -1), torch.tensor([0, 3, -7]))
    assert out.mean(-1).argmax(1).tolist() == [20, 23, 13]
    noise = torch.from_numpy(np.random.default_rng(0).standard_normal((2, RATE)).astype(np.float32))
    shifted = transposer(noise, torch.tensor([MAX_SEMITONES, -MAX_SEMITONES]))
    # a zero-filled shift would leave 11 bins at the floor; here the noise is heard in every bin
    assert shifted[:, :, 5:-5].mean(-1).min() > 0.5


def test_transposed_cqt_unshifted_is_close_to_the_frontend() -> None:
    """Shift 0 gives the front-end's spectrogram up to the multi-rate CQT's other octave split:
    the loud bins agree closely, the leakage far below the peak less."""
    config = tiny_config()
    music = _tone(config.fmin * 2 ** (26 / 12)) + 0.5 * _tone(config.fmin * 2 ** (30 / 12))
    wide = TransposedCQT(config)(music[None], torch.zeros(1, dtype=torch.long))[0]
    narrow = Frontend(config)(music[None])[0]
    assert wide.shape == narrow.shape
    loud = narrow > 0.8
    assert loud.any() and (wide - narrow)[loud].abs().max() < 0.05  # 4 dB, at the clip edges
    assert (wide - narrow).abs().mean() < 0.05


def test_transposed_cqt_rejects_what_it_cannot_do() -> None:
    with pytest.raises(ValueError, match="multiple of 12"):
        TransposedCQT(tiny_config(frontend="mel"))
    with pytest.raises(ValueError, match="Nyquist"):
        TransposedCQT(tiny_config(n_bins=84, fmin=65.4))
    with pytest.raises(ValueError, match="at most 11"):
        TransposedCQT(tiny_config())(_tone(440.0)[None], torch.tensor([12]))


def test_stretch_identity_and_rate() -> None:
    spec = torch.rand(3, 6, 40)
    same = stretch_spec(spec, torch.ones(3), torch.tensor([0, 10, 39]))
    assert torch.allclose(same, spec)
    ramp = torch.arange(40.0).expand(1, 2, 40)
    fast = stretch_spec(ramp, torch.tensor([1.05]), torch.tensor([20]))
    t = torch.arange(40.0)
    expected = 20 + (t - 20) * 1.05
    inside = (expected >= 0) & (expected <= 39)
    assert torch.allclose(fast[0, 0, inside], expected[inside], atol=1e-4)
    assert fast[0, 0, 0] == 0 and fast[0, 0, -1] < expected[-1]  # read outside the clip: faded to the floor


def test_draws_are_in_range_and_seeded() -> None:
    bins = draw_transpositions(np.random.default_rng(0), 1000)
    assert set(np.abs(bins)) == set(range(1, 12))
    assert np.array_equal(bins, draw_transpositions(np.random.default_rng(0), 1000))
    rate, anchor = draw_stretches(np.random.default_rng(1), 500, 313)
    dev = np.abs(rate - 1)
    assert dev.min() >= 0.03 and dev.max() <= 0.08 and (rate > 1).any() and (rate < 1).any()
    assert anchor.min() >= 0 and anchor.max() < 313


def test_degenerate_clips_cover_every_kind_at_their_levels() -> None:
    clips = degenerate_clips(np.random.default_rng(3), 2 * len(DEGENERATE_KINDS), RATE, RATE)
    assert clips.shape == (10, RATE) and clips.dtype == np.float32
    rms_db = 10 * np.log10(np.mean(clips.astype(np.float64) ** 2, axis=1) + 1e-30)
    assert (rms_db < -250).sum() == 2  # digital silence, twice
    assert ((rms_db > -91) & (rms_db < -49)).sum() == 2  # quiet noise
    assert np.abs(clips).max() <= 1.0
    assert abs(np.sqrt(np.mean(pink_noise(np.random.default_rng(0), 4096) ** 2)) - 1) < 1e-6
    clicks = click_train(np.random.default_rng(0), 4 * RATE, RATE)
    assert np.count_nonzero(np.abs(clicks) > 0.05) < 0.05 * clicks.size  # sparse bursts


def test_default_degenerate_kinds_draw_as_before_and_tone_clicks_are_opt_in() -> None:
    clips = degenerate_clips(np.random.default_rng(5), 6, RATE, RATE)
    rms = np.sqrt(np.mean(clips.astype(np.float64) ** 2, axis=1))
    # the draws of the trainer before `kinds` existed (commit c17c7c2), which old runs' resumes replay
    before = [0.03383125, 0.00747163, 0.0, 0.00068357, 0.2687932, 0.26183915]
    np.testing.assert_allclose(rms, before, rtol=1e-5, atol=1e-8)
    tones = degenerate_clips(np.random.default_rng(5), 4, 4 * RATE, RATE, "tone_clicks")
    rms_db = 10 * np.log10(np.mean(tones.astype(np.float64) ** 2, axis=1))
    assert np.all((rms_db > -40.01) & (rms_db < -9.99))
    for clip in tones:  # pitched bursts: most energy within an octave of the spectral peak
        power = np.abs(np.fft.rfft(clip.astype(np.float64))) ** 2
        peak = int(np.argmax(power))
        assert power[peak // 2 : 2 * peak + 1].sum() > 0.75 * power.sum()
        assert np.count_nonzero(np.abs(clip) > 0.01 * np.abs(clip).max()) < 0.5 * clip.size  # bursts, gaps between
    mixed = degenerate_clips(np.random.default_rng(0), 6, 2 * RATE, RATE, "silence,tone_clicks")
    silent = np.abs(mixed).max(axis=1) == 0
    assert np.array_equal(silent, (np.arange(6) % 2 == 0) == silent[0])  # the two kinds alternate
    with pytest.raises(ValueError, match=r"unknown degenerate kinds \['tone_click'\]"):
        degenerate_kinds("silence,tone_click")


def test_extra_columns_are_negatives_only() -> None:
    scores = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    extra = torch.randn(4, 3, generator=torch.Generator().manual_seed(1), requires_grad=True)
    loss = info_nce(scores, 0.0, extra)
    loss.backward()
    assert torch.all(extra.grad > 0)  # raising a negative's score always raises the loss
    assert info_nce(scores, 0.0, extra.detach() - 1e4) == info_nce(scores)  # a negative far below costs nothing
    rows = torch.nn.functional.cross_entropy(torch.cat([scores, extra.detach()], 1), torch.arange(4))
    cols = torch.nn.functional.cross_entropy(scores.T, torch.arange(4))
    assert torch.isclose(info_nce(scores, 0.0, extra.detach()), (rows + cols) / 2)


def test_contrastive_step_reads_targets_and_their_transpositions_from_one_widened_cqt() -> None:
    """With harmonic negatives the targets, own and transposed, come from `TransposedCQT`; the
    contexts and, without them, the targets from the model's front-end."""
    torch.manual_seed(0)
    model = PhaLar(tiny_config()).eval()
    rng = np.random.default_rng(0)
    context, target = (torch.from_numpy(rng.standard_normal((3, RATE)).astype(np.float32)) for _ in range(2))
    none = torch.zeros(0, dtype=torch.long)
    negatives = {"pitch_idx": torch.tensor([0, 2]), "pitch_bins": torch.tensor([3, -5]), "tempo_idx": none,
                 "tempo_rate": torch.zeros(0), "tempo_anchor": none, "degenerate": torch.zeros(0, RATE)}
    step = ContrastiveStep(model)
    with torch.no_grad():
        scores, extra = step(context, target, negatives)
        ex = model.embed_spectrogram(model.frontend(context))
        own = model.embed_spectrogram(step.transposer(target, torch.zeros(3, dtype=torch.long)))
        shifted = model.embed_spectrogram(step.transposer(target[[0, 2]], torch.tensor([3, -5])))
        assert torch.allclose(scores, model.score(ex, own), atol=1e-4)
        assert torch.allclose(extra, model.score(ex, shifted), atol=1e-4)
        plain = ContrastiveStep(model, harmonic=False)
        assert plain.transposer is None
        scores, _ = plain(context, target, {**negatives, "pitch_idx": none, "pitch_bins": none})
        assert torch.allclose(scores, model.score(ex, model.embed_spectrogram(model.frontend(target))), atol=1e-4)


def test_contrastive_step_returns_the_harmony_blocks_share_of_every_score_on_request() -> None:
    """`harmony_scores`: a third output, the harmony block's scores of the contexts against the
    targets and then the negatives, in the order of the first two outputs."""
    torch.manual_seed(0)
    model = PhaLar(tiny_config(harmony_dim=4)).eval()
    with torch.no_grad():
        model.similarity.harmony_weight.copy_(torch.randn(4, 4))
    rng = np.random.default_rng(2)
    context, target = (torch.from_numpy(rng.standard_normal((3, RATE)).astype(np.float32)) for _ in range(2))
    none = torch.zeros(0, dtype=torch.long)
    negatives = {"pitch_idx": torch.tensor([1]), "pitch_bins": torch.tensor([2]), "tempo_idx": none,
                 "tempo_rate": torch.zeros(0), "tempo_anchor": none, "degenerate": torch.zeros(2, RATE)}
    with torch.no_grad():
        scores, extra = ContrastiveStep(model)(context, target, negatives)
        again, extra_again, harmony = ContrastiveStep(model, harmony_scores=True)(context, target, negatives)
        assert torch.equal(scores, again) and torch.equal(extra, extra_again)
        assert harmony.shape == (3, 3 + 1 + 2)
        step = ContrastiveStep(model)
        ex = model.embed_spectrogram(model.frontend(context))
        ey = model.embed_spectrogram(torch.cat([step.transposer(target, torch.zeros(3, dtype=torch.long)),
                                                step.transposer(target[[1]], torch.tensor([2])),
                                                model.frontend(torch.zeros(2, RATE))]))
        assert torch.allclose(harmony, model.similarity.harmony(ex, ey), atol=1e-4)
        timing_only = torch.cat([ex[:, :16], torch.zeros_like(ex[:, 16:])], dim=1)
        assert torch.allclose(torch.cat([scores, extra], 1) - harmony, model.score(timing_only, ey), atol=1e-3)


def test_small_p_draws_small_intervals_and_zero_keeps_the_old_draws() -> None:
    rng = np.random.default_rng(0)
    legacy = rng.integers(1, 12, size=500) * rng.choice([-1, 1], size=500)  # the draws before `small_p`
    assert np.array_equal(draw_transpositions(np.random.default_rng(0), 500, 1, 0.0), legacy)
    small = draw_transpositions(np.random.default_rng(1), 4000, 2, small_p=0.5)
    assert set(np.abs(small)) == set(range(2, 24, 2)) and (small > 0).any() and (small < 0).any()
    share = np.mean(np.abs(small) <= 4)  # ±1-2 semitones: 0.5 + 0.5 * 2/11 expected
    assert abs(share - (0.5 + 0.5 * 2 / 11)) < 0.03
    assert set(np.abs(draw_transpositions(np.random.default_rng(2), 200, 1, 1.0))) == {1, 2}
    with pytest.raises(ValueError, match="small_p"):
        draw_transpositions(np.random.default_rng(0), 3, 1, 1.5)


def test_contrastive_step_moves_a_shifted_pair_whole() -> None:
    """With `pair_bins` the contexts, too, come from the widened CQT, each shifted with its
    target; a transposed target is shifted by its pair's bins plus its own."""
    torch.manual_seed(0)
    model = PhaLar(tiny_config()).eval()
    rng = np.random.default_rng(1)
    context, target = (torch.from_numpy(rng.standard_normal((3, RATE)).astype(np.float32)) for _ in range(2))
    none = torch.zeros(0, dtype=torch.long)
    pair = torch.tensor([2, 0, -3])
    negatives = {"pitch_idx": torch.tensor([0, 2]), "pitch_bins": torch.tensor([4, 5]), "tempo_idx": none,
                 "tempo_rate": torch.zeros(0), "tempo_anchor": none, "degenerate": torch.zeros(1, RATE),
                 "pair_bins": pair}
    step = ContrastiveStep(model)
    with torch.no_grad():
        scores, extra = step(context, target, negatives)
        ex = model.embed_spectrogram(step.transposer(context, pair))
        own = model.embed_spectrogram(step.transposer(target, pair))
        shifted = model.embed_spectrogram(step.transposer(target[[0, 2]], torch.tensor([6, 2])))
        silence = model.embed_spectrogram(model.frontend(torch.zeros(1, RATE)))
        assert torch.allclose(scores, model.score(ex, own), atol=1e-4)
        assert torch.allclose(extra, model.score(ex, torch.cat([shifted, silence])), atol=1e-4)


def test_pair_shifts_are_in_range_and_keep_each_negative_within_reach() -> None:
    """A share p of the pairs move by ±1..PAIR_SEMITONES semitones; a transposed target whose
    total shift would pass MAX_SEMITONES flips its interval's sign (the interval is kept)."""
    idx = np.repeat(np.arange(400), 2)
    bins = draw_transpositions(np.random.default_rng(0), len(idx), 2)
    shift, flipped = draw_pair_shifts(np.random.default_rng(1), 400, 0.5, idx, bins, 2)
    assert set(np.abs(shift[shift != 0])) == set(range(2, 2 * PAIR_SEMITONES + 1, 2))
    assert abs(np.mean(shift != 0) - 0.5) < 0.08
    assert np.array_equal(np.abs(flipped), np.abs(bins)) and (flipped != bins).any()
    assert np.abs(shift[idx] + flipped).max() <= 2 * MAX_SEMITONES
    assert not draw_pair_shifts(np.random.default_rng(1), 400, 0.0, idx, bins, 2)[0].any()


def test_interval_weights_draw_intervals_in_proportion_and_empty_keeps_the_old_draws() -> None:
    assert np.array_equal(draw_transpositions(np.random.default_rng(0), 300, 1, 0.0, []),
                          draw_transpositions(np.random.default_rng(0), 300, 1, 0.0))
    weights = [0.0] * MAX_SEMITONES
    weights[3], weights[7] = 3.0, 1.0  # ±4 three times as often as ±8, nothing else
    bins = draw_transpositions(np.random.default_rng(3), 4000, 2, weights=weights)
    assert set(np.abs(bins)) == {8, 16} and (bins > 0).any() and (bins < 0).any()
    assert abs(np.mean(np.abs(bins) == 8) - 0.75) < 0.03
    for bad in ([1.0] * 10, [-1.0] + [1.0] * 10, [0.0] * 11):
        with pytest.raises(ValueError, match="weights"):
            draw_transpositions(np.random.default_rng(0), 3, 1, weights=bad)


def test_offset_clips_move_each_target_by_50_to_600_ms_with_silence_in_the_gap() -> None:
    rng = np.random.default_rng(0)
    targets = rng.uniform(0.1, 1.0, size=(6, RATE)).astype(np.float32)  # no zeros: the gap is where the zeros are
    clips, rows = offset_clips(np.random.default_rng(3), targets, 5, RATE)
    assert clips.shape == (5, RATE) and clips.dtype == np.float32 and len(set(rows)) == 5
    lags = []
    for clip, row in zip(clips, rows):
        silent = int(np.sum(clip == 0))
        lag = silent if clip[0] == 0 else -silent  # later: silence first; earlier: silence last
        assert 0.05 * RATE - 1 <= silent <= 0.6 * RATE
        moved = clip[lag:] if lag > 0 else clip[:lag]
        kept = targets[row, :-lag] if lag > 0 else targets[row, -lag:]
        np.testing.assert_array_equal(moved, kept)
        lags.append(lag)
    assert min(lags) < 0 < max(lags)
    unmoved, rows0 = offset_clips(np.random.default_rng(3), targets, 2, RATE, lo=0.0, hi=1e-5)  # lag 0
    np.testing.assert_array_equal(unmoved, targets[rows0])
    again, rows_again = offset_clips(np.random.default_rng(3), targets, 5, RATE)
    np.testing.assert_array_equal(again, clips)
    np.testing.assert_array_equal(rows_again, rows)


def test_contrastive_step_scores_moved_targets_last_made_as_the_targets_are() -> None:
    """The moved targets close the extra columns, after the re-rendered ones, their spectrograms
    made as their pairs' targets (a copy of a target unmoved scores as the target itself)."""
    torch.manual_seed(0)
    model = PhaLar(tiny_config()).eval()
    rng = np.random.default_rng(2)
    context, target = (torch.from_numpy(rng.standard_normal((3, RATE)).astype(np.float32)) for _ in range(2))
    none = torch.zeros(0, dtype=torch.long)
    negatives = {"pitch_idx": torch.tensor([1]), "pitch_bins": torch.tensor([2]), "tempo_idx": none,
                 "tempo_rate": torch.zeros(0), "tempo_anchor": none, "degenerate": torch.zeros(1, RATE),
                 "rerendered": target[[0]], "rerendered_idx": torch.tensor([0]),
                 "offset": target[[2, 1]], "offset_idx": torch.tensor([2, 1])}
    pair = {"pair_bins": torch.tensor([2, 0, -3])}  # each copy cropped at its own pair's shift
    for harmonic, moves in ((True, {}), (True, pair), (False, {})):
        with torch.no_grad():
            scores, extra = ContrastiveStep(model, harmonic=harmonic)(context, target, {**negatives, **moves})
        assert extra.shape == (3, (1 if harmonic else 0) + 1 + 1 + 2)
        torch.testing.assert_close(extra[:, -3:], scores[:, [0, 2, 1]], rtol=1e-4, atol=1e-4)
