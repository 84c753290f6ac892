"""MMA songs: the groove library reader and chart generator (no mma needed), and whole songs
arranged by the `mma` program (skipped where it is not installed)."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from training.sources import mma_songs
from training.sources.mma_charts import (MMA_STDLIB, Chart, chart_text, draw_chart, parse_roman, parse_style,
                                         progression_bars, read_library)
from training.sources.mma_songs import MAX_STEMS, generate_mma_song, merge_small, run_mma
from training.symbolic import Note, Stem, SymbolicSong

REPO = Path(__file__).resolve().parents[2]
needs_mma = pytest.mark.skipif(shutil.which("mma") is None or not MMA_STDLIB.is_dir(), reason="mma is not installed")

# Two small style files in MMA's syntax (modelled on stdlib's swing.mma and waltz.mma).
SWING = """// swing
Begin Doc
  Time 7 is prose inside the doc block, not a command.
End
Time 4
Timesig 4 4
SeqSize 4
DefGroove Swing   Basic swing beat.
DefGroove SwingSus  With strings.
SeqSize 2
DefGroove SwingFill   Simple 2 bar fill.
Groove Swing
DefGroove SwingPlus  Swing again, back to 4 bars.
SeqSize 4
DefGroove SwingIntro    Simple, 4 bar introduction.
SeqSize 2
DefGroove SwingEnd   Basic ending.
"""
WALTZ = """Time 3
TimeSig 3 4
SeqSize 4
DefGroove Waltz    A very boring waltz.
DefGroove WaltzWalk    Walking bass.
SeqSize 8
DefGroove WaltzIntro8   8 bar intro.
SeqSize 2
DefGroove WaltzEnd  Ending.
"""
MARCH68 = "Time 2\nTimesig 6 8\nSeqSize 4\nDefGroove 68March  A 6/8 march in 2.\n"
BLUES68 = "Time 6\nTimesig 6/8\nDefGroove Blues68\n"
VIENNESE = "Time 3\nTimesig 4 4\nDefGroove VieneseWaltz\n"  # as stdlib has it


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lib = tmp_path_factory.mktemp("mmalib")
    for name, text in (("swing", SWING), ("waltz", WALTZ), ("68march", MARCH68), ("metronome", SWING)):
        (lib / f"{name}.mma").write_text(text)
    return lib


def charts(library: Path, seeds: range) -> list[Chart]:
    styles = read_library(library)
    return [draw_chart(random.Random(seed), styles) for seed in seeds]


def test_parse_style_keeps_each_grooves_time_and_pattern_length() -> None:
    style = parse_style(SWING, "swing")
    got = {g.name: (g.role, g.beats_per_bar, g.meter, g.seq_bars) for g in style.grooves}
    assert got == {"Swing": ("main", 4, "4/4", 4), "SwingSus": ("main", 4, "4/4", 4),
                   "SwingFill": ("fill", 4, "4/4", 2), "SwingPlus": ("main", 4, "4/4", 4),  # Groove Swing restored 4
                   "SwingIntro": ("intro", 4, "4/4", 4), "SwingEnd": ("end", 4, "4/4", 2)}
    assert [(g.beats_per_bar, g.meter) for g in parse_style(MARCH68, "68march").grooves] == [(2, "6/8")]
    assert [(g.beats_per_bar, g.meter) for g in parse_style(BLUES68, "blues68").grooves] == [(6, "6/8")]
    assert [(g.beats_per_bar, g.meter) for g in parse_style(VIENNESE, "vienesewaltz").grooves] == [(3, "3/4")]


def test_read_library_skips_metronomes_and_sorts(library: Path) -> None:
    assert [s.name for s in read_library(library)] == ["68march", "swing", "waltz"]
    with pytest.raises(FileNotFoundError, match="mma"):
        read_library(library / "missing")


def test_roman_numerals() -> None:
    assert [parse_roman(r, 0).symbol for r in ("I", "vi7", "ii7", "V7", "Imaj7", "iih7", "bVII", "viio7", "#IV")] == \
        ["C", "Am7", "Dm7", "G7", "Cmaj7", "Dm7b5", "Bb", "Bdim7", "F#"]
    assert parse_roman("V7", 9).symbol == "E7"  # in A
    with pytest.raises(ValueError, match="Roman"):
        parse_roman("X7", 0)
    # two chords in a 3/4 bar: the first takes two beats
    bar = progression_bars("I V", 0, 3)[0]
    assert [c.symbol for c in bar] == ["C", "C", "G"]


def test_charts_are_deterministic_and_varied(library: Path) -> None:
    assert [chart_text(c) for c in charts(library, range(5))] == [chart_text(c) for c in charts(library, range(5))]
    many = charts(library, range(40))
    assert {c.style for c in many} == {"68march", "swing", "waltz"}
    assert len({c.tonic for c in many}) >= 8 and len({c.mode for c in many}) >= 3 and len({c.tempo for c in many}) >= 20
    assert {c.meter for c in many} == {"4/4", "3/4", "6/8"}


# training.sources' __init__ imports torch (seconds); the chart modules need none of it
CHARTS_IN_A_PROCESS = """
import random, sys, types
from pathlib import Path
sources = types.ModuleType("training.sources")
sources.__path__ = ["training/sources"]
sys.modules["training.sources"] = sources
from training.sources.mma_charts import chart_text, draw_chart, read_library
styles = read_library(Path(sys.argv[1]))
print([chart_text(draw_chart(random.Random(seed), styles)) for seed in range(10)])
"""


def test_charts_are_the_same_in_every_process(library: Path) -> None:
    def charts_with(hash_seed: str) -> str:
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(REPO)}
        return subprocess.run([sys.executable, "-c", CHARTS_IN_A_PROCESS, str(library)], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=60, check=True).stdout

    assert charts_with("1") == charts_with("2")  # no set or hash order leaks into a chart


def test_charts_respect_the_grooves(library: Path) -> None:
    styles = {s.name: s for s in read_library(library)}
    for chart in charts(library, range(40)):
        grooves = {g.name: g for g in styles[chart.style].grooves}
        assert all(grooves[b.groove].beats_per_bar == chart.beats_per_bar for b in chart.bars)
        assert all(len(b.chords) == chart.beats_per_bar for b in chart.bars)
        assert chart.meter == grooves[chart.groove].meter
        seconds = len(chart.bars) * chart.beats_per_bar * 60 / chart.tempo
        assert 40 <= seconds <= 140
        if chart.form[0] == "intro":
            assert grooves[chart.bars[0].groove].role == "intro"
        if chart.form[-1] == "end":
            assert grooves[chart.bars[-1].groove].role == "end"


@pytest.mark.skipif(not MMA_STDLIB.is_dir(), reason="MMA's groove library is not installed")
def test_charts_from_the_installed_library_vary() -> None:
    many = charts(MMA_STDLIB, range(20))
    assert len(read_library()) >= 100
    assert len({c.groove for c in many}) >= 15 and len({c.tonic for c in many}) >= 7
    assert len({c.meter for c in many}) >= 2 and len({c.tempo for c in many}) >= 15


def test_chart_text_for_a_fixed_seed(library: Path) -> None:
    chart = charts(library, range(3, 4))[0]
    lines = chart_text(chart).splitlines()
    assert lines[0].startswith("// ") and lines[1] == f"RndSeed {chart.mma_seed}" and lines[2] == f"Tempo {chart.tempo}"
    bars = [line.split() for line in lines[3:] if not line.startswith("Groove ")]
    assert len(bars) == len(chart.bars)
    for tokens, bar in zip(bars, chart.bars):
        assert len(tokens) == chart.beats_per_bar and tokens[0] == bar.chords[0].symbol
    assert [line.split()[1] for line in lines if line.startswith("Groove ")][0] == chart.bars[0].groove


def stem(name: str, n: int, program: int = 0, drum: bool = False, start: float = 0.0) -> Stem:
    return Stem(name, program, drum, [Note(start + i * 0.5, start + i * 0.5 + 0.4, 60, 90) for i in range(n)])


def test_merge_small_joins_parts_of_one_player() -> None:
    stems = [stem("bass", 40, 33), stem("walk", 60, 33, start=20.0), stem("chord", 40), stem("chord-2", 30)]
    assert [(s.name, len(s.notes)) for s in merge_small(stems)] == [("walk", 100), ("chord", 40), ("chord-2", 30)]


def test_merge_small_caps_stems_drums_first() -> None:
    stems = [stem(f"drums-{p}", 20 + i, drum=True) for i, p in enumerate(("kick", "snare", "hihat", "toms"))]
    stems += [stem("bass", 30, 32), stem("chord", 40), stem("tiny", 3), stem("arpeggio", 50, 24), stem("sus", 60, 48)]
    merged = merge_small(stems, max_stems=6)
    assert [s.name for s in merged] == ["drums-kick+snare", "drums-hihat+toms", "bass", "chord", "arpeggio", "sus"]
    assert len(merged[3].notes) == 43  # the tiny piano part joined the piano chords
    assert [s.name for s in merge_small(merged, max_stems=5)] == ["drums", "bass", "chord", "arpeggio", "sus"]
    assert [s.name for s in merge_small(merged, max_stems=3)] == ["drums", "arpeggio", "sus"]


def test_a_seed_whose_charts_all_fail_names_every_attempt(library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def reject(text: str) -> bytes:
        raise RuntimeError("mma failed (exit 1): Illegal/Unknown chord name")

    monkeypatch.setattr(mma_songs, "run_mma", reject)
    with pytest.raises(RuntimeError, match=f"no chart of seed 7 rendered in {mma_songs.ATTEMPTS} attempts: .*chord name"):
        generate_mma_song(7, "mma/00007", lib=library)


@needs_mma
def test_mma_errors_carry_its_message() -> None:
    with pytest.raises(RuntimeError, match="Unknown chord name"):
        run_mma("Tempo 100\nGroove Swing\nCmaj7 Xq7\n")


@pytest.fixture(scope="module")
def songs() -> list[SymbolicSong]:
    return [generate_mma_song(seed, f"mma/{seed:05d}") for seed in range(4)]


@needs_mma
def test_same_seed_same_song(songs: list[SymbolicSong]) -> None:
    again = generate_mma_song(2, "mma/00002")
    assert repr(again) == repr(songs[2])


@needs_mma
def test_songs_have_stems_beats_and_meta(songs: list[SymbolicSong]) -> None:
    for song in songs:
        assert 2 <= len(song.stems) <= MAX_STEMS and len({s.name for s in song.stems}) == len(song.stems)
        end = song.beats[-1] + 60 / song.tempo * 1.01  # the last beat's end; notes may ring on a little
        for stem in song.stems:
            assert stem.notes and all(0 <= n.start < end and n.start < n.end <= end + 4 and 0 <= n.pitch < 128 and 1 <= n.velocity <= 127
                                      for n in stem.notes)
            assert stem.is_drum == stem.name.startswith("drums")
        assert 50 <= song.duration <= 140
        assert song.downbeats == song.beats[:: song.meta["beats_per_bar"]]
        assert {"groove", "key", "mode", "meter", "tempo", "form"} <= set(song.meta)
    assert any(s.is_drum for song in songs for s in song.stems)
    assert len({song.meta["groove"] for song in songs}) >= 3
