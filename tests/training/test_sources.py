"""Real-corpus loaders on fixture trees in each corpus' on-disk layout (MoisesDB, Slakh2100, CocoChorales)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from scipy.signal import resample_poly

from training.sampler import PairSampler
from training.sources import load_songs
from training.sources.cocochorales import load_cocochorales
from training.sources.moisesdb import load_moisesdb, split_of
from training.sources.slakh import load_slakh
from training.sources.stem_files import read_mono

RATE = 16000


def write_tone(path: Path, rate: int, seconds: float, f0: float, channels: int = 1) -> np.ndarray:
    """Write a gated tone (`channels` channels, a different phase per channel); returns its mono
    mix resampled to 16 kHz, the reference for `read()`."""
    t = np.arange(int(seconds * rate)) / rate
    gate = (t * 3 % 1.0 < 0.6)
    audio = np.stack([0.3 * gate * np.sin(2 * np.pi * f0 * t + c) for c in range(channels)], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, rate, subtype="FLOAT" if path.suffix == ".wav" else "PCM_24")
    mono = sf.read(path, dtype="float32", always_2d=True)[0].mean(axis=1)
    g = np.gcd(RATE, rate)
    return resample_poly(mono, RATE // g, rate // g) if rate != RATE else mono


def track_ids(split: str, n: int) -> list[str]:
    """`n` fixed uuids that fall in MoisesDB `split`."""
    ids = (str(uuid.uuid5(uuid.NAMESPACE_DNS, f"track{i}")) for i in range(1000))
    return [t for t in ids if split_of(t) == split][:n]


@pytest.fixture(scope="module")
def moisesdb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """Two train tracks under a provider folder and one val track right under the root; stems
    bass (two files, 44.1 kHz stereo + 16 kHz), drums, and a vocals stem whose file is missing."""
    root = tmp_path_factory.mktemp("moisesdb")
    refs = {}
    for k, tid in enumerate(track_ids("train", 2) + track_ids("val", 1)):
        folder = root / "moisesdb_v0.1" / tid if k < 2 else root / tid
        stems = {"bass": [("b1", 44100, 2, 55.0), ("b2", RATE, 1, 110.0)], "drums": [("d1", 44100, 2, 300.0)],
                 "vocals": [("v1", None, 1, 0.0)]}
        data = {"song": f"song {k}", "artist": "x", "genre": "pop", "stems": []}
        for name, tracks in stems.items():
            entry = {"stemName": name, "tracks": []}
            for tr, rate, channels, f0 in tracks:
                entry["tracks"].append({"id": f"{tr}-{k}", "trackType": name, "extension": "wav"})
                if rate:
                    refs[f"{tid}/{tr}"] = write_tone(folder / name / f"{tr}-{k}.wav", rate, 2.0 + k, f0, channels)
            data["stems"].append(entry)
        (folder / "data.json").write_text(json.dumps(data))
    return root, refs


def test_moisesdb_tracks_stems_and_split(moisesdb: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, refs = moisesdb
    train, val, test = (load_moisesdb(root, s) for s in ("train", "val", "test"))
    assert [s.name for s in train] == sorted(f"moisesdb/{t}" for t in track_ids("train", 2))
    assert [s.name for s in val] == [f"moisesdb/{track_ids('val', 1)[0]}"] and test == []
    song = train[0]
    tid = song.name.split("/")[1]
    assert song.source == "moisesdb" and song.stem_names == ["bass", "drums"]  # vocals: no file
    bass = refs[f"{tid}/b1"][:16000] + refs[f"{tid}/b2"][:16000]
    np.testing.assert_allclose(song.read(0, 16000)[0], bass, atol=1e-5)  # a stem sums its files


def test_moisesdb_split_is_a_fixed_partition() -> None:
    ids = [str(uuid.uuid5(uuid.NAMESPACE_DNS, f"t{i}")) for i in range(400)]
    counts = {s: sum(split_of(t) == s for t in ids) for s in ("train", "val", "test")}
    assert sum(counts.values()) == 400 and counts["train"] > 250 and min(counts.values()) > 20
    assert [split_of(f"track-{i}") for i in (12, 13, 22)] == ["train", "test", "test"]  # crc32, not hash()


@pytest.fixture(scope="module")
def slakh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """Track00001 (train) and Track01501 (validation) at 44.1 kHz stereo FLAC; S02 is not
    rendered, S03's file is missing."""
    root = tmp_path_factory.mktemp("slakh")
    refs = {}
    for split, track in (("train", "Track00001"), ("validation", "Track01501")):
        folder = root / split / track
        meta = {"UUID": track, "audio_dir": "stems", "stems": {}}
        for sid, cls, rendered, f0 in (("S00", "Bass", True, 55.0), ("S01", "Piano", True, 440.0),
                                       ("S02", "Guitar", False, 0.0), ("S03", "Drums", True, 0.0)):
            meta["stems"][sid] = {"inst_class": cls, "program_num": 0, "is_drum": cls == "Drums",
                                  "audio_rendered": rendered, "midi_saved": True, "plugin_name": "x.nkm"}
            if f0:
                refs[f"{track}/{sid}"] = write_tone(folder / "stems" / f"{sid}.flac", 44100, 2.5, f0, channels=2)
        (folder / "metadata.yaml").write_text(yaml.safe_dump(meta))
    return root, refs


