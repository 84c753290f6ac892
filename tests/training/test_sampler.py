"""The pair sampler: active stems, stem splits, same-song groups, determinism, batch shapes."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from training.sampler import Augment, PairSampler, active_stems, mix, random_eq, song_probabilities, split_stems
from training.sources.base import Song, pad_to

WINDOW = 1600


class ArraySong(Song):
    """An in-memory song that remembers the windows it was asked for."""

    def __init__(self, name: str, stems: np.ndarray) -> None:
        self.name, self.source, self.stems = name, "test", stems.astype(np.float32)
        self.stem_names = [f"s{i}" for i in range(len(stems))]
        self.num_samples = stems.shape[1]
        self.reads: list[int] = []

    def read(self, start: int, length: int) -> np.ndarray:
        self.reads.append(start)
        return pad_to(self.stems[:, start : start + length], length)


def tone_song(name: str, seed: int, seconds: float = 1.0) -> ArraySong:
    """Four tones; stem 2 is silent in the second half, stem 3 in the first half."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    stems = np.stack([0.3 * np.sin(2 * np.pi * rng.uniform(100, 2000) * t + rng.uniform(0, 6)) for _ in range(4)])
    half = len(t) // 2
    stems[2, half:] = 0
    stems[3, :half] = 0
    return ArraySong(name, stems)


def decompose(song: ArraySong, context: np.ndarray, target: np.ndarray) -> tuple[set[int], set[int], set[int]]:
    """(active, target, context) stems of a clean pair: finds the window it came from and the
    subset of stems whose sum is the target."""
    for start in song.reads:
        stems = song.read(start, WINDOW)
        if np.allclose(stems.sum(0), context + target, atol=1e-5):
            active = set(active_stems(stems).tolist())
            for k in range(1, len(stems) + 1):
                for subset in combinations(range(len(stems)), k):
                    if np.allclose(stems[list(subset)].sum(0), target, atol=1e-5):
                        tgt = set(subset) & active
                        return active, tgt, active - tgt
    raise AssertionError("pair not found among the windows read")


def test_active_stems_absolute_and_relative_thresholds() -> None:
    t = np.arange(16000) / 16000
    tone = np.sin(2 * np.pi * 440 * t)  # -3 dBFS RMS
    stems = np.stack([tone, 0.05 * tone, 0.01 * tone, np.zeros_like(t)])  # -3, -29, -43 dB, silence
    assert active_stems(stems).tolist() == [0, 1]  # -43 dB is above -50 but 40 dB under the loudest
    assert active_stems(stems[2:]).tolist() == [0]  # alone, the quiet stem is active


def test_split_stems_leaves_a_non_empty_context() -> None:
    rng = np.random.default_rng(0)
    for n in (2, 3, 5):
        active = np.array([1, 4, 6, 7, 9][:n])
        for _ in range(200):
            target = split_stems(rng, active)
            assert 1 <= len(target) < n and set(target) <= set(active)
            assert list(target) == sorted(set(target))


@pytest.fixture
def songs() -> list[ArraySong]:
    return [tone_song(f"song{i}", i) for i in range(5)]


def test_pairs_are_disjoint_non_silent_splits(songs: list[ArraySong]) -> None:
    batch = PairSampler(songs, WINDOW, hard_fraction=0.5, group_size=4, augment=None).batch(
        np.random.default_rng(1), 16)
    by_name = {s.name: s for s in songs}
    splits: dict[int, list[tuple[set[int], set[int]]]] = {}
    for ctx, tgt, group, name in zip(batch.context, batch.target, batch.group, batch.song):
        active, target, context = decompose(by_name[name], ctx, tgt)
        assert target and context and not target & context  # both sides have an active stem
        splits.setdefault(int(group), []).append((target, context))
    for pairs in splits.values():  # one split per same-song group
        targets = set().union(*(t for t, _ in pairs))
        contexts = set().union(*(c for _, c in pairs))
        assert not targets & contexts


def test_batch_shapes_and_groups(songs: list[ArraySong]) -> None:
    batch = PairSampler(songs, WINDOW, hard_fraction=0.5, group_size=4).batch(np.random.default_rng(2), 16)
    assert batch.context.shape == batch.target.shape == (16, WINDOW)
    assert batch.context.dtype == batch.target.dtype == np.float32
    assert batch.group.shape == batch.song.shape == (16,)
    assert batch.group[:8].tolist() == [0] * 4 + [4] * 4  # two same-song groups of 4 first ...
    assert len(set(batch.song[:4])) == len(set(batch.song[4:8])) == 1
    assert len(set(batch.group[8:])) == 8  # ... then ordinary pairs
    assert len({c.tobytes() for c in batch.context[:4]}) == 4  # different times of the song


