"""The render's job list and soundfont draws: pure logic, tested without FluidSynth."""

from __future__ import annotations

import argparse
import random

import pytest

from training import render
from training.synth import TRAIN_SOUNDFONTS, VALIDATION_SOUNDFONT


def test_a_work_in_two_formats_is_one_job_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    music21_corpus = pytest.importorskip("music21.corpus")
    works = [f"corpus/monteverdi/madrigal.3.{i}.{ext}" for i in range(1, 40) for ext in ("rntxt", "mxl")]
    monkeypatch.setattr(music21_corpus, "getComposer", lambda c: works if c == "monteverdi" else [])
    jobs = render.jobs(argparse.Namespace(corpus=len(works), val_songs=1, procedural=3, mma=0,
                                          sources=["procedural", "corpus"]))
    folders = [render.job_folder(job) for job in jobs]
    n_val = sum(render.chorales.is_validation(w) for w in works[::2])  # held-out works: in val and val_timbre
    assert 0 < n_val < 39
    assert len(folders) == len(set(folders)) == 2 * 1 + 39 + n_val + 3  # val songs, works, train songs
    assert all(job[2].endswith(".mxl") for job in jobs if job[1] == "corpus")  # the first in sorted order


def test_sources_select_jobs_and_freedoom_halves_go_to_train_and_ood() -> None:
    jobs = render.jobs(argparse.Namespace(corpus=0, val_songs=2, procedural=3, mma=4, sources=["mma", "procedural"]))
    assert sorted({(j[0], j[1]) for j in jobs}) == [("train", "mma"), ("train", "procedural"), ("val", "procedural"),
                                                    ("val_timbre", "procedural")]
    assert sum(j[1] == "mma" for j in jobs) == 4
    tracks = [render.freedoom.Track(f"D_{i}", f"{i:040x}", b"") for i in range(10)]
    held = [t.name for t in tracks if render.freedoom.is_held_out(t, tracks)]
    assert held == ["D_0", "D_2", "D_4", "D_6", "D_8"]  # every second track in sha1 order


def test_soundfonts_per_split() -> None:
    rng = random.Random(0)
    assert render.draw_soundfonts(rng, 4, "val_timbre") == [VALIDATION_SOUNDFONT] * 4
    assert render.draw_soundfonts(rng, 3, "ood") == [VALIDATION_SOUNDFONT] * 3
    drawn = {sf for _ in range(50) for sf in render.draw_soundfonts(rng, 4, "train")}
    assert drawn == set(TRAIN_SOUNDFONTS)
