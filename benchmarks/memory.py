"""Peak memory and wall time of scoring a long mix / stem pair from files.

    python -m benchmarks.memory [--minutes 10] [--rate 44100] [--channels 2] [--format wav] [--json OUT]
    python -m benchmarks.memory --quick          # a smoke run: a 0.5-minute pair

A synthetic song (`benchmarks.common.synth_music`: the mix is bass + chords + drums, the
stem its bass + drums) is written block by block to two audio files in a temporary folder.
A fresh Python process then loads the metric and scores the FILES with `PhaLarScore.score`,
so reading, mixing to mono and resampling are included, and reports:
- `load_s`: wall seconds of `phalar_metric.audio.load_audio` of both files alone (a first,
  separate pass: where the non-model time goes);
- `score_s`: wall seconds of `PhaLarScore.score(mix_path, stem_path)` (loading included);
- `baseline_rss_mb`: resident memory after imports and model loading, before scoring;
- `peak_rss_mb`: the process's peak resident memory (`ru_maxrss`), which includes that
  baseline, and `sampled_peak_rss_mb`, the largest RSS seen by a psutil thread every 10 ms;
- `peak_gpu_mb` (JSON only, with `--device cuda`): `torch.cuda.max_memory_allocated()`.
Targets for 10 minutes on a 2-core CPU: under 15 s and under 2 GB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import psutil
import soundfile as sf
import torch

from evaluation.report import markdown_table, write_outputs
from phalar_metric.audio import load_audio
from phalar_metric.metric import PhaLarScore

from .common import benchmark_model, environment, environment_lines, get_parser, parse_args, set_threads, synth_music

PROG = "python -m benchmarks.memory"
QUICK = {"minutes": 0.5}
TARGET_SECONDS = 15.0  # for a 10-minute pair
TARGET_RSS_MB = 2048.0
BLOCK_SECONDS = 10.0  # the song is written in blocks of this length
REPO_ROOT = Path(__file__).resolve().parents[1]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Write the pair, score it in a child process, print the Markdown report; returns the JSON result."""
    p = get_parser(PROG, "Peak RSS and wall time of PhaLarScore.score on a long pair of audio files.")
    p.add_argument("--minutes", type=float, default=10.0, help="length of the mix and the stem (default: 10)")
    p.add_argument("--rate", type=int, default=44100, help="sample rate of the files in Hz (default: 44100)")
    p.add_argument("--channels", type=int, default=2, help="channels of the files (default: 2)")
    p.add_argument("--format", choices=("wav", "flac"), default="wav", help="file format (default: wav)")
    p.add_argument("--batch-size", type=int, default=16, help="PhaLarScore batch_size (default: 16)")
    p.add_argument("--child", nargs=2, metavar=("MIX", "STEM"), help=argparse.SUPPRESS)  # the measuring process
    args = parse_args(p, QUICK, argv)
    if args.child:
        print(json.dumps(measure_scoring(args)))
        return {}
    if not (args.minutes > 0 and args.rate > 0 and args.channels > 0 and args.batch_size > 0):
        p.error("--minutes, --rate, --channels and --batch-size must be positive")
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f"{name}.{args.format}" for name in ("mix", "stem")]
        for path, parts in zip(paths, (("bass", "chords", "drums"), ("bass", "drums"))):
            write_song(path, args.minutes * 60, args.rate, args.channels, parts)
        child = [sys.executable, "-m", "benchmarks.memory", "--child", *map(str, paths)] + _forwarded(args)
        run = subprocess.run(child, cwd=REPO_ROOT, capture_output=True, text=True)
    if run.returncode:
        sys.exit(f"{PROG}: the measuring process failed:\n{run.stderr}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    result["files"] = {"minutes": args.minutes, "rate": args.rate, "channels": args.channels, "format": args.format}
    result["targets"] = {
        "met_seconds": result["score_s"] < TARGET_SECONDS,
        "met_rss": result["peak_rss_mb"] < TARGET_RSS_MB,
        "applies": args.minutes == 10.0,
    }
    write_outputs(result, report(result), args.json, None)
    return result


def write_song(path: Path, seconds: float, rate: int, channels: int, parts: Sequence[str]) -> None:
    """Write `seconds` of `synth_music(parts=parts)` to `path`, block by block (memory stays small)."""
    block = int(BLOCK_SECONDS * rate)
    total = int(round(seconds * rate))
    gains = np.linspace(0.9, 1.1, channels, dtype=np.float32)  # channels differ a little
    with sf.SoundFile(path, "w", samplerate=rate, channels=channels, subtype="PCM_16") as f:
        for start in range(0, total, block):
            wav = synth_music(min(block, total - start) / rate, rate, parts=parts, offset=start / rate)
            f.write(wav[:, None] * gains)


def measure_scoring(args: argparse.Namespace) -> dict[str, Any]:
    """In the child process: load the metric, time loading and scoring of the pair, track memory."""
    set_threads(args.threads)
    model, note = benchmark_model(args.model, args.device)
    metric = PhaLarScore(model, batch_size=args.batch_size)
    process = psutil.Process()
    baseline_mb = process.memory_info().rss / 2**20
    sampler = _PeakSampler(process)
    with sampler:
        start = time.perf_counter()
        for path in args.child:
            load_audio(path, None, model.config)
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        score = metric.score(*args.child)
        score_s = time.perf_counter() - start
    cuda = torch.device(args.device).type == "cuda"
    return {
        "environment": environment(args, note),
        "score": score,
        "load_s": load_s,
        "score_s": score_s,
        "baseline_rss_mb": baseline_mb,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        "sampled_peak_rss_mb": sampler.peak / 2**20,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
    }


class _PeakSampler:
    """A context that samples a process's RSS every `interval` seconds in a thread; `peak` in bytes."""

    def __init__(self, process: psutil.Process, interval: float = 0.01) -> None:
        self.process, self.interval, self.peak = process, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> "_PeakSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _forwarded(args: argparse.Namespace) -> list[str]:
    """The options the child process needs."""
    out = ["--device", args.device, "--threads", str(args.threads), "--batch-size", str(args.batch_size)]
    return out + (["--model", args.model] if args.model else []) + (["--quick"] if args.quick else [])


def report(result: dict[str, Any]) -> str:
    """The Markdown report of a `main` result."""
    files, targets = result["files"], result["targets"]
    row = [f"{files['minutes']:g} min, {files['rate']} Hz, {files['channels']} ch, {files['format']}",
           result["load_s"], result["score_s"], result["baseline_rss_mb"], result["peak_rss_mb"],
           result["sampled_peak_rss_mb"]]  # fmt: skip
    verdict = (
        f"Targets (10 min: < {TARGET_SECONDS:g} s, < {TARGET_RSS_MB:g} MB): "
        f"time {'met' if targets['met_seconds'] else 'NOT met'}, memory {'met' if targets['met_rss'] else 'NOT met'}"
        if targets["applies"] else "Targets apply to a 10-minute pair (--minutes 10) only"
    )  # fmt: skip
    return (
        "## Memory and time of scoring a pair of files\n\n" + environment_lines(result["environment"]) + "\n"
        + markdown_table(["pair", "load both (s)", "score (s)", "RSS before (MB)", "peak RSS (MB)",
                          "sampled peak (MB)"], [row], 1)  # fmt: skip
        + f"\n{verdict}\n"
    )


if __name__ == "__main__":
    main()