def test_deterministic_for_a_seed(songs: list[ArraySong]) -> None:
    sampler = PairSampler(songs, WINDOW)
    a, b, c = (sampler.batch(np.random.default_rng(seed), 8) for seed in (5, 5, 6))
    assert np.array_equal(a.context, b.context) and np.array_equal(a.target, b.target)
    assert np.array_equal(a.song, b.song) and not np.array_equal(a.context, c.context)


def test_unusable_songs_raise() -> None:
    with pytest.raises(ValueError, match="long enough"):
        PairSampler([tone_song("short", 0, seconds=0.05)], WINDOW)
    silent = ArraySong("silent", np.zeros((3, 4000)))
    with pytest.raises(RuntimeError, match="silent"):
        PairSampler([silent], WINDOW).batch(np.random.default_rng(0), 2)


def test_mix_without_gain_or_noise_is_the_sum() -> None:
    stems = np.random.default_rng(0).standard_normal((3, 100)).astype(np.float32)
    out = mix(np.random.default_rng(0), stems, Augment(gain_db=0.0, eq_p=0.0, noise_p=0.0))
    np.testing.assert_allclose(out, stems.sum(0), rtol=1e-6)
    noisy = mix(np.random.default_rng(0), stems, Augment(gain_db=6.0, noise_p=1.0))
    assert noisy.dtype == np.float32 and not np.allclose(noisy, stems.sum(0))


def test_random_eq_changes_the_spectrum_within_its_range_and_keeps_onsets() -> None:
    rng = np.random.default_rng(0)
    x = np.zeros(16000)
    x[8000] = 1.0  # an impulse: its spectrum is flat, so the output's spectrum is the EQ curve
    y = random_eq(rng, x, max_db=9.0)
    gain_db = 20 * np.log10(np.abs(np.fft.rfft(y)) / np.abs(np.fft.rfft(x)))
    assert y.shape == x.shape and np.argmax(np.abs(y)) == 8000  # zero phase: the onset stays
    assert gain_db.max() <= 9.0 + 1e-6 and gain_db.min() >= -9.0 - 1e-6 and np.ptp(gain_db) > 3.0
    np.testing.assert_allclose(random_eq(np.random.default_rng(0), x, 9.0), y)  # a function of the rng
    np.testing.assert_allclose(random_eq(rng, x, 0.0), x, atol=1e-12)  # 0 dB: unchanged


def sourced(name: str, source: str, seed: int) -> ArraySong:
    song = tone_song(name, seed)
    song.source = source
    return song


def test_source_weights_set_each_sources_share_of_the_drawn_songs() -> None:
    songs = [sourced(f"a{i}", "a", i) for i in range(3)] + [sourced("b0", "b", 9)]
    draws = lambda weights: PairSampler(songs, WINDOW, hard_fraction=0.0, augment=None,
                                        source_weights=weights).batch(np.random.default_rng(4), 2000).song
    alike = draws(None)
    assert (alike == draws({})).all()  # {} draws as None does: every song alike
    assert abs((alike == "b0").mean() - 0.25) < 0.03
    halves = draws({"a": 1, "b": 1})
    assert abs((halves == "b0").mean() - 0.5) < 0.03
    assert all(abs((halves == f"a{i}").mean() - 1 / 6) < 0.03 for i in range(3))  # alike within a source
    assert not (draws({"a": 1, "b": 0}) == "b0").any()


@pytest.mark.parametrize(("weights", "match"), [
    ({"a": 1}, r"no weight for the sources \['b'\]"),
    ({"a": 1, "b": 1, "c": 1}, r"sources with no song: \['c'\]"),
    ({"a": 1, "b": -1}, "non-negative numbers with a positive sum"),
    ({"a": 0, "b": 0}, "non-negative numbers with a positive sum"),
    ({"a": "1", "b": 1}, "non-negative numbers with a positive sum"),
    ({"a": True, "b": 1}, "non-negative numbers with a positive sum"),
    ({"a": float("inf"), "b": 1}, "finite non-negative numbers"),
])
def test_source_weights_that_do_not_fit_the_songs_are_value_errors(weights: dict, match: str) -> None:
    songs = [sourced("a0", "a", 0), sourced("b0", "b", 1)]
    with pytest.raises(ValueError, match=match):
        song_probabilities(songs, weights)


def test_without_source_weights_the_songs_are_drawn_as_before_the_option() -> None:
    songs = [tone_song(f"s{i}", i) for i in range(5)]
    batch = PairSampler(songs, WINDOW, hard_fraction=0.5, group_size=2).batch(np.random.default_rng(11), 12)
    # the draws of the sampler of commit 0f036e4 (before source_weights) for this seed
    assert list(batch.song) == ["s0", "s0", "s3", "s3", "s0", "s0", "s0", "s4", "s0", "s1", "s3", "s2"]
