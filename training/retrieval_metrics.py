"""Stem retrieval metrics from score matrices: acc@K (one true target among K candidates),
its exact expectation, and same-song ("hard") accuracy. Used by the trainer's validation and
by `python -m evaluation.retrieval`."""

from __future__ import annotations

import numpy as np
from scipy.special import comb


def accuracy_at_k(scores: np.ndarray, songs: np.ndarray, ks: tuple[int, ...] = (2, 8, 16, 64),
                  trials: int = 2000, seed: int = 0) -> dict[int, float]:
    """Retrieval accuracy from a score matrix.

    Args:
        scores: `[N, N]`, `scores[i, j]` = score of context i with target j; pair i's true
            target is j = i.
        songs: `[N]` song ids; distractors come from other songs only.
        ks: candidate-set sizes (the true target plus K-1 distractors).
        trials: seeded random trials per K.
        seed: seed of the trial draw.

    Returns:
        {K: fraction of trials where the true target scores strictly highest}.
    """
    rng = np.random.default_rng(seed)
    n = len(scores)
    out = {}
    for k in ks:
        hits = 0
        for _ in range(trials):
            i = int(rng.integers(n))
            pool = np.flatnonzero(songs != songs[i])
            if len(pool) < k - 1:
                raise ValueError(f"K={k} needs {k - 1} distractors from other songs, only {len(pool)} exist")
            distractors = rng.choice(pool, size=k - 1, replace=False)
            hits += scores[i, i] > scores[i, distractors].max()
        out[k] = hits / trials
    return out


def hard_accuracy(scores: np.ndarray, groups: np.ndarray) -> float:
    """Same-song ("hard") retrieval: within each group (windows of one song, one stem
    split), the fraction of contexts whose own target beats every other window's target."""
    hits, total = 0, 0
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        if len(idx) < 2:
            continue
        block = scores[np.ix_(idx, idx)]
        hits += int(np.sum(np.diag(block) > np.max(block - np.diag(np.full(len(idx), np.inf)), axis=1)))
        total += len(idx)
    if total == 0:
        raise ValueError("hard_accuracy needs groups of at least two pairs")
    return hits / total


def expected_accuracy_at_k(scores: np.ndarray, songs: np.ndarray, k: int) -> float:
    """The exact expectation of `accuracy_at_k` for one K (no trial noise).

    For context i with `n` distractor candidates (other songs) of which `m` score strictly
    below the true target, a uniform draw of K-1 distractors loses nothing with probability
    C(m, K-1) / C(n, K-1); the mean over contexts is what `accuracy_at_k` estimates.

    Args:
        scores: `[N, N]` context i vs target j; the true target of i is j = i.
        songs: `[N]` song ids.
        k: candidate-set size.

    Returns:
        The expected accuracy in [0, 1].
    """
    other = songs[:, None] != songs[None, :]
    n = other.sum(1)
    if n.min() < k - 1:
        raise ValueError(f"K={k} needs {k - 1} distractors from other songs, only {n.min()} exist")
    m = ((scores < np.diag(scores)[:, None]) & other).sum(1)
    return float(np.mean(comb(m, k - 1) / comb(n, k - 1)))


def retrieval_metrics(pair_scores: np.ndarray, songs: np.ndarray, group_scores: np.ndarray, groups: np.ndarray,
                      ks: tuple[int, ...], trials: int, seed: int) -> dict[str, float]:
    """{"acc@K": ..., "hard@G": ...} from the `[N, N]` scores of random pairs (`songs` `[N]`)
    and the `[M, M]` scores of same-song groups of G windows (`groups` `[M]` ids)."""
    out = {f"acc@{k}": v for k, v in accuracy_at_k(pair_scores, songs, ks, trials, seed).items()}
    size = int(np.unique(groups, return_counts=True)[1].max())
    out[f"hard@{size}"] = hard_accuracy(group_scores, groups)
    return out

