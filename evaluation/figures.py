"""The paper's figures as PNGs, for any checkpoint.

    python -m evaluation.figures --model DIR --out docs/figures [--retrieval retrieval.json ...]

From one song of `--source`/`--split` (mix = all other stems, stem = `--stem`):
- `offset.png`: the score against the time offset of the stem against its mix (`best_offset`);
- `phasors.png`: embedding components in the complex plane as the stem is shifted in time,
  the components whose phase moves most ("rotating") beside those whose phase hardly moves
  ("magnitude-only"); complex-head models only;
- `coherence_curve.png`: the score over the whole song (`score_curve`) for the true stem, the
  same stem delayed by a quarter second, and the same kind of stem from another song;
and from `evaluation.retrieval` JSON files, `accuracy_at_k.png`: accuracy against K.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from phalar_metric.metric import PhaLarScore
from training.sources import Song

from .report import Parser, fatal, load_model, songs_from

PROG = "python -m evaluation.figures"
PREFERRED_STEMS = ("drums", "bass")  # time alignment shows best on rhythmic parts
DELAY = 0.25  # seconds, the misaligned stem of the coherence curve


def offset_figure(metric: PhaLarScore, mix: np.ndarray, stem: np.ndarray, path: Path, max_shift: float = 1.0) -> Path:
    """Score against the stem's offset (seconds, > 0: delayed) from `[samples]` clips at the model rate."""
    best = metric.best_offset(mix, stem, metric.sample_rate, max_shift=max_shift)
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    ax.plot(best.scores[:, 0] * 1000, best.scores[:, 1], lw=1.2)
    ax.axvline(0, color="k", ls=":", lw=1, label="aligned")
    ax.axvline(best.seconds * 1000, color="C3", ls="--", lw=1, label=f"best: {best.seconds * 1000:+.0f} ms")
    ax.set(xlabel="offset of the stem (ms)", ylabel="score", title="Score against time offset")
    ax.legend()
    return save_png(fig, path)


def phasor_figure(metric: PhaLarScore, stem: np.ndarray, start: int, path: Path, max_shift: float = 0.5,
                  n_shifts: int = 48, n_components: int = 3) -> Path:
    """Trajectories of embedding components as the window over `stem` `[samples]` (model
    rate) moves back by 0 to `max_shift` s from sample `start` (i.e. the stem is delayed).

    Raises:
        ValueError: the model's embeddings are real (a real-head ablation), or `start` is
            less than `max_shift` seconds into the stem.
    """
    rate, window = metric.sample_rate, metric.model.config.window_samples
    shifts = np.linspace(0, max_shift * rate, n_shifts).astype(int)
    if start < shifts[-1] or start + window > len(stem):
        raise ValueError(f"the phasor excerpt needs {max_shift} s of stem before sample {start} and a window after it")
    emb = np.stack([e[0] for e in metric.embed([stem[start - k : start - k + window] for k in shifts], rate)])
    if not np.iscomplexobj(emb):
        raise ValueError("phasor plots need complex embeddings; this model has a real head")
    z = emb / (np.abs(emb).mean(0) + 1e-9)  # [n_shifts, n], unit mean magnitude per component
    movement = np.abs(np.angle(z[1:] / (z[:-1] + 1e-12))).sum(0)  # total phase travelled, radians
    strong = np.flatnonzero(np.abs(emb).mean(0) >= np.median(np.abs(emb).mean(0)))
    order = strong[np.argsort(movement[strong])]
    picks = {"rotating (phase follows the shift)": order[::-1][:n_components],
             "magnitude-only (phase hardly moves)": order[:n_components]}  # fmt: skip
    fig = Figure(figsize=(9, 4.5))
    axes = fig.subplots(1, 2)
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 200))
    for ax, (title, comps) in zip(axes, picks.items()):
        ax.plot(circle.real, circle.imag, color="0.8", lw=0.8)
        for c in comps:
            ax.plot(z[:, c].real, z[:, c].imag, lw=1, label=f"#{c}: {np.degrees(movement[c]):.0f}°")
            ax.scatter(z[:, c].real, z[:, c].imag, c=shifts / rate * 1000, cmap="viridis", s=10)
        ax.axhline(0, color="0.6", lw=0.5)
        ax.axvline(0, color="0.6", lw=0.5)
        ax.set(title=title, xlabel="Re", ylabel="Im", aspect="equal")
        ax.legend(fontsize=8)
    fig.suptitle(f"Embedding components as the stem is delayed by 0-{max_shift * 1000:.0f} ms (colour)")
    return save_png(fig, path)


