"""The validity suite's trials and the degraded stems of each.

A trial is one window of one song with its active stems split at random into a context (the
mix) and a target (the true stem), as `training.sampler` draws validation pairs (no
augmentation). `trial_clips` makes every distinct clip a trial needs once, and says which
clip each degradation row compares with which reference, and which clips make the curves.

Degradations (row names are stable JSON keys):
- `shift_circular_<ms>ms`: the target rolled by `ms` within the window (the end wraps to the
  front); `shift_delayed_<ms>ms`: the target delayed by `ms`, zeros in front (SHIFTS_MS).
- `pitch_<±n>st`: transposed by n semitones, tempo kept (SEMITONES). Songs of the render cache
  with `notes.json` are re-rendered exactly (`training.rerender`): pitched stems transposed,
  drum stems not; a target of drums only has no pitch rows. These rows, and the tempo rows,
  compare with the re-rendered untransposed target (`rerender_0st`), not the cached one, so
  that a render artefact cannot win or lose by itself. Other sources: librosa's pitch shifter
  on each pitched target stem, compared with the true target.
- `tempo_<±p>pct`: p% faster or slower, pitch kept (TEMPO_PCT): note times scaled about the
  window start and re-rendered, or librosa's time stretch of a longer read of the target.
- `other_song`: as many active stems as the target has, from a random window of another song;
  `other_window`: the same stems of the same song at least OTHER_WINDOW_GAP s away (a row is
  missing when the song has no such window with an active target stem).
- `white_noise`, `pink_noise`: at the target's RMS; `noise_-80dBFS`: white noise at -80 dBFS
  RMS; `silence`: digital silence; `clicks_wrong_tempo`: a click train at the song's tempo
  times WRONG_TEMPO (meta tempo, else from its beats, else FALLBACK_BPM) at the target's RMS;
  `dc_offset`: the target plus DC_OFFSET (a broken signal of the right music).
- Graded order, reported: `delayed_<ms>ms_over_other_song` (ORDER_SHIFTS_MS): the reference is
  the target delayed by `ms` and the degraded clip `other_song`; it wins where the delayed true
  stem (the song's harmony and tempo, off the beat) scores above another song's stems: the
  examples/ order aligned > shifted > unrelated, over trials.
- Reported, not required: `mix_copy` (the context itself as the stem), `rerender_0st` (the
  re-rendered target against the cached one: the size of the render artefact) and, where
  librosa transposes, `vocoder_roundtrip` (pitched stems shifted up a semitone and back: the
  size of the phase vocoder's artefact, which the audio-only pitch rows include).
Curves: the target advanced or delayed, zero-filled, by OFFSETS_MS, and transposed by
-6..+6 semitones (same paths as the pitch rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from training.negatives import delay, rms
from training.rerender import WindowRenderer, fit_gain, has_notes
from training.sampler import active_stems, split_stems
from training.sources.base import SAMPLE_RATE, Song
from training.sources.rendered import RenderedSong

from . import degradations as dg

SHIFTS_MS = (25, 50, 100, 250, 500, 1000)
ORDER_SHIFTS_MS = (100, 250, 500)  # delays of the graded-order rows (examples/: an eighth note, 226 ms)
OFFSET_GRID_MS = (0, *SHIFTS_MS, 75, 150, 350, 750)  # ms, denser near 0 where the score peaks
OFFSETS_MS = tuple(sorted({*OFFSET_GRID_MS, *(-m for m in OFFSET_GRID_MS)}))
assert set(ORDER_SHIFTS_MS) <= set(OFFSETS_MS), "the graded-order rows read the offset curve's clips"
SEMITONES = (1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6)  # every interval of the curve (±4: 0.3.0 hears least)
CURVE_SEMITONES = tuple(range(-6, 7))
TEMPO_PCT = (2, -2, 4, -4)
OTHER_WINDOW_GAP = 2.0  # seconds between the true window and `other_window`
WRONG_TEMPO, FALLBACK_BPM = 1.13, 97.0
NOISE_DBFS = -80.0
DC_OFFSET = 0.1
DRAWS = 20  # tries for `other_song` / `other_window` / a window with two active stems


@dataclass
class Trial:
    """`context`, `target`: `[window]` float32 sums of the split's stems; `stems`: the target's stem indices."""

    song: Song
    start: int  # sample
    stems: np.ndarray
    context: np.ndarray
    target: np.ndarray

    def describe(self) -> dict:
        """JSON record: song, window start (s), target stem names."""
        return {"song": self.song.name, "start_s": self.start / SAMPLE_RATE,
                "target": [self.song.stem_names[i] for i in self.stems]}


@dataclass
class TrialClips:
    """`clips`: distinct clips `[window]` by name ("true" = the target); `rows`: degradation ->
    (clip, reference clip); `offset` / `transpose`: curve x (ms / semitones) -> clip."""

    clips: dict[str, np.ndarray] = field(default_factory=dict)
    rows: dict[str, tuple[str, str]] = field(default_factory=dict)
    offset: dict[int, str] = field(default_factory=dict)
    transpose: dict[int, str] = field(default_factory=dict)


def row_names() -> list[str]:
    """Every degradation row, in table order."""
    return ([f"shift_circular_{m}ms" for m in SHIFTS_MS] + [f"shift_delayed_{m}ms" for m in SHIFTS_MS]
            + [f"pitch_{s:+d}st" for s in SEMITONES] + [f"tempo_{p:+d}pct" for p in TEMPO_PCT]
            + ["other_song", "other_window"] + [f"delayed_{m}ms_over_other_song" for m in ORDER_SHIFTS_MS]
            + ["white_noise", "pink_noise", "noise_-80dBFS", "silence",
               "clicks_wrong_tempo", "dc_offset", "mix_copy", "rerender_0st", "vocoder_roundtrip"])  # fmt: skip


def draw_trials(rng: np.random.Generator, songs: list[Song], window: int, n: int) -> list[Trial]:
    """`n` trials, cycling through the songs in a random order (a window with fewer than two
    active stems moves on to the next song)."""
    eligible = [s for s in songs if s.num_samples >= window and len(s.stem_names) >= 2]
    if not eligible:
        raise ValueError(f"No song is at least {window / SAMPLE_RATE:g} s long with two stems")
    order = rng.permutation(len(eligible))
    trials: list[Trial] = []
    for k in range(DRAWS * n):
        if len(trials) == n:
            return trials
        song = eligible[order[k % len(eligible)]]
        start = int(rng.integers(0, song.num_samples - window + 1))
        stems = song.read(start, window)
        active = active_stems(stems)
        if len(active) >= 2:
            target = split_stems(rng, active)
            is_target = np.isin(np.arange(len(stems)), target)
            trials.append(Trial(song, start, target, stems[~is_target].sum(0), stems[is_target].sum(0)))
    if len(trials) < n:
        raise RuntimeError(f"Only {len(trials)} of {n} trials have two active stems: are the songs silent?")
    return trials


def trial_clips(rng: np.random.Generator, trial: Trial, songs: list[Song],
                renderer: WindowRenderer | None) -> TrialClips:
    """Every clip of `trial` (see the module docstring); `renderer` re-renders songs with notes
    (None: every song takes the audio-only path)."""
    out = TrialClips()
    x, n = trial.target, len(trial.target)
    out.clips.update(true=x, mix_copy=trial.context)
    out.rows["mix_copy"] = ("mix_copy", "true")
    for ms in OFFSETS_MS:
        name = "true" if ms == 0 else f"offset_{ms:+d}ms"
        out.clips[name] = delay(x, _samples(ms))
        out.offset[ms] = name
    for ms in SHIFTS_MS:
        out.clips[f"shift_circular_{ms}ms"] = np.roll(x, _samples(ms))
        out.rows[f"shift_circular_{ms}ms"] = (f"shift_circular_{ms}ms", "true")
        out.rows[f"shift_delayed_{ms}ms"] = (f"offset_{ms:+d}ms", "true")
    _pitch_and_tempo(out, trial, renderer if renderer is not None and has_notes(trial.song) else None)
    for name, clip in (("other_song", _other_song(rng, trial, songs)), ("other_window", _other_window(rng, trial))):
        if clip is not None:
            out.clips[name], out.rows[name] = clip, (name, "true")
    if "other_song" in out.clips:
        for ms in ORDER_SHIFTS_MS:
            out.rows[f"delayed_{ms}ms_over_other_song"] = ("other_song", f"offset_{ms:+d}ms")
    level = rms(x)
    for name, clip in (("white_noise", dg.white_noise(rng, n, level)), ("pink_noise", dg.pink_noise(rng, n, level)),
                       ("noise_-80dBFS", dg.white_noise(rng, n, 10 ** (NOISE_DBFS / 20))),
                       ("silence", np.zeros(n, np.float32)),
                       ("clicks_wrong_tempo", dg.click_train(n, wrong_tempo(trial.song), level)),
                       ("dc_offset", x + np.float32(DC_OFFSET))):  # fmt: skip
        out.clips[name], out.rows[name] = clip, (name, "true")
    return out


def wrong_tempo(song: Song) -> float:
    """BPM of the wrong-tempo click train: the song's tempo (a rendered song's meta tempo, else
    from its beats) times WRONG_TEMPO, else FALLBACK_BPM."""
    tempo = song.meta.get("tempo") if isinstance(song, RenderedSong) else None
    if tempo is None and song.beats is not None and len(song.beats) > 1:
        tempo = 60.0 / float(np.median(np.diff(song.beats)))
    return FALLBACK_BPM if tempo is None else float(tempo) * WRONG_TEMPO


def pitched(song: Song, stems: np.ndarray) -> np.ndarray:
    """The pitched (non-drum) stems among `stems`: all of them where the source does not know."""
    return np.array([i for i in stems if not (song.is_drum and song.is_drum[i])], int)


def _pitch_and_tempo(out: TrialClips, trial: Trial, renderer: WindowRenderer | None) -> None:
    """The pitch rows and tempo rows of `trial`, and the transposition curve."""
    window = len(trial.target)
    has_pitch = len(pitched(trial.song, trial.stems)) > 0
    if renderer is not None:
        reference = renderer.render(trial.song, trial.stems, trial.start, window)
        gain = np.float32(fit_gain(reference, trial.target))
        ref_name = "rerender_0st"
        out.clips[ref_name] = reference * gain
        out.rows[ref_name] = (ref_name, "true")

        def transposed(semitones: int) -> np.ndarray:
            return gain * renderer.render(trial.song, trial.stems, trial.start, window, semitones=semitones)

        def stretched(tempo: float) -> np.ndarray:
            return gain * renderer.render(trial.song, trial.stems, trial.start, window, tempo=tempo)
    else:
        ref_name = "true"
        stems = trial.song.read(trial.start, int(np.ceil(window * (1 + max(TEMPO_PCT) / 100))) + 1)
        moving = pitched(trial.song, trial.stems)

        def per_pitched(op: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:  # drums summed as they are
            return stems[np.setdiff1d(trial.stems, moving), :window].sum(0) + sum(op(stems[i, :window]) for i in moving)

        def transposed(semitones: int) -> np.ndarray:
            return per_pitched(lambda x: dg.pitch_shift(x, semitones))

        if has_pitch:
            roundtrip = per_pitched(lambda x: dg.pitch_shift(dg.pitch_shift(x, 1), -1))
            out.clips["vocoder_roundtrip"] = roundtrip.astype(np.float32)
            out.rows["vocoder_roundtrip"] = ("vocoder_roundtrip", "true")

        def stretched(tempo: float) -> np.ndarray:
            return dg.time_stretch(stems[trial.stems].sum(0), tempo, window)

    if has_pitch:
        for s in CURVE_SEMITONES:
            name = ref_name if s == 0 else f"pitch_{s:+d}st"
            if s:
                out.clips[name] = transposed(s).astype(np.float32)
            out.transpose[s] = name
        out.rows.update({f"pitch_{s:+d}st": (f"pitch_{s:+d}st", ref_name) for s in SEMITONES})
    for p in TEMPO_PCT:
        out.clips[f"tempo_{p:+d}pct"] = stretched(1 + p / 100).astype(np.float32)
        out.rows[f"tempo_{p:+d}pct"] = (f"tempo_{p:+d}pct", ref_name)


def _other_song(rng: np.random.Generator, trial: Trial, songs: list[Song]) -> np.ndarray | None:
    """As many active stems as the target has, from a random window of another song."""
    window = len(trial.target)
    others = [s for s in songs if s.name != trial.song.name and s.num_samples >= window]
    for _ in range(DRAWS if others else 0):
        song = others[int(rng.integers(len(others)))]
        stems = song.read(int(rng.integers(0, song.num_samples - window + 1)), window)
        active = active_stems(stems)
        if len(active):
            pick = rng.choice(active, size=min(len(trial.stems), len(active)), replace=False)
            return stems[pick].sum(0)
    return None


def _other_window(rng: np.random.Generator, trial: Trial) -> np.ndarray | None:
    """The target's stems at another time of the song, at least OTHER_WINDOW_GAP s away, with
    one of them active there."""
    window, gap = len(trial.target), int(OTHER_WINDOW_GAP * SAMPLE_RATE)
    last = trial.song.num_samples - window
    before, after = max(trial.start - gap + 1, 0), max(last - trial.start - gap + 1, 0)  # starts allowed each side
    for _ in range(DRAWS if before + after else 0):
        u = int(rng.integers(before + after))
        stems = trial.song.read(u if u < before else trial.start + gap + u - before, window)
        if np.isin(trial.stems, active_stems(stems)).any():
            return stems[trial.stems].sum(0)
    return None


def _samples(ms: float) -> int:
    """Milliseconds as samples at SAMPLE_RATE."""
    return int(round(ms * SAMPLE_RATE / 1000))
