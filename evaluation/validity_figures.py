"""The validity suite's curves as PNGs: score against time offset and against transposition.

One panel per scorer (each PhaLar model, the baseline): the change of the score from the
unshifted (untransposed) stem, averaged over trials, with its 95% interval as a band
(`validity_stats.curves`); each scorer on its own scale. Paired differences, because the
spread of scores between trials would hide the effect of the degradation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from .figures import save_png

CURVES = {  # curve key -> (file name, x label, title)
    "offset_ms": ("validity_offset.png", "offset of the stem (ms, > 0: delayed; zero-filled)",
                  "Score against time offset"),
    "transpose_st": ("validity_transpose.png", "transposition of the stem (semitones, tempo kept)",
                     "Score against transposition"),
}


def curve_figures(curves: dict[str, dict[str, Any]], out: Path) -> list[Path]:
    """Write one PNG per curve key of `curves` (scorer -> key -> curve) into `out`; their paths."""
    paths = []
    for key, (name, xlabel, title) in CURVES.items():
        panels = {scorer: c[key] for scorer, c in curves.items() if key in c}
        if not panels:
            continue
        fig = Figure(figsize=(4.2 * len(panels), 3.6))
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (scorer, c) in zip(axes, panels.items()):
            ax.fill_between(c["x"], c["delta_ci95_lo"], c["delta_ci95_hi"], alpha=0.3, label="95% interval")
            ax.plot(c["x"], c["delta_mean"], marker=".", lw=1.2, label=f"mean of {c['n']} trials")
            ax.axvline(0, color="k", ls=":", lw=1)
            ax.axhline(0, color="0.5", lw=0.8)
            ax.set(xlabel=xlabel, ylabel="score change from x = 0", title=scorer)
            ax.legend(fontsize=7)
        fig.suptitle(title)
        paths.append(save_png(fig, out / name))
    return paths