def accuracy_figure(results: list[dict], path: Path) -> Path:
    """Accuracy against K for every model and baseline of `evaluation.retrieval` JSON results."""
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ks = []
    for res in results:
        for name, metrics in res["results"].items():
            k_acc = sorted((int(k.split("@")[1]), v) for k, v in metrics.items() if k.startswith("acc@"))
            ks += [k for k, _ in k_acc]
            ax.plot(*zip(*k_acc), marker="o", label=f"{name} ({res['split']})" if len(results) > 1 else name)
    k_grid = np.array(sorted(set(ks)))
    ax.plot(k_grid, 1 / k_grid, "k:", label="chance (1/K)")
    ax.set(xscale="log", xlabel="K (candidates)", ylabel="accuracy", ylim=(0, 1), title="Stem retrieval accuracy")
    ax.set_xticks(k_grid, [str(k) for k in k_grid])
    ax.set_xticks([], minor=True)
    ax.legend(fontsize=8)
    return save_png(fig, path)


def coherence_figure(metric: PhaLarScore, mix: np.ndarray, stem: np.ndarray, other: np.ndarray, path: Path,
                     hop: float = 1.0) -> Path:
    """The score over time of `mix` with `stem`, with `stem` delayed by `DELAY` s and with
    `other` (a stem of another song); `[samples]` clips at the model rate, `other` is looped
    or cut to the mix's length."""
    rate = metric.sample_rate
    delayed = np.concatenate([np.zeros(int(DELAY * rate), stem.dtype), stem[: len(stem) - int(DELAY * rate)]])
    fig = Figure(figsize=(8, 3.5))
    ax = fig.subplots()
    for label, clip in (("true stem", stem), (f"true stem, {DELAY * 1000:.0f} ms late", delayed),
                        ("stem of another song", np.resize(other, len(mix)))):  # fmt: skip
        times, scores = metric.score_curve(mix, clip, rate, hop_seconds=hop)
        ax.plot(times, scores, label=label)
    ax.set(xlabel="time (s, window centre)", ylabel="score", title="Coherence over the song")
    ax.legend(fontsize=8)
    return save_png(fig, path)


def song_parts(song: Song, stem: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    """`(mix, stem, stem name)` of a whole song: the stem and the sum of all other stems, `[samples]`."""
    names = song.stem_names
    name = stem or next((n for n in PREFERRED_STEMS if n in names), names[0])
    if name not in names:
        raise ValueError(f"--stem {name!r} is not a stem of {song.name} ({names})")
    stems = song.read(0, song.num_samples)
    i = names.index(name)
    return np.delete(stems, i, axis=0).sum(0), stems[i], name


def save_png(fig: Figure, path: Path) -> Path:
    """Write `fig` as a PNG with the Agg renderer (no pyplot, no global state)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    return path


def get_parser() -> argparse.ArgumentParser:
    """The figure command's arguments."""
    p = Parser(prog=PROG, description="Figures of a PhaLar checkpoint: offset, phasors, coherence curve, acc@K.")
    p.add_argument("--model", required=True, help="checkpoint folder, run folder or Hub repo id")
    p.add_argument("--revision", help="Hub revision of --model")
    p.add_argument("--out", type=Path, default=Path("docs/figures"), help="output folder (default: docs/figures)")
    p.add_argument("--source", default="rendered:../data/rendered", help="songs: rendered:ROOT or NAME:PATH")
    p.add_argument("--split", default="val", help="split of --source (default: val)")
    p.add_argument("--song", type=int, default=0, help="index of the song in the split (default: 0)")
    p.add_argument("--stem", help=f"the stem (default: the first of {PREFERRED_STEMS} present, else the first)")
    p.add_argument("--max-shift", type=float, default=1.0, help="largest offset of offset.png in s (default: 1)")
    p.add_argument("--retrieval", type=Path, action="append", default=[], help="retrieval JSON for accuracy_at_k.png")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    return p


def main(argv: list[str] | None = None) -> list[Path]:
    """Write the figures; returns their paths. User errors exit with one line on stderr."""
    args = get_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        metric = PhaLarScore(load_model(args.model, args.revision))
        songs = songs_from([args.source], args.split)
        if not 0 <= args.song < len(songs) - 1:
            raise ValueError(f"--song must be in [0, {len(songs) - 2}] (the next song gives the mismatched stem)")
        mix, stem, name = song_parts(songs[args.song], args.stem)
        other = song_parts(songs[args.song + 1], name if name in songs[args.song + 1].stem_names else None)[1]
        results = [json.loads(p.read_text()) for p in args.retrieval]
    except (ValueError, OSError, RuntimeError) as err:
        fatal(PROG, str(err))
    window = metric.model.config.window_samples
    start = max(int(0.5 * metric.sample_rate), (len(stem) - window) // 2)  # the middle window, 0.5 s in at least
    excerpt = slice(start, start + window)
    paths = [offset_figure(metric, mix[excerpt], stem[excerpt], args.out / "offset.png", args.max_shift),
             coherence_figure(metric, mix, stem, other, args.out / "coherence_curve.png")]  # fmt: skip
    try:
        paths.append(phasor_figure(metric, stem, start, args.out / "phasors.png"))
    except ValueError as err:
        print(f"{PROG}: skipping phasors.png: {err}", file=sys.stderr)
    if results:
        paths.append(accuracy_figure(results, args.out / "accuracy_at_k.png"))
    for p in paths:
        print(p)
    return paths


if __name__ == "__main__":
    main()
