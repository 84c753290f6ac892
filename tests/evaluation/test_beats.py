"""Zero-shot beat tracking: click tracks, decoding, the tracker on a tiny model, loaders, benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import mir_eval
import numpy as np
import pytest
from fake_data import song_stems, write_gtzan_tree

from evaluation import baseline, beats
from evaluation.beat_data import gtzan_examples, read_beats, rendered_examples
from evaluation.beats import BeatGrid, ClickBank, beat_f_measure, click_track, decode_beats, main, track_beats
from phalar_metric import PhaLar, PhaLarScore
from phalar_metric.audio import window_starts
from phalar_metric.config import tiny_config

RATE = 16000
GRID = BeatGrid(n_tempi=24, n_phases=8)  # small, for speed


def test_click_track_puts_clicks_on_the_grid() -> None:
    wav = click_track(120.0, 0.1, 2 * RATE, RATE)
    onsets = np.flatnonzero((np.abs(wav[1:]) > 0) & (wav[:-1] == 0)) + 1
    assert wav.shape == (2 * RATE,) and wav.dtype == np.float32
    assert np.allclose(onsets / RATE, [0.1, 0.6, 1.1, 1.6], atol=2 / RATE)


def test_decode_beats_follows_the_winning_metronome() -> None:
    """Scores peaking at one tempo and phase in every window give that metronome's beats."""
    scores = np.zeros((5, GRID.n_tempi, GRID.n_phases))
    j, p = 12, 3
    starts = np.arange(5) * 0.5
    period = 60 / GRID.tempi()[j]
    for w, s in enumerate(starts):  # the same global phase seen from each window's start
        local = (p / GRID.n_phases * period - s) % period
        scores[w, j, int(round(local / period * GRID.n_phases)) % GRID.n_phases] = 1.0
    beats = decode_beats(scores, starts, 1.0, 3.0, GRID)
    expected = np.arange(p / GRID.n_phases * period, 3.0, period)
    assert np.all(np.diff(beats) > 0)
    assert beat_f_measure(expected, beats, skip_seconds=0) == 1.0  # within half a phase step (33 ms)


