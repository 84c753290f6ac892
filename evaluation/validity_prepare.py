"""The CPU side of the validity suite: each trial's clips and the baseline's scores of them.

`Preparer(spec)(i)` draws the trials from `spec.seed` (the same in any process), makes trial
i's clips (`validity_trials.trial_clips`; songs with notes are re-rendered unless
`audio_only`) and scores them with the chroma + onset baseline. `prepared(spec, workers)`
yields them in trial order: in this process (`workers=0`), or from one worker process that
runs at most PREFETCH trials ahead, so that on a 2-core machine the models embed one trial
while the next is rendered and scored by the baseline.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any, Iterator

import numpy as np

from training.rerender import WindowRenderer, has_notes

from . import baseline
from .report import songs_from
from .retrieval import select_songs
from .validity_trials import TrialClips, draw_trials, trial_clips

PREFETCH = 2  # trials the worker may run ahead (each holds ~50 clips, ~16 MB for 5 s clips)


@dataclass(frozen=True)
class PrepSpec:
    """What a `Preparer` needs: the songs (`sources`, `split`, name `prefixes`), the window in
    samples, the number of trials and their seed, whether to re-render, the baseline's weights
    (None: no baseline)."""

    sources: tuple[str, ...]
    split: str
    prefixes: tuple[str, ...]
    window: int
    trials: int
    seed: int
    audio_only: bool
    baseline_weights: tuple[float, float] | None


@dataclass
class Prepared:
    """One trial: its `context` `[window]`, its `clips`, the baseline's score of each clip (or
    None) and its JSON description (`Trial.describe()` plus "rerendered")."""

    context: np.ndarray
    clips: TrialClips
    baseline: dict[str, float] | None
    trial: dict[str, Any]


class Preparer:
    """Makes the trials of `spec` one by one (a FluidSynth instance is started on the first
    song that is re-rendered)."""

    def __init__(self, spec: PrepSpec) -> None:
        self.spec = spec
        self.songs = select_songs(songs_from(spec.sources, spec.split), list(spec.prefixes), spec.split)
        self.trials = draw_trials(np.random.default_rng(spec.seed), self.songs, spec.window, spec.trials)
        self._renderer: WindowRenderer | None = None

    def __call__(self, i: int) -> Prepared:
        trial = self.trials[i]
        rerender = not self.spec.audio_only and has_notes(trial.song)
        if rerender and self._renderer is None:
            try:
                self._renderer = WindowRenderer()
            except (ImportError, FileNotFoundError) as err:
                raise ImportError(f"re-rendering {trial.song.name} needs FluidSynth ({err}); install it with "
                                  "training/install_system_deps.sh or pass --audio-only") from err
        clips = trial_clips(np.random.default_rng([self.spec.seed, i]), trial, self.songs,
                            self._renderer if rerender else None)
        scores = None
        if self.spec.baseline_weights is not None:
            sims = baseline.pair_similarities(trial.context[None], np.stack(list(clips.clips.values())))
            scores = dict(zip(clips.clips, baseline.combine(sims, self.spec.baseline_weights)[0].tolist()))
        return Prepared(trial.context, clips, scores, {**trial.describe(), "rerendered": rerender})


_worker: Preparer | None = None


def _prepare_in_worker(spec: PrepSpec, i: int) -> Prepared:
    """Trial i of `spec`, from this worker process's `Preparer` (made on the first call)."""
    global _worker
    if _worker is None or _worker.spec != spec:
        _worker = Preparer(spec)
    return _worker(i)


def prepared(spec: PrepSpec, workers: int) -> Iterator[Prepared]:
    """Every trial of `spec` in order, made in this process (`workers` 0) or in one worker (1)."""
    if workers == 0:
        yield from map(Preparer(spec), range(spec.trials))
        return
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        pending = deque(pool.submit(_prepare_in_worker, spec, i) for i in range(min(PREFETCH, spec.trials)))
        for i in range(PREFETCH, spec.trials + PREFETCH):
            done = pending.popleft().result()
            if i < spec.trials:
                pending.append(pool.submit(_prepare_in_worker, spec, i))
            yield done