def test_slakh_skips_unrendered_and_missing_stems(slakh: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, refs = slakh
    (song,) = load_slakh(root, "train")
    assert song.name == "slakh/Track00001" and song.stem_names == ["Bass", "Piano"]
    assert [s.name for s in load_slakh(root, "val")] == ["slakh/Track01501"] and load_slakh(root, "test") == []
    ref = refs["Track00001/S01"]
    assert song.num_samples == len(ref) == 40000  # 2.5 s at 16 kHz
    window = song.read(12345, 8000)
    assert window.shape == (2, 8000) and window.dtype == np.float32
    np.testing.assert_allclose(window[1], ref[12345:20345], atol=1e-5)  # 44.1 kHz stereo -> 16 kHz mono


def test_read_past_the_end_is_zero_padded(slakh: tuple[Path, dict[str, np.ndarray]]) -> None:
    (song,) = load_slakh(slakh[0], "train")
    tail = song.read(36000, 8000)
    assert tail.shape == (2, 8000) and np.abs(tail[:, 4000:]).max() == 0 and np.abs(tail[:, :4000]).max() > 0.1
    assert not song.read(50000, 100).any()


@pytest.fixture(scope="module")
def cocochorales(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`main_dataset/{train,valid}/<ensemble>_trackNNNNNN` with four 16 kHz voices each."""
    root = tmp_path_factory.mktemp("cocochorales")
    instruments = {0: "violin", 1: "violin", 2: "viola", 3: "cello"}
    for split, track in (("train", "string_track000001"), ("train", "brass_track000002"),
                         ("valid", "woodwind_track192001")):
        folder = root / "main_dataset" / split / track
        for voice, inst in instruments.items():
            write_tone(folder / "stems_audio" / f"{voice}_{inst}.wav", RATE, 2.0, 220.0 * (voice + 1))
        meta = {"ensemble": track.split("_")[0], "instrument_name": instruments, "tempo": 90}
        (folder / "metadata.yaml").write_text(yaml.safe_dump(meta))
    return root


def test_cocochorales_voices_in_order(cocochorales: Path) -> None:
    train = load_cocochorales(cocochorales, "train")
    assert [s.name for s in train] == ["cocochorales/brass_track000002", "cocochorales/string_track000001"]
    assert train[0].stem_names == ["violin", "violin", "viola", "cello"] and train[0].num_samples == 32000
    assert [s.name for s in load_cocochorales(cocochorales / "main_dataset", "val")] == [
        "cocochorales/woodwind_track192001"]
    assert train[0].read(0, 100).shape == (4, 100)


def test_load_songs_and_the_sampler_draw_from_every_corpus(
    moisesdb: tuple[Path, dict[str, np.ndarray]], slakh: tuple[Path, dict[str, np.ndarray]], cocochorales: Path,
) -> None:
    specs = [f"moisesdb:{moisesdb[0]}", f"slakh:{slakh[0]}", f"cocochorales:{cocochorales}"]
    songs = load_songs(specs, "unused", "train")
    assert sorted({s.source for s in songs}) == ["cocochorales", "moisesdb", "slakh"] and len(songs) == 5
    batch = PairSampler(songs, window=8000, hard_fraction=0.0).batch(np.random.default_rng(0), 12)
    assert batch.context.shape == batch.target.shape == (12, 8000)
    assert {name.split("/")[0] for name in batch.song} == {"cocochorales", "moisesdb", "slakh"}


def test_a_rendered_spec_names_its_root_or_uses_the_default(rendered_root: Path) -> None:
    by_spec = load_songs([f"rendered:{rendered_root}"], "unused", "val")
    by_root = load_songs(["rendered"], str(rendered_root), "val")
    assert [s.name for s in by_spec] == [s.name for s in by_root] and by_spec


def test_bad_source_and_split_raise() -> None:
    with pytest.raises(ValueError, match="Unknown data source"):
        load_songs(["musdb:/x"], "unused", "train")
    with pytest.raises(ValueError, match="Unknown data source"):
        load_songs(["slakh"], "unused", "train")  # no path
    with pytest.raises(ValueError, match="split"):
        load_slakh("/nonexistent", "val_timbre")


def test_read_mono_matches_whole_file_resampling(tmp_path: Path) -> None:
    ref = write_tone(tmp_path / "a.wav", 48000, 1.0, 330.0, channels=2)
    for start, length in ((0, 500), (7001, 3000), (15000, 2000)):
        expected = np.pad(ref[start : start + length], (0, max(0, start + length - len(ref))))
        np.testing.assert_allclose(read_mono(tmp_path / "a.wav", start, length), expected, atol=1e-6)
