"""Zero-shot beat tracking with the metric: which metronome is most coherent with the music?

    python -m evaluation.beats --model DIR --rendered ../data/rendered --split val_timbre --n 30 \\
        --json beats.json --markdown beats.md
    python -m evaluation.beats --model DIR --gtzan GTZAN_ROOT --n 100

The paper's method: score the audio against click tracks over a grid of tempi (60-200 BPM)
and phases, and let the best click track give the beats. Here every click track of the grid
is embedded once (`ClickBank`, one model window long, phase measured from the window start)
and every window of the audio once; all scores are then one matrix product. A click track
of phase φ heard in a window starting at s puts beats at s + φ + k·period, so the bank
serves every window. `decode_beats` turns the `[windows, tempi, phases]` scores into beats
(a smooth tempo path, then the best phase per window). The benchmark compares it with
`librosa.beat.beat_track` on the same audio by the mir_eval F-measure (±70 ms).
"""

from __future__ import annotations

import argparse
import dataclasses
import weakref
from dataclasses import dataclass
from typing import Any

import librosa
import mir_eval
import numpy as np
import torch

from phalar_metric.audio import AudioInput, load_audio, window_starts
from phalar_metric.functional import embed_windows, window_score_matrix
from phalar_metric.metric import PhaLarScore
from phalar_metric.model import PhaLar

from .beat_data import BeatExample, gtzan_examples, rendered_examples
from .report import Parser, add_run_args, fatal, load_model, markdown_table, write_outputs

PROG = "python -m evaluation.beats"


@dataclass(frozen=True)
class BeatGrid:
    """The metronomes: `n_tempi` log-spaced tempi in [bpm_min, bpm_max] BPM, `n_phases`
    phases per beat period, each click a `click_hz` Hz tone decaying by 60 dB over
    `click_seconds`."""

    bpm_min: float = 60.0
    bpm_max: float = 200.0
    n_tempi: int = 48  # 2.6% apart: half a step drifts <= 16 ms over the ±1.25 s a window decides
    n_phases: int = 16  # 1/16 beat: 31 ms at 120 BPM, refined by parabolic interpolation
    click_hz: float = 1000.0
    click_seconds: float = 0.05

    def __post_init__(self) -> None:
        if not 0 < self.bpm_min <= self.bpm_max:
            raise ValueError(f"BeatGrid expects 0 < bpm_min <= bpm_max, got {self.bpm_min}, {self.bpm_max}")
        if self.n_tempi < 1 or self.n_phases < 3:
            raise ValueError(f"BeatGrid expects n_tempi >= 1 and n_phases >= 3, got {self.n_tempi}, {self.n_phases}")

    def tempi(self) -> np.ndarray:
        """`[n_tempi]` BPM."""
        return np.geomspace(self.bpm_min, self.bpm_max, self.n_tempi)


def click_track(bpm: float, phase: float, n_samples: int, sample_rate: int, grid: BeatGrid = BeatGrid()) -> np.ndarray:
    """A metronome `[n_samples]` float32: clicks at `phase + k * 60 / bpm` seconds, k >= 0."""
    t = np.arange(int(round(grid.click_seconds * sample_rate))) / sample_rate
    click = np.sin(2 * np.pi * grid.click_hz * t) * 10 ** (-3 * t / grid.click_seconds)  # -60 dB at the end
    out = np.zeros(n_samples + len(click), np.float32)
    for onset in np.arange(phase, n_samples / sample_rate, 60.0 / bpm):
        i = int(round(onset * sample_rate))
        out[i : i + len(click)] += click
    return 0.5 * out[:n_samples]


class ClickBank:
    """Embeddings `[n_tempi * n_phases, n]` of one model window of every metronome of `grid`
    (tempo-major), computed once per model and reused for every clip (`ClickBank.of`)."""

    def __init__(self, model: PhaLar, grid: BeatGrid = BeatGrid(), batch_size: int = 16) -> None:
        self.grid, self.window = grid, model.config.window_samples
        rate = model.config.sample_rate
        rows = []
        for bpm in grid.tempi():  # one tempo at a time: n_phases windows in memory
            phases = np.arange(grid.n_phases) / grid.n_phases * 60.0 / bpm
            clicks = np.stack([click_track(bpm, p, self.window, rate, grid) for p in phases])
            rows.append(embed_windows(model, clicks, batch_size))
        self.embeddings = torch.cat(rows)

    @classmethod
    def of(cls, model: PhaLar, grid: BeatGrid = BeatGrid(), batch_size: int = 16) -> "ClickBank":
        """The bank of `model` and `grid`: built on the first call, then kept as long as the model
        object lives (keyed on the object: after changing its weights, build a `ClickBank` anew)."""
        banks = _BANKS.setdefault(model, {})
        if grid not in banks:
            banks[grid] = cls(model, grid, batch_size)
        return banks[grid]


