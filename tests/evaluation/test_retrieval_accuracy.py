"""Retrieval accuracy at K and same-song (hard) accuracy on hand-made score matrices."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.retrieval import accuracy_at_k, hard_accuracy


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
