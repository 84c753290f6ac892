"""Render symbolic stems to audio with FluidSynth, one stem at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .symbolic import Stem

SOUNDFONT_DIR = Path("/usr/share/sounds/sf2")
# Training soundfonts (Debian: fluid-soundfont-gm, csound-soundfont (sf_GMbank), opl3-soundfont)
# with their draw weights; TimGM6mb (timgm6mb-soundfont) is reserved for validation.
TRAIN_SOUNDFONTS = {"FluidR3_GM.sf2": 0.5, "sf_GMbank.sf2": 0.3, "OPL-3_FM_128M.sf2": 0.2}
VALIDATION_SOUNDFONT = "TimGM6mb.sf2"
# Sampled acoustic drum kits (Debian: avldrums.lv2-soundfont), training only: one kit each,
# bank 0 preset 0 with the General MIDI drum map.
DRUM_KITS = ("Black_Pearl_4_LV2.sf2", "Red_Zeppelin_4_LV2.sf2")


class StemSynth:
    """A FluidSynth instance per soundfont, rendering one stem at a time to mono float32."""

    def __init__(self, sample_rate: int = 16000, tail_seconds: float = 1.0) -> None:
        import fluidsynth  # pyfluidsynth; needs Debian's libfluidsynth (training/install_system_deps.sh)

        self.sample_rate = sample_rate
        self.tail = int(tail_seconds * sample_rate)
        self._fluidsynth = fluidsynth
        self._synths: dict[str, tuple[object, int]] = {}

    def _synth(self, soundfont: str) -> tuple[object, int]:
        if soundfont not in self._synths:
            path = SOUNDFONT_DIR / soundfont
            if not path.exists():
                raise FileNotFoundError(f"Soundfont {path} is missing: run training/install_system_deps.sh")
            fs = self._fluidsynth.Synth(samplerate=float(self.sample_rate), gain=0.5)
            self._synths[soundfont] = (fs, fs.sfload(str(path)))
        return self._synths[soundfont]

    def render(self, stem: Stem, soundfont: str, n_samples: int) -> np.ndarray:
        """Render `stem` with `soundfont` to `[n_samples]` float32 mono in [-1, 1]."""
        fs, sfid = self._synth(soundfont)
        fs.system_reset()
        chan = 9 if stem.is_drum else 0
        if soundfont in DRUM_KITS:
            if not stem.is_drum:
                raise ValueError(f"{soundfont} is a drum kit; stem {stem.name!r} is not a drum stem")
            fs.program_select(chan, sfid, 0, 0)
        else:
            fs.program_select(chan, sfid, 128 if stem.is_drum else 0, stem.program)
        events = sorted(
            [(n.start, 1, n.pitch, n.velocity) for n in stem.notes]
            + [(n.end, 0, n.pitch, 0) for n in stem.notes],
        )  # note-offs sort before note-ons at the same time
        chunks, pos = [], 0
        for time, is_on, pitch, velocity in events:
            at = int(round(time * self.sample_rate))
            if at >= n_samples:  # past the rendered span (a cropped song): queue nothing more
                break
            if at > pos:
                chunks.append(fs.get_samples(at - pos))
                pos = at
            if is_on:
                fs.noteon(chan, pitch, velocity)
            else:
                fs.noteoff(chan, pitch)
        if n_samples > pos:
            chunks.append(fs.get_samples(n_samples - pos))
        for p in range(128):  # silence anything left for the next stem
            fs.noteoff(chan, p)
        fs.get_samples(self.tail)
        stereo = np.concatenate(chunks).astype(np.float32).reshape(-1, 2) if chunks else np.zeros((0, 2), np.float32)
        return stereo.mean(axis=1)[:n_samples] / 32768.0