_BANKS: weakref.WeakKeyDictionary[PhaLar, dict[BeatGrid, ClickBank]] = weakref.WeakKeyDictionary()


def track_beats(metric: PhaLarScore, audio: AudioInput, sample_rate: int | None = None,
                bank: ClickBank | None = None, hop_seconds: float | None = None) -> np.ndarray:
    """Beat times of `audio` by metronome similarity (zero-shot).

    Args:
        metric: the metric (its model scores audio windows against click tracks).
        audio: a path, or a `[samples]` / `[channels, samples]` array at `sample_rate`.
        sample_rate: the rate of an array in Hz.
        bank: the click-track embeddings of this model (default: `ClickBank.of(model)`, built
            on the first call for this model and reused by the next ones).
        hop_seconds: hop between analysis windows (default half a model window).

    Returns:
        Sorted beat times in seconds, `[n_beats]`, within [0, duration).
    """
    model, config = metric.model, metric.model.config
    bank = bank or ClickBank.of(model, batch_size=metric.batch_size)
    if bank.window != config.window_samples:
        raise ValueError(
            f"Argument `bank` was built for {bank.window}-sample windows, the model has {config.window_samples}"
        )
    wav = load_audio(audio, sample_rate, config, "audio")
    window, rate = config.window_samples, config.sample_rate
    hop = max(1, int(round((hop_seconds or config.window_seconds / 2) * rate)))
    starts = window_starts(len(wav), window, hop, cover_end=True)
    padded = np.pad(wav, (0, max(0, window - len(wav))))
    emb = embed_windows(model, np.stack([padded[s : s + window] for s in starts]), metric.batch_size)
    scores = window_score_matrix(model, emb[:, None], bank.embeddings[:, None]).cpu().numpy()
    scores = scores.reshape(len(starts), bank.grid.n_tempi, bank.grid.n_phases)
    return decode_beats(scores, np.array(starts) / rate, config.window_seconds, len(wav) / rate, bank.grid)


def decode_beats(scores: np.ndarray, starts: np.ndarray, window_seconds: float, duration: float,
                 grid: BeatGrid = BeatGrid(), octave_cost: float = 4.0, prior_bpm: float = 120.0,
                 prior_octaves: float = 1.0) -> np.ndarray:
    """Beat times from metronome scores.

    Tempo: a tempo whose metronome matches the music at one phase and clashes at others is
    aligned, so its evidence is `max - mean` of the scores over phases, z-scored across
    tempi per window, plus a log-normal prior (centre `prior_bpm`, std `prior_octaves`
    octaves, as in librosa) against octave errors. A Viterbi path over windows picks one
    tempo per window, paying `octave_cost` per octave of tempo change.
    Phase: the best phase of that tempo, refined by a parabola through its neighbours.
    Each window places beats in the span nearest its centre; beats closer than half a
    period at the seams are merged.

    Args:
        scores: `[W, n_tempi, n_phases]` score of window w against each metronome.
        starts: `[W]` window starts in seconds (increasing).
        window_seconds: window length in seconds.
        duration: audio length in seconds.
        grid: the metronome grid the scores are on.

    Returns:
        Sorted beat times in seconds within [0, duration).
    """
    tempi = grid.tempi()
    evidence = scores.max(-1) - scores.mean(-1)  # [W, n_tempi]
    z = (evidence - evidence.mean(1, keepdims=True)) / (evidence.std(1, keepdims=True) + 1e-9)
    log_tempo = np.log2(tempi)
    emission = z - 0.5 * ((log_tempo - np.log2(prior_bpm)) / prior_octaves) ** 2
    path = _viterbi(emission, octave_cost * np.abs(log_tempo[:, None] - log_tempo[None, :]))
    centres = starts + window_seconds / 2
    seams = np.concatenate([[0.0], (centres[1:] + centres[:-1]) / 2, [duration]])
    beats: list[float] = []
    for w, j in enumerate(path):
        period = 60.0 / tempi[j]
        phase = _peak(scores[w, j]) / grid.n_phases * period
        first = starts[w] + phase + np.ceil((seams[w] - starts[w] - phase) / period) * period
        for t in np.arange(first, seams[w + 1], period):
            if not beats or t - beats[-1] >= period / 2:
                beats.append(float(t))
    return np.array([t for t in beats if 0 <= t < duration])


