"""Retrieval accuracy at K, its exact expectation and same-song (hard) accuracy on hand-made score matrices."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from training.retrieval_metrics import accuracy_at_k, expected_accuracy_at_k, hard_accuracy, retrieval_metrics


def test_a_dominant_diagonal_always_wins() -> None:
    scores = np.eye(8) + 0.1 * np.random.default_rng(0).random((8, 8))
    assert accuracy_at_k(scores, np.arange(8), ks=(2, 8), trials=200) == {2: 1.0, 8: 1.0}


def test_ties_and_larger_distractors_lose() -> None:
    assert accuracy_at_k(np.ones((4, 4)), np.arange(4), ks=(2, 4), trials=100) == {2: 0.0, 4: 0.0}
    scores = np.eye(4) + 2 * np.roll(np.eye(4), 1, axis=1)  # every row has one distractor above its target
    assert accuracy_at_k(scores, np.arange(4), ks=(4,), trials=100) == {4: 0.0}  # K = N: always drawn


def test_only_other_songs_are_distractors() -> None:
    scores = np.eye(4) + 2 * np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]])
    songs = np.array(["a", "a", "b", "b"])  # each row's only stronger column is from its own song
    assert accuracy_at_k(scores, songs, ks=(2, 3), trials=100) == {2: 1.0, 3: 1.0}


def test_accuracy_is_the_chance_of_missing_the_one_strong_distractor() -> None:
    # row i is beaten by column i+1 only; K = 2 with 3 candidates: a hit half of the time
    scores = np.eye(3) + 2 * np.roll(np.eye(3), 1, axis=1)
    assert accuracy_at_k(scores, np.arange(3), ks=(2,), trials=4000)[2] == pytest.approx(0.5, abs=0.03)


def test_too_few_distractors_raise() -> None:
    with pytest.raises(ValueError, match="K=8 needs 7 distractors"):
        accuracy_at_k(np.eye(4), np.arange(4), ks=(8,))


def test_hard_accuracy_by_hand() -> None:
    scores = np.array([
        [5.0, 1.0, 6.0, 0.0, 0.0, 0.0],  # group 0: row 0 loses to column 2
        [0.0, 4.0, 3.0, 0.0, 0.0, 0.0],  # row 1 wins
        [0.0, 2.0, 2.0, 0.0, 0.0, 0.0],  # row 2 ties: a miss
        [9.0, 9.0, 9.0, 1.0, 0.0, 0.0],  # group 1: other groups do not count; row 3 wins
        [0.0, 0.0, 0.0, 3.0, 2.0, 0.0],  # row 4 loses
        [0.0, 0.0, 0.0, 0.0, 0.0, 1.0],  # group 2 has one pair: left out
    ])
    assert hard_accuracy(scores, np.array([0, 0, 0, 1, 1, 2])) == pytest.approx(2 / 5)
    with pytest.raises(ValueError, match="at least two"):
        hard_accuracy(np.eye(3), np.arange(3))


def test_expected_accuracy_matches_enumeration() -> None:
    """Against an independent count over every possible distractor set (ties lose)."""
    rng = np.random.default_rng(0)
    songs = np.repeat(np.arange(5), 2)
    scores = rng.integers(0, 4, size=(10, 10)).astype(float)  # many ties
    for k in (2, 3, 5):
        per_context = []
        for i in range(10):
            pool = np.flatnonzero(songs != songs[i])
            sets = list(itertools.combinations(pool, k - 1))
            per_context.append(np.mean([scores[i, i] > scores[i, list(s)].max() for s in sets]))
        assert expected_accuracy_at_k(scores, songs, k) == pytest.approx(np.mean(per_context))


def test_expected_accuracy_is_what_the_trials_estimate() -> None:
    rng = np.random.default_rng(1)
    songs = np.repeat(np.arange(40), 2)
    scores = rng.standard_normal((80, 80)) + 1.5 * np.eye(80)
    trials = accuracy_at_k(scores, songs, (2, 16), trials=20000, seed=3)
    for k in (2, 16):
        assert trials[k] == pytest.approx(expected_accuracy_at_k(scores, songs, k), abs=0.015)


def test_expected_accuracy_needs_enough_distractors() -> None:
    with pytest.raises(ValueError, match="K=8 needs 7 distractors"):
        expected_accuracy_at_k(np.eye(4), np.arange(4), 8)


def test_retrieval_metrics_names_the_group_size() -> None:
    pairs, groups = np.eye(6), np.eye(6)
    out = retrieval_metrics(pairs, np.arange(6), groups, np.repeat([0, 1], 3), (2, 4), trials=10, seed=0)
    assert out == {"acc@2": 1.0, "acc@4": 1.0, "hard@3": 1.0}
