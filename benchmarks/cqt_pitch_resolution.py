"""How far apart one semitone is in the front-end: a tone's level in its neighbouring CQT bins.

    python -m benchmarks.cqt_pitch_resolution                      # filter scales 1 (shipped), 1.5, 2, 3

For each CQT `filter_scale` (`PhaLarConfig.filter_scale`, nnAudio's window-length factor),
a 5 s sine at the centre of bin `--bin` (and a low one at bin 10) goes through the front-end
of the shipped config with that filter scale (unit-dB scale: 1 = the clip's peak, 0 = `top_db`
below it). Printed: the time-averaged level of the bins two below to two above the tone.
With the shipped filter scale 1 a note fills three bins at 0.93, 1.00, 0.93 (-5.6 dB one
semitone away), so a transposition by one semitone moves a plateau by one bin: the least
audible change for the network (docs/training.md, run pitchpair).
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch

from phalar_metric.config import PhaLarConfig
from phalar_metric.frontend import Frontend


def neighbour_levels(config: PhaLarConfig, filter_scale: float, tone_bin: int, spread: int = 2) -> np.ndarray:
    """`[2 * spread + 1]` levels of the front-end of `config` with `filter_scale`, in bins
    `tone_bin - spread .. tone_bin + spread`, for a 5 s sine at the centre of `tone_bin`."""
    frontend = Frontend(dataclasses.replace(config, filter_scale=filter_scale))
    t = np.arange(5 * config.sample_rate) / config.sample_rate
    freq = config.fmin * 2.0 ** (tone_bin / config.bins_per_octave)
    wav = torch.tensor(np.sin(2 * np.pi * freq * t)[None], dtype=torch.float32)
    with torch.no_grad():
        level = frontend(wav)[0].mean(-1).numpy()
    return level[tone_bin - spread : tone_bin + spread + 1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,1.5,2,3", help="comma-separated nnAudio filter_scale values")
    parser.add_argument("--bin", type=int, default=45, help="the tone's bin (default 45: A4, 440 Hz)")
    args = parser.parse_args(argv)
    config = PhaLarConfig()
    print("filter_scale | tone bin | levels at -2 .. +2 bins")
    for scale in (float(s) for s in args.scales.split(",")):
        for tone_bin in (args.bin, 10):
            levels = " ".join(f"{v:.2f}" for v in neighbour_levels(config, scale, tone_bin))
            print(f"{scale:g} | {tone_bin} | {levels}")


if __name__ == "__main__":
    main()
