"""The validity suite (`python -m evaluation.validity`): degradations, re-rendering, statistics, command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fake_data import write_rendered_cache
from scipy import signal
from symbolic_data import RATE, ToneSynth, write_symbolic_cache

from evaluation import degradations as dg
from evaluation import validity, validity_prepare
from evaluation.validity_stats import bootstrap_ci
from evaluation.validity_trials import (OFFSETS_MS, ORDER_SHIFTS_MS, draw_trials, row_names, trial_clips,
                                       wrong_tempo)
from phalar_metric import PhaLar, save_pretrained
from phalar_metric.config import tiny_config
from training.negatives import delay, rms
from training.rerender import WindowRenderer, fit_gain, window_notes
from training.sources.rendered import load_rendered
from training.symbolic import Note

BASELINE_W = ["--baseline-weights", "0.4,0.9"]
# `rendered_root` (tests/evaluation/conftest.py): a render cache without notes, the audio-only path


def run_suite(root: Path, checkpoint: Path, *extra: str) -> dict:
    return validity.main(["--model", str(checkpoint), "--source", f"rendered:{root}", "--trials", "4",
                          "--bootstrap", "200", *extra])


# --- degradations -------------------------------------------------------------------------------

def test_delay_zero_fills_both_ways() -> None:
    x = np.arange(1, 6, dtype=np.float32)
    assert delay(x, 2).tolist() == [0, 0, 1, 2, 3]
    assert delay(x, -2).tolist() == [3, 4, 5, 0, 0]
    assert delay(x, 9).tolist() == [0] * 5


def test_noises_have_the_asked_level_and_colour() -> None:
    rng = np.random.default_rng(0)
    white, pink = dg.white_noise(rng, 32000, 0.05), dg.pink_noise(rng, 32000, 0.05)
    assert rms(white) == pytest.approx(0.05, rel=1e-5) and rms(pink) == pytest.approx(0.05, rel=1e-5)
    freqs, power = signal.welch(pink, RATE, nperseg=4096)
    band = (freqs > 50) & (freqs < 5000)
    slope = np.polyfit(np.log10(freqs[band]), 10 * np.log10(power[band]), 1)[0]
    assert slope == pytest.approx(-10.0, abs=1.0)  # 1/f: -10 dB per decade


def test_click_train_clicks_at_the_tempo() -> None:
    clicks = dg.click_train(RATE * 3, 120.0, 0.1)
    at_clicks = np.zeros(len(clicks), bool)
    for k in range(6):  # a 20 ms click every 0.5 s from 0
        at_clicks[k * RATE // 2 : k * RATE // 2 + int(0.02 * RATE)] = True
        assert np.abs(clicks[k * RATE // 2 : k * RATE // 2 + 80]).max() > 0.1
    assert rms(clicks) == pytest.approx(0.1, rel=1e-5) and not clicks[~at_clicks].any()


def test_time_stretch_and_pitch_shift_keep_the_length() -> None:
    x = 0.3 * np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE).astype(np.float32)
    shifted = dg.pitch_shift(x, 12)
    assert len(shifted) == RATE
    spectrum = np.abs(np.fft.rfft(shifted[2000:-2000]))
    assert np.fft.rfftfreq(RATE - 4000, 1 / RATE)[spectrum.argmax()] == pytest.approx(880, abs=10)
    assert len(dg.time_stretch(x, 1.04, 8000)) == 8000 and len(dg.time_stretch(x[:4000], 0.96, 8000)) == 8000


def test_wrong_tempo_uses_the_meta_tempo(rendered_root: Path) -> None:
    song = load_rendered(rendered_root, "val")[0]
    assert wrong_tempo(song) == pytest.approx(song.meta["tempo"] * 1.13)


# --- re-rendering ---------------------------------------------------------------------------------

def test_window_notes_selects_shifts_transposes_and_scales() -> None:
    notes = [Note(0.0, 9.0, 60, 80), Note(4.5, 5.0, 62, 80), Note(10.0, 11.0, 64, 80), Note(1.0, 2.0, 126, 80)]
    # window from 5 s, 2 s lead: the span is [3, 8) s; the long note starts at 0 (its attack is before the span)
    out = window_notes(notes, start=5.0, span=5.0, lead=2.0, semitones=2)
    assert out == [Note(0.0, 6.0, 62, 80), Note(1.5, 2.0, 64, 80)]  # 126 + 2 leaves the MIDI range: dropped
    faster = window_notes(notes[1:3], start=5.0, span=7.0, lead=2.0, tempo=1.25)  # t -> 5 + (t - 5) / 1.25
    assert [(n.start, n.end, n.pitch) for n in faster] == [(pytest.approx(1.6), pytest.approx(2.0), 62),
                                                           (pytest.approx(6.0), pytest.approx(6.8), 64)]
    with pytest.raises(ValueError, match="`tempo`"):
        window_notes(notes, 5.0, 5.0, 2.0, tempo=0.0)


def test_renderer_transposes_pitched_stems_only_and_cuts_the_lead(notes_root: Path) -> None:
    song = load_rendered(notes_root, "val_timbre")[0]
    synth = ToneSynth()
    renderer = WindowRenderer(synth)
    out = renderer.render(song, [0, 2], RATE * 4, RATE, semitones=3)
    assert out.shape == (RATE,) and out.dtype == np.float32
    (drums, sf0, n0), (chords, _, n1) = synth.calls
    assert drums.is_drum and sf0 == "TimGM6mb.sf2" and n0 == n1 and (n0 - RATE) % 64 == 0 and n0 - RATE >= 3 * RATE
    assert {n.pitch for n in drums.notes} == {36}  # drums are never transposed
    assert {n.pitch for n in chords.notes} <= {60 + 3 + song.meta["meta"]["key"] + i for i in (0, 4, 7)}
    expected = sum(ToneSynth().render(s, "", n0)[n0 - RATE:] for s in (drums, chords))
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_untransposed_rerender_matches_the_cache_and_transposition_is_exact(notes_root: Path) -> None:
    song = load_rendered(notes_root, "val_timbre")[1]
    renderer, start = WindowRenderer(ToneSynth()), 3 * RATE
    cached = song.read(start, RATE)[2]  # the chords
    again = renderer.render(song, [2], start, RATE)
    again = again * fit_gain(again, cached)
    assert np.corrcoef(again, cached)[0, 1] > 0.999
    up = renderer.render(song, [2], start, RATE, semitones=12)

    def peak_hz(x: np.ndarray) -> float:
        return float(np.fft.rfftfreq(len(x), 1 / RATE)[np.abs(np.fft.rfft(x)).argmax()])

    assert peak_hz(up) == pytest.approx(2 * peak_hz(again), rel=0.01)


def test_fluidsynth_rerender_matches_the_cache(tmp_path: Path) -> None:
    """Real FluidSynth: block alignment and phases differ, magnitude spectrograms agree."""
    pytest.importorskip("fluidsynth")
    from training.synth import SOUNDFONT_DIR, StemSynth

    if not (SOUNDFONT_DIR / "TimGM6mb.sf2").exists():
        pytest.skip("TimGM6mb soundfont missing (training/install_system_deps.sh)")
    song = load_rendered(write_symbolic_cache(tmp_path, StemSynth(RATE), n_songs=1), "val_timbre")[0]
    start, length = int(2.3 * RATE), 5 * RATE
    renderer = WindowRenderer()
    for i in range(3):
        cached, again = song.read(start, length)[i], renderer.render(song, [i], start, length)
        spec = [np.abs(signal.stft(x, nperseg=1024, noverlap=768)[2]).ravel() for x in (cached, again)]
        assert np.corrcoef(*spec)[0, 1] > 0.9, song.stem_names[i]
        assert fit_gain(again, cached) == pytest.approx(1.0, rel=0.1)


# --- statistics ---------------------------------------------------------------------------------

def test_bootstrap_interval_is_seeded_and_holds_the_estimate() -> None:
    wins = (np.random.default_rng(0).random(50) < 0.7).astype(float)
    lo, hi = bootstrap_ci(wins, 500, seed=3)
    assert lo <= wins.mean() <= hi and hi - lo < 0.4
    assert bootstrap_ci(wins, 500, seed=3) == (lo, hi)
    scores = np.random.default_rng(1).standard_normal(50)  # continuous: another seed moves the interval
    assert bootstrap_ci(scores, 500, seed=3) == bootstrap_ci(scores, 500, seed=3) != bootstrap_ci(scores, 500, seed=4)
    assert bootstrap_ci(np.ones(7), 100, seed=0) == (1.0, 1.0)


# --- the command ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def suite_run(rendered_root: Path, tiny_checkpoint: Path,
              tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """The tiny checkpoint twice (side by side) and the baseline, tuned on val, on the audio-only path."""
    out = tmp_path_factory.mktemp("validity")
    result = validity.main(["--model", str(tiny_checkpoint), "--model", str(tiny_checkpoint), "--variant", "a",
                            "--variant", "b", "--source", f"rendered:{rendered_root}", "--trials", "5",
                            "--bootstrap", "200", "--tune-pairs", "80", "--tune-groups", "2",
                            "--json", str(out / "v.json"), "--markdown", str(out / "v.md"), "--figures", str(out)])
    return result, out


def test_suite_writes_json_markdown_and_figures(suite_run: tuple[dict, Path]) -> None:
    result, out = suite_run
    assert json.loads((out / "v.json").read_text()) == result
    assert list(result["results"]) == ["a", "b", validity.BASELINE] and result["baseline"]["tuned_on"] == "val"
    assert result["rerendered_trials"] == 0 and len(result["trial_list"]) == 5
    rows = [r for r in row_names() if r != "rerender_0st"]  # no notes here: librosa, never re-rendered
    assert list(result["results"]["a"]) == ["true", *rows]
    assert result["results"]["a"] == result["results"]["b"]
    for scorer in result["results"].values():
        for name in rows:
            r = scorer[name]
            assert r["ci95"][0] <= r["win_rate"] <= r["ci95"][1] and 1 <= r["n"] <= 5
    lines = (out / "v.md").read_text().splitlines()
    assert lines[0].startswith("| degradation | n | a: win [95% CI] | a: mean |") and len(lines) == 3 + len(rows)
    assert result["curves"]["a"]["offset_ms"]["x"] == list(OFFSETS_MS)
    assert result["curves"]["a"]["transpose_st"]["x"] == list(range(-6, 7))
    assert (out / "validity_offset.png").stat().st_size > 0 and (out / "validity_transpose.png").stat().st_size > 0


def test_suite_is_deterministic_and_the_same_in_one_process(suite_run: tuple[dict, Path], rendered_root: Path,
                                                             tiny_checkpoint: Path) -> None:
    """The run of `suite_run` (clips made in a worker process) again in this process (--workers 0)."""
    weights = suite_run[0]["baseline"]["weights"]
    common = ["--trials", "5", "--workers", "0", "--baseline-weights", f"{weights['chroma']},{weights['onset']}",
              "--model", str(tiny_checkpoint), "--variant", "b"]
    again = run_suite(rendered_root, tiny_checkpoint, "--variant", "a", *common)
    assert again["results"] == suite_run[0]["results"] and again["curves"] == suite_run[0]["curves"]
    other = run_suite(rendered_root, tiny_checkpoint, "--variant", "a", *common, "--seed", "1")
    assert other["trial_list"] != again["trial_list"]


def test_rendered_songs_are_rerendered_for_pitch_and_tempo(notes_root: Path, tiny_checkpoint: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validity_prepare, "WindowRenderer", lambda: WindowRenderer(ToneSynth()))
    result = run_suite(notes_root, tiny_checkpoint, "--no-baseline", "--trials", "6", "--workers", "0")
    rows = result["results"][Path(tiny_checkpoint).name]
    assert result["rerendered_trials"] == 6
    for name in ("pitch_+1st", "pitch_-6st", "tempo_+2pct", "tempo_-4pct"):
        assert rows[name]["reference"] == ["rerender_0st"]
    drums_only = sum(t["target"] == ["drums"] for t in result["trial_list"])
    assert rows["pitch_+1st"]["n"] == 6 - drums_only and rows["tempo_+2pct"]["n"] == 6
    assert rows["rerender_0st"]["mean_score"] == pytest.approx(rows["true"]["mean_score"], rel=0.05)
    assert "vocoder_roundtrip" not in rows


def test_graded_order_rows_put_the_delayed_target_against_another_songs_stems(rendered_root: Path) -> None:
    songs = load_rendered(rendered_root, "val")
    trial = draw_trials(np.random.default_rng(0), songs, RATE, 1)[0]
    clips = trial_clips(np.random.default_rng(1), trial, songs, None)
    for ms in ORDER_SHIFTS_MS:
        degraded, reference = clips.rows[f"delayed_{ms}ms_over_other_song"]
        assert degraded == "other_song"
        np.testing.assert_array_equal(clips.clips[reference], delay(trial.target, ms * RATE // 1000))
    alone = trial_clips(np.random.default_rng(1), trial, [trial.song], None)  # no other song to draw
    assert "other_song" not in alone.rows and not any(r.endswith("_over_other_song") for r in alone.rows)


def test_a_degradation_that_must_lose(tmp_path: Path) -> None:
    """Forced outcome: with the cosine similarity a score is scale * Re(x^H y) / n for unit-RMS
    embeddings, at most the scale and only there when x == y (Cauchy-Schwarz). Songs of two
    identical stems make the true target an exact copy of its context, so it scores the maximum
    and every clip that embeds differently must lose."""
    torch.manual_seed(0)
    model = PhaLar(tiny_config(similarity="cosine")).eval()
    checkpoint = save_pretrained(model, tmp_path / "cosine")
    root = write_rendered_cache(tmp_path / "cache", songs_per_split=4)
    for folder in (root / "val_timbre" / "procedural").iterdir():
        stems = np.load(folder / "stems.npy")
        np.save(folder / "stems.npy", np.stack([stems[2], stems[2]]))  # chords, twice
        meta = json.loads((folder / "meta.json").read_text())
        meta["stems"] = [meta["stems"][2], meta["stems"][2]]
        (folder / "meta.json").write_text(json.dumps(meta))
    result = run_suite(root, checkpoint, "--no-baseline", "--trials", "6")["results"]["cosine"]
    scale = float(model.similarity.log_scale.detach().exp())
    assert result["true"]["mean_score"] == pytest.approx(scale, rel=1e-4)
    for name in ("silence", "white_noise", "pink_noise", "noise_-80dBFS", "clicks_wrong_tempo", "other_song",
                 "shift_circular_100ms", "shift_delayed_250ms", "pitch_+6st", "tempo_-4pct"):
        assert result[name]["win_rate"] == 1.0, name
    # the hand-made check of one pair: the suite's scores are the library's cosine of the embeddings
    clip = np.random.default_rng(0).standard_normal(RATE).astype(np.float32)
    mix = np.load(root / "val_timbre" / "procedural" / "00200" / "stems.npy")[0, :RATE] / 32767.0
    scores = validity.score_clips({"m": model}, mix.astype(np.float32), {"true": mix.astype(np.float32),
                                                                         "noise": clip})["m"]
    with torch.inference_mode():
        ex, ey = model.embed(torch.as_tensor(np.stack([mix, clip]), dtype=torch.float32))
    assert scores["noise"] == pytest.approx(scale * float((ex.conj() @ ey).real) / ex.numel(), rel=1e-4)
    assert scores["true"] == pytest.approx(scale, rel=1e-4) and scores["noise"] < scores["true"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--trials", "0"], "--trials expects a positive integer, got 0"),
        (["--bootstrap", "-1"], "--bootstrap expects a positive integer"),
        (["--variant", "x", "--variant", "y"], "--variant expects one name per --model"),
        (["--baseline-weights", "1"], "--baseline-weights expects W_CHROMA,W_ONSET"),
        (["--split", "nope", *BASELINE_W], "No songs in split 'nope'"),
        (["--tune-split", "val_timbre"], "--tune-split must differ from --split"),
        (["--trials", "many"], "argument --trials: invalid int value"),
        (["--workers", "2"], "--workers expects 0 or 1, got 2"),
    ],
)
def test_user_errors_are_one_line(extra: list[str], message: str, rendered_root: Path, tiny_checkpoint: Path,
                                  capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_suite(rendered_root, tiny_checkpoint, *extra)
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and message in err and err.count("\n") == 1