def beat_f_measure(reference: np.ndarray, estimated: np.ndarray, window: float = 0.07,
                   skip_seconds: float = 5.0) -> float:
    """mir_eval beat F-measure: a hit is an estimate within ±`window` s of a reference beat;
    beats before `skip_seconds` are left out of both, as `mir_eval.beat.evaluate` does."""
    ref = mir_eval.beat.trim_beats(np.asarray(reference, float), skip_seconds)
    est = mir_eval.beat.trim_beats(np.asarray(estimated, float), skip_seconds)
    return float(mir_eval.beat.f_measure(ref, est, f_measure_threshold=window))


def _viterbi(emission: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """The state path `[W]` maximising sum of `emission[w, s_w]` minus `cost[s_{w-1}, s_w]`."""
    delta, back = emission[0], []
    for e in emission[1:]:
        total = delta[:, None] - cost  # [from, to]
        back.append(total.argmax(0))
        delta = total.max(0) + e
    path = [int(delta.argmax())]
    for b in reversed(back):
        path.append(int(b[path[-1]]))
    return np.array(path[::-1])


def _peak(curve: np.ndarray) -> float:
    """Sub-bin position of the maximum of a circular curve `[n]` (parabolic interpolation)."""
    i = int(curve.argmax())
    left, mid, right = curve[i - 1], curve[i], curve[(i + 1) % len(curve)]
    denom = left - 2 * mid + right
    return i + (0.5 * (left - right) / denom if denom < 0 else 0.0)


def get_parser() -> argparse.ArgumentParser:
    """The beat-tracking benchmark's arguments."""
    p = Parser(prog=PROG, description="Zero-shot beat tracking with PhaLar against librosa, mir_eval F-measure.")
    p.add_argument("--model", required=True, help="checkpoint folder, run folder or Hub repo id")
    p.add_argument("--revision", help="Hub revision of --model")
    data = p.add_mutually_exclusive_group(required=True)
    data.add_argument("--rendered", help="a render cache; ground truth = the MIDI beats in meta.json")
    data.add_argument("--gtzan", help="a GTZAN root: genres/<genre>/<genre>.000NN.wav + beat annotations")
    p.add_argument("--split", default="val_timbre", help="split of --rendered (default: val_timbre)")
    p.add_argument("--n", type=int, default=30, help="number of clips (default: 30)")
    p.add_argument("--seconds", type=float, default=30.0, help="excerpt length of --rendered songs (default: 30)")
    p.add_argument("--seed", type=int, default=0, help="seed of the --rendered song draw (default: 0)")
    p.add_argument("--window", type=float, default=0.07, help="F-measure tolerance in seconds (default: 0.07)")
    p.add_argument("--n-tempi", type=int, default=BeatGrid.n_tempi, help="metronome tempi, 60-200 BPM (default: 48)")
    p.add_argument("--n-phases", type=int, default=BeatGrid.n_phases, help="metronome phases per beat (default: 16)")
    add_run_args(p)
    return p


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns the JSON result. User errors exit with one line on stderr."""
    args = get_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        grid = BeatGrid(n_tempi=args.n_tempi, n_phases=args.n_phases)
        metric = PhaLarScore(load_model(args.model, args.revision))
        if args.rendered:
            examples = rendered_examples(args.rendered, args.split, args.n, args.seconds, args.seed)
        else:
            examples = gtzan_examples(args.gtzan, args.n)
        result = benchmark(metric, examples, grid, args.window)
    except (ValueError, OSError, RuntimeError) as err:
        fatal(PROG, str(err))
    result.update(model=args.model, data=args.rendered or args.gtzan, split=args.split if args.rendered else None)
    rows = [[name, m, len(examples)] for name, m in result["mean_f_measure"].items()]
    write_outputs(result, markdown_table(["tracker", f"F-measure (±{args.window * 1000:g} ms)", "clips"], rows),
                  args.json, args.markdown)
    return result


def benchmark(metric: PhaLarScore, examples: list[BeatExample], grid: BeatGrid = BeatGrid(),
              window: float = 0.07) -> dict[str, Any]:
    """Per-clip and mean F-measures of PhaLar's metronome tracker (on `grid`) and librosa's
    beat tracker, with a ±`window` s tolerance."""
    bank = ClickBank.of(metric.model, grid, metric.batch_size)
    clips = []
    for ex in examples:
        estimates = {
            "phalar": track_beats(metric, ex.audio, ex.sample_rate, bank),
            "librosa": librosa.beat.beat_track(y=ex.audio, sr=ex.sample_rate, units="time")[1],
        }
        clips.append({"name": ex.name, **{k: beat_f_measure(ex.beats, v, window) for k, v in estimates.items()}})
    means = {k: float(np.mean([c[k] for c in clips])) for k in ("phalar", "librosa")}
    return {"mean_f_measure": means, "clips": clips, "grid": dataclasses.asdict(bank.grid)}


if __name__ == "__main__":
    main()
