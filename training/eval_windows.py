"""Every-window evaluation pairs, for small held-out splits (e.g. `ood`: few songs, so use all)."""

from __future__ import annotations

import numpy as np

from .sampler import Batch, PairSampler, active_stems, has_pitched_stem, split_stems
from .sources import Song


def every_window_pairs(songs: list[Song], window: int, group_size: int = 8, seed: int = 1234) -> Batch:
    """Clean pairs from every non-overlapping window of every song (from sample 0; the tail
    shorter than a window is left out). Consecutive windows are taken `group_size` at a time
    with one stem split drawn per group (from the stems active in its first usable window);
    a window is kept when that split leaves an active target and an active context. `group`
    ids the groups, so `hard_accuracy` gives hard@group_size on the same pairs; `windows` says
    where each pair was cut."""
    rng = np.random.default_rng(seed)
    clean = PairSampler(songs, window, augment=None)
    contexts, targets, groups, names, pitched, windows = [], [], [], [], [], []
    n_groups = 0
    for song in clean.songs:
        starts = range(0, song.num_samples - window + 1, window)
        for chunk in (starts[i : i + group_size] for i in range(0, len(starts), group_size)):
            target = None
            for start in chunk:
                stems = song.read(start, window)
                active = active_stems(stems)
                if target is None and len(active) >= 2:
                    target = split_stems(rng, active)
                if target is None or not np.isin(target, active).any() or not np.setdiff1d(active, target).size:
                    continue
                context, tgt = clean.pair(rng, song, stems, target)
                contexts.append(context)
                targets.append(tgt)
                groups.append(n_groups)
                names.append(song.name)
                pitched.append(has_pitched_stem(song, target))
                windows.append((song, start, target))
            n_groups += 1
    if not contexts:
        raise ValueError("No window of these songs has two active stems")
    return Batch(np.stack(contexts).astype(np.float32), np.stack(targets).astype(np.float32), np.array(groups),
                 np.array(names), np.array(pitched), windows)