def test_decoding_recovers_the_beats_from_aligned_scores() -> None:
    """End to end without a model: onset-correlation scores of the windows against the same
    metronomes decode to the song's beats (the decoder is sound when the scores align)."""
    stems, beats, _ = song_stems(7, 8.0)
    mix, window = stems.sum(0), RATE
    starts = window_starts(len(mix), window, window // 2)
    tempi = GRID.tempi()
    phases = [(b, k / GRID.n_phases * 60 / b) for b in tempi for k in range(GRID.n_phases)]
    clicks = np.stack([click_track(b, phase, window, RATE) for b, phase in phases])
    windows = baseline.features(np.stack([mix[s : s + window] for s in starts]))
    scores = baseline.similarities(windows, baseline.features(clicks), max_lag=0)[1]
    scores = scores.reshape(len(starts), GRID.n_tempi, GRID.n_phases)
    estimated = decode_beats(scores, np.array(starts) / RATE, 1.0, len(mix) / RATE, GRID)
    assert beat_f_measure(beats, estimated, skip_seconds=0) > 0.8


def test_track_beats_on_a_tiny_model(tiny_checkpoint: Path) -> None:
    metric = PhaLarScore.from_pretrained(tiny_checkpoint)
    bank = ClickBank(metric.model, GRID)
    assert bank.embeddings.shape == (GRID.n_tempi * GRID.n_phases, metric.model.config.out_dim)
    audio = song_stems(3, 4.3)[0].sum(0)
    beats = track_beats(metric, audio, RATE, bank)
    assert beats.ndim == 1 and len(beats) > 0
    assert np.all(np.diff(beats) > 0) and beats[0] >= 0 and beats[-1] < 4.3
    assert np.all(np.diff(beats) >= 60 / GRID.bpm_max / 2)  # no doubled beats at window seams
    stereo_44k = np.stack([np.repeat(audio, 3), np.repeat(audio, 3)])  # another rate and layout
    assert len(track_beats(metric, stereo_44k, 3 * RATE, bank)) > 0


def test_the_click_bank_is_built_once_per_model(tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    metric = PhaLarScore.from_pretrained(tiny_checkpoint)
    built = []
    original = beats.ClickBank.__init__
    monkeypatch.setattr(beats.ClickBank, "__init__", lambda self, *a, **k: built.append(1) or original(self, *a, **k))
    assert ClickBank.of(metric.model, GRID) is ClickBank.of(metric.model, GRID) and len(built) == 1
    embedded = []
    original_embed = beats.embed_windows
    monkeypatch.setattr(beats, "embed_windows", lambda *a, **k: embedded.append(len(a[1])) or original_embed(*a, **k))
    audio = song_stems(4, 2.0)[0].sum(0)
    first = track_beats(metric, audio, RATE)  # builds the default bank: 768 click windows
    n_first = len(embedded)
    second = track_beats(metric, audio, RATE)  # reuses it: only the audio's windows
    assert len(built) == 2 and np.array_equal(first, second)
    assert sum(embedded[:n_first]) > 768 and embedded[n_first:] == [3]  # 2 s, hop 0.5 s: windows at 0, 0.5, 1 s
    other = PhaLarScore.from_pretrained(tiny_checkpoint)  # another model object: its own bank
    assert ClickBank.of(other.model, GRID) is not ClickBank.of(metric.model, GRID) and len(built) == 3


def test_track_beats_rejects_a_bank_of_another_model(tiny_checkpoint: Path) -> None:
    bank = ClickBank(PhaLar(tiny_config(window_seconds=1.5)), BeatGrid(n_tempi=1, n_phases=3))
    with pytest.raises(ValueError, match="`bank` was built for 24000-sample windows"):
        track_beats(PhaLarScore.from_pretrained(tiny_checkpoint), np.zeros(RATE, np.float32), RATE, bank)


def test_f_measure_matches_mir_eval() -> None:
    rng = np.random.default_rng(0)
    ref = np.cumsum(rng.uniform(0.4, 0.6, 40))
    est = np.sort(np.concatenate([ref[::2] + rng.normal(0, 0.05, 20), rng.uniform(0, 20, 5)]))
    assert beat_f_measure(ref, est) == pytest.approx(mir_eval.beat.evaluate(ref, est)["F-measure"])
    assert beat_f_measure(ref, ref) == 1.0


def test_gtzan_loader_reads_the_layout(tmp_path: Path) -> None:
    root = write_gtzan_tree(tmp_path)
    examples = gtzan_examples(root)
    assert [e.name for e in examples] == ["gtzan/blues.00000", "gtzan/rock.00000"]  # unannotated clips skipped
    ex = examples[0]
    assert ex.sample_rate == 22050 and ex.audio.ndim == 1 and len(ex.audio) == 6 * 22050
    assert np.allclose(ex.beats, read_beats(root / "gtzan_tempo_beat-main/beats/gtzan_blues_00000.beats"))
    assert np.allclose(ex.beats, np.round(song_stems(1000, 6.0, 22050)[1], 3))
    assert len(gtzan_examples(root, n=1)) == 1
    (root / "genres/rock/rock.00001.beats").write_text("0.5 1\n1.0 2\n")  # the beside-the-audio layout
    assert [e.name for e in gtzan_examples(root)][-1] == "gtzan/rock.00001"
    with pytest.raises(ValueError, match="No annotated GTZAN clip"):
        gtzan_examples(tmp_path / "empty")


def test_rendered_examples_cut_mix_and_beats(rendered_root: Path) -> None:
    examples = rendered_examples(rendered_root, "val", n=2, seconds=5.0)
    assert len(examples) == 2
    for ex in examples:
        assert len(ex.audio) == 5 * RATE and np.abs(ex.audio).max() == pytest.approx(0.9, abs=1e-4)
        assert ex.beats.max() < 5.0 and ex.beats[0] == 0.0


def test_benchmark_cli(rendered_root: Path, tiny_checkpoint: Path, tmp_path: Path) -> None:
    result = main(["--model", str(tiny_checkpoint), "--rendered", str(rendered_root), "--split", "val_timbre",
                   "--n", "2", "--seconds", "8", "--n-tempi", "8", "--n-phases", "4",
                   "--json", str(tmp_path / "b.json"), "--markdown", str(tmp_path / "b.md")])  # fmt: skip
    assert json.loads((tmp_path / "b.json").read_text()) == result
    assert len(result["clips"]) == 2 and set(result["mean_f_measure"]) == {"phalar", "librosa"}
    assert all(0 <= c[k] <= 1 for c in result["clips"] for k in ("phalar", "librosa"))
    assert (tmp_path / "b.md").read_text().startswith("| tracker | F-measure (±70 ms) | clips |")


def test_benchmark_cli_errors_are_one_line(tiny_checkpoint: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", str(tiny_checkpoint), "--gtzan", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "No annotated GTZAN clip" in err and err.count("\n") == 1
