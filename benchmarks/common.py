"""Shared plumbing of the benchmark scripts: arguments, the model, synthetic music, timing, environment.

Tables and JSON are written by `evaluation.report` (`markdown_table`, `write_outputs`).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from evaluation.report import load_model
from phalar_metric.config import PhaLarConfig
from phalar_metric.hub import WEIGHTS_NAME, default_weights_dir, load_default
from phalar_metric.model import PhaLar

RANDOM_MODEL_NOTE = (
    "randomly initialised default model PhaLar(PhaLarConfig()), seed 0 "
    "(no --model and no shipped weights; speed and memory do not depend on the weights)"
)


def get_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser with the options every benchmark takes: --model, --device, --threads, --quick, --json."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--model", help="checkpoint folder, run folder or Hub repo id "
                                   "(default: shipped weights, else a random model)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: cpu)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch and numpy (default: 2)")
    p.add_argument("--quick", action="store_true", help="a smoke run: a few clips, one repeat")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    return p


def parse_args(
    parser: argparse.ArgumentParser, quick: dict[str, Any], argv: Sequence[str] | None
) -> argparse.Namespace:
    """Parse `argv`; with --quick the defaults become `quick` (options given explicitly still win)."""
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**quick)
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads expected a positive integer, got {args.threads}")
    return args


def set_threads(n: int) -> None:
    """Use `n` CPU threads in torch and in numpy / scipy's BLAS and OpenMP pools."""
    torch.set_num_threads(n)
    threadpool_limits(n)


def benchmark_model(spec: str | None, device: str) -> tuple[PhaLar, str]:
    """The model to benchmark, in eval mode on `device`, and a line saying which it is.

    `spec` (a checkpoint folder, run folder or Hub repo id, see `evaluation.report.load_model`)
    if given, else the shipped weights if installed, else a seeded random `PhaLar(PhaLarConfig())`.
    """
    if spec is not None:
        return load_model(spec, device=device), f"checkpoint {spec}"
    if (default_weights_dir() / WEIGHTS_NAME).is_file():
        return load_default(device), "shipped default weights"
    torch.manual_seed(0)
    return PhaLar(PhaLarConfig()).to(device).eval(), RANDOM_MODEL_NOTE


def synth_music(
    seconds: float, rate: int, seed: int = 0, parts: Sequence[str] = ("bass", "chords", "drums"), offset: float = 0.0
) -> np.ndarray:
    """Deterministic synthetic music `[samples]` float32 at `rate` Hz, |x| < 1.

    A bass line and triads over a 16-bar progression and a kick / hi-hat pattern; `seed` picks
    the tempo (80-160 BPM) and the progression, `parts` which of "bass", "chords", "drums"
    sound. The signal is a function of absolute time: `offset` (seconds) continues it, so a
    long song can be written block by block.
    """
    rng = np.random.default_rng(seed)
    beat = 60.0 / rng.uniform(80.0, 160.0)  # s
    roots = rng.integers(0, 12, size=16)  # semitones above A1 (55 Hz), one per 4-beat bar
    t = offset + np.arange(int(round(seconds * rate))) / rate
    root = roots[(t // (4 * beat)).astype(np.int64) % len(roots)]
    out = np.zeros_like(t)
    if "bass" in parts:
        f0 = 55.0 * 2.0 ** (root / 12)
        out += sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t) for k in (1, 2, 3))
    if "chords" in parts:
        for interval in (12, 15, 19):  # a minor triad an octave up
            f0 = 55.0 * 2.0 ** ((root + interval) / 12)
            out += 0.1 * np.sin(2 * np.pi * f0 * t) + 0.05 * np.sin(4 * np.pi * f0 * t)
    if "drums" in parts:
        kick = t % beat  # s since the last beat
        hat = (t + beat / 2) % beat  # s since the last off-beat
        out += 0.5 * np.exp(-kick / 0.06) * np.sin(2 * np.pi * 55.0 * kick)
        out += 0.2 * np.exp(-hat / 0.01) * np.sin(2 * np.pi * 3000.0 * hat)
    return (0.5 * out).astype(np.float32)


@dataclass
class Timing:
    """Seconds per repeat: `wall` (elapsed) and `cpu` (CPU time of this process, all threads)."""

    wall: list[float]
    cpu: list[float]

    @property
    def seconds(self) -> float:
        """Median wall seconds per repeat."""
        return statistics.median(self.wall)

    def to_dict(self) -> dict[str, Any]:
        return {"wall_s": self.wall, "cpu_s": self.cpu, "median_wall_s": self.seconds}


def measure(fn: Callable[[], object], repeats: int, device: str) -> Timing:
    """Time `repeats` calls of `fn` after one untimed warm-up call (CUDA work is waited for)."""
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    fn()
    sync()
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        sync()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return Timing(wall, cpu)


def environment(args: argparse.Namespace, model_note: str) -> dict[str, Any]:
    """What the numbers were measured on, including the load average (an idle machine reads ~0)."""
    return {
        "model": model_note,
        "device": args.device,
        "threads": args.threads,
        "quick": args.quick,
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "load_average_1min": os.getloadavg()[0],
    }


def environment_lines(env: dict[str, Any]) -> str:
    """The environment as Markdown bullet lines."""
    return "".join(f"- {key}: {value}\n" for key, value in env.items())
