"""Freedoom's music: human-composed multi-track General MIDI songs inside the game's WADs.

Debian's `freedoom` package installs freedoom1.wad and freedoom2.wad. A WAD is a 12-byte
header (`IWAD`/`PWAD`, lump count, directory offset) and a directory of 16-byte entries
(offset, size, 8-byte name); the music lumps are named `D_*` and hold standard MIDI files.
The 67 lumps hold 66 distinct tracks (one is stored twice). Half of them, by a fixed rule,
are held out as the out-of-distribution split and never trained on.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass
from pathlib import Path

from ..symbolic import Note, Stem, SymbolicSong

WAD_DIR = Path("/usr/share/games/doom")
WADS = ("freedoom1.wad", "freedoom2.wad")


@dataclass(frozen=True)
class Track:
    """One distinct music lump: its name (first occurrence), the sha1 of its bytes, the MIDI file."""

    name: str
    sha1: str
    midi: bytes


def read_music_lumps(wad: bytes) -> list[tuple[str, bytes]]:
    """(name, bytes) of every `D_*` lump of a WAD, in directory order."""
    if len(wad) < 12 or wad[:4] not in (b"IWAD", b"PWAD"):
        raise ValueError("not a WAD file: it must start with IWAD or PWAD")
    count, offset = struct.unpack_from("<ii", wad, 4)
    if offset < 12 or offset + 16 * count > len(wad):
        raise ValueError(f"WAD directory ({count} entries at {offset}) lies outside the file ({len(wad)} bytes)")
    lumps = []
    for i in range(count):
        pos, size, raw = struct.unpack_from("<ii8s", wad, offset + 16 * i)
        name = raw.rstrip(b"\0").decode("ascii", "replace")
        if name.startswith("D_") and size > 0:
            lumps.append((name, wad[pos : pos + size]))
    return lumps


def freedoom_tracks(wad_dir: Path = WAD_DIR) -> list[Track]:
    """The distinct MIDI tracks of both WADs (a track stored twice keeps its first name)."""
    tracks: dict[str, Track] = {}
    for wad in WADS:
        path = wad_dir / wad
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run training/install_system_deps.sh (Debian package freedoom)")
        for name, data in read_music_lumps(path.read_bytes()):
            if data[:4] != b"MThd":
                continue  # not a standard MIDI file (none in Freedoom 0.12; MUS lumps would land here)
            sha1 = hashlib.sha1(data).hexdigest()
            tracks.setdefault(sha1, Track(name, sha1, data))
    return list(tracks.values())


def is_held_out(track: Track, tracks: list[Track]) -> bool:
    """The out-of-distribution half: every second track in sha1 order (fixed by the bytes)."""
    return sorted(t.sha1 for t in tracks).index(track.sha1) % 2 == 0


def midi_to_song(midi: bytes, name: str) -> SymbolicSong:
    """A standard MIDI file -> one stem per (program, drum) instrument with notes in seconds."""
    import pretty_midi  # the training extra

    pm = pretty_midi.PrettyMIDI(io.BytesIO(midi))
    stems, used = [], {}
    for inst in pm.instruments:
        notes = [Note(float(n.start), float(n.end), int(n.pitch), int(n.velocity)) for n in inst.notes if n.end > n.start]
        if not notes:
            continue
        base = "drums" if inst.is_drum else pretty_midi.program_to_instrument_class(inst.program).lower()
        used[base] = used.get(base, 0) + 1
        stem_name = base if used[base] == 1 else f"{base}_{used[base]}"
        stems.append(Stem(stem_name, int(inst.program), bool(inst.is_drum), sorted(notes, key=lambda n: n.start)))
    if len(stems) < 2:
        raise ValueError(f"{name}: {len(stems)} instrument(s) with notes; a song needs two")
    beats = [float(b) for b in pm.get_beats()]
    tempo_times, tempi = pm.get_tempo_changes()
    return SymbolicSong(name=name, stems=stems, beats=beats, downbeats=[float(b) for b in pm.get_downbeats()],
                        tempo=float(tempi[0]) if len(tempi) else 120.0, meta={"tempo_changes": len(tempi)})


def load_track(lump: str, name: str, wad_dir: Path = WAD_DIR) -> SymbolicSong:
    """The song of the track whose first lump name is `lump`."""
    for track in freedoom_tracks(wad_dir):
        if track.name == lump:
            return midi_to_song(track.midi, name)
    raise ValueError(f"No Freedoom music lump named {lump!r}")
