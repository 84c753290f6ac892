"""Speed of the PhaLar metric beside a COCOLA-style pipeline, in one run on the same clips.

    python -m benchmarks.speed [--threads 2] [--batch-sizes 1,16,32] [--clips 64] [--json OUT]
    python -m benchmarks.speed --quick            # a smoke run: 4 clips, one repeat

Measured, all with `--threads` CPU threads (torch and numpy) on `--device`:
1. embedding throughput in 5 s clips per second, audio in -> embedding out, per batch size:
   the public `PhaLarScore.embed` (16 kHz numpy clips in, numpy window embeddings out), the raw
   `PhaLar.embed` forward under `torch.inference_mode()` (a `[B, 80000]` tensor in), and the
   COCOLA-style pipeline of `benchmarks.cocola_reference` (same tensor in, HPSS included);
2. retrieval: the pool of clips embedded once, then `--trials` trials of one mix against K
   candidates by `functional.window_score_matrix` (the matrix products): ms per trial;
3. training throughput, clips per second of a training step (2 clips per pair: forward of
   context and target, InfoNCE, backward, gradient clipping, AdamW as in training/train.py)
   of the default model and of the GAP ablation, in float32 and under bf16 autocast (`--amp=bf16`).
Times are medians over `--repeats` after one warm-up; the JSON has every repeat's wall and
CPU seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import time
from typing import Any, Sequence

import numpy as np
import torch

from evaluation.report import markdown_table, write_outputs
from phalar_metric.config import PhaLarConfig
from phalar_metric.functional import window_score_matrix
from phalar_metric.metric import PhaLarScore
from phalar_metric.model import PhaLar, count_parameters
from training.sampler import Batch
from training.train import ContrastiveStep, TrainConfig, draw_negatives, pair_loss, param_groups

from .cocola_reference import CocolaStyle
from .cocola_reference import count_parameters as cocola_parameters
from .common import benchmark_model, environment, environment_lines, get_parser, measure, parse_args, set_threads
from .common import synth_music

PROG = "python -m benchmarks.speed"
QUICK = {"clips": 4, "batch_sizes": "2", "repeats": 1, "trials": 50, "train_batch": 2, "train_steps": 1}
TARGET_CLIPS_PER_S = 40.0  # 5 s clips per second through the public API, 2-core CPU
TARGET_RATIO = 8.0  # PhaLar / COCOLA-style embedding throughput
TRAIN_VARIANTS = {"default": {}, "gap": {"pooling": "gap", "head": "real"}}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run every measurement, print the Markdown report; returns the JSON result."""
    p = get_parser(PROG, "Embedding, retrieval and training speed of PhaLar beside a COCOLA-style pipeline.")
    p.add_argument("--clips", type=int, default=64, help="5 s clips embedded per measurement (default: 64)")
    p.add_argument("--batch-sizes", type=_int_list, default="1,16,32", help="embedding batch sizes (default: 1,16,32)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats after a warm-up (default: 3)")
    p.add_argument("--k", type=int, default=64, help="candidates per retrieval trial (default: 64)")
    p.add_argument("--trials", type=int, default=1000, help="retrieval trials (default: 1000)")
    p.add_argument("--train-batch", type=int, default=32, help="pairs per training step (default: 32)")
    p.add_argument("--train-steps", type=int, default=3, help="timed training steps (default: 3)")
    args = parse_args(p, QUICK, argv)
    batch_sizes = args.batch_sizes
    if min([args.clips, args.repeats, args.k, args.trials, args.train_batch, args.train_steps, *batch_sizes]) < 1:
        p.error("--clips, --batch-sizes, --repeats, --k, --trials, --train-batch and --train-steps must be positive")
    set_threads(args.threads)
    model, note = benchmark_model(args.model, args.device)
    torch.manual_seed(0)
    cocola = CocolaStyle().to(args.device).eval()
    rate = model.config.sample_rate
    clips = np.stack([synth_music(model.config.window_seconds, rate, seed=i) for i in range(args.clips)])

    result = {
        "environment": environment(args, note),
        "parameters": {"phalar": count_parameters(model), "cocola_style": cocola_parameters(cocola)},
        "embedding": embedding_throughput(model, cocola, clips, batch_sizes, args.repeats, args.device),
        "retrieval": retrieval_cost(model, clips, args.k, args.trials, max(batch_sizes), args.device),
        "training": training_throughput(clips, args.train_batch, args.train_steps, args.device),
    }
    best = max(result["embedding"], key=lambda r: r["phalar_public_clips_per_s"])
    result["targets"] = {
        "phalar_public_clips_per_s": best["phalar_public_clips_per_s"],
        "met_clips_per_s": best["phalar_public_clips_per_s"] >= TARGET_CLIPS_PER_S,
        "ratio_public_vs_cocola": best["ratio_public"],
        "met_ratio": best["ratio_public"] >= TARGET_RATIO,
    }
    write_outputs(result, report(result), args.json, None)
    return result


def embedding_throughput(
    model: PhaLar, cocola: CocolaStyle, clips: np.ndarray, batch_sizes: list[int], repeats: int, device: str
) -> list[dict[str, Any]]:
    """Clips per second of the three embedding paths on `clips` `[N, samples]` at 16 kHz, per batch size."""
    rate = model.config.sample_rate
    wav = torch.from_numpy(clips).to(device)
    rows = []
    for batch in batch_sizes:
        metric = PhaLarScore(model, batch_size=batch)
        timings = {
            "phalar_public": measure(lambda: metric.embed(list(clips), sample_rate=rate), repeats, device),
            "phalar_raw": measure(lambda: embed_batches(model, wav, batch), repeats, device),
            "cocola_style": measure(lambda: embed_batches(cocola, wav, batch), repeats, device),
        }
        row: dict[str, Any] = {"batch": batch, "clips": len(clips)}
        for name, timing in timings.items():
            row[f"{name}_clips_per_s"] = len(clips) / timing.seconds
            row[f"{name}_timing"] = timing.to_dict()
        row["ratio_public"] = row["phalar_public_clips_per_s"] / row["cocola_style_clips_per_s"]
        row["ratio_raw"] = row["phalar_raw_clips_per_s"] / row["cocola_style_clips_per_s"]
        rows.append(row)
    return rows


def embed_batches(model: PhaLar | CocolaStyle, wav: torch.Tensor, batch: int) -> torch.Tensor:
    """`model.embed` of `wav` `[N, samples]` in batches of `batch`, under inference mode: `[N, dim]`."""
    with torch.inference_mode():
        return torch.cat([model.embed(wav[i : i + batch]) for i in range(0, len(wav), batch)])


def retrieval_cost(model: PhaLar, clips: np.ndarray, k: int, trials: int, batch: int, device: str) -> dict[str, Any]:
    """Embed the pool `clips` `[N, samples]` once, then time `trials` one-mix-vs-`k` score rows."""
    metric = PhaLarScore(model, batch_size=batch)
    start = time.perf_counter()
    emb = torch.from_numpy(np.stack(metric.embed(list(clips), sample_rate=model.config.sample_rate))).to(device)
    embed_s = time.perf_counter() - start  # [N, W, n] embeddings of the pool
    rng = np.random.default_rng(0)
    n = len(emb)
    candidates = [torch.from_numpy(rng.choice(n, size=k, replace=n < k)).to(device) for _ in range(trials)]

    def run() -> None:
        for i, idx in enumerate(candidates):
            window_score_matrix(model, emb[i % n][None], emb[idx])  # [1, k]

    timing = measure(run, 1, device)
    return {"k": k, "trials": trials, "pool_clips": n, "embed_pool_s": embed_s,
            "ms_per_trial": 1e3 * timing.seconds / trials, "timing": timing.to_dict()}  # fmt: skip


def training_throughput(clips: np.ndarray, batch: int, steps: int, device: str) -> list[dict[str, Any]]:
    """Clips per second (contexts and targets, not counting the extra negatives) of training
    steps of each of `TRAIN_VARIANTS` on `batch` pairs of `clips` with the trainer's default
    negatives, in float32 and under bfloat16 autocast (`training.train --amp=bf16`)."""
    cfg = TrainConfig()
    idx = np.arange(batch) % len(clips)
    pairs = Batch(clips[idx], clips[(idx + 1) % len(clips)], idx, idx, np.ones(batch, bool))  # [B, samples] each
    rows = []
    for (name, overrides), amp in itertools.product(TRAIN_VARIANTS.items(), ("none", "bf16")):
        torch.manual_seed(0)
        model = PhaLar(PhaLarConfig.from_dict(overrides)).to(device).train()
        opt = torch.optim.AdamW(param_groups(model, cfg), lr=cfg.lr)
        negatives = draw_negatives(np.random.default_rng(0), pairs, cfg, model.config)

        def step() -> None:
            loss = pair_loss(ContrastiveStep(model), pairs, negatives, dataclasses.replace(cfg, amp=amp),
                             torch.device(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()

        timing = measure(step, steps, device)
        rows.append({
            "model": name, "amp": amp, "config": overrides, "parameters": count_parameters(model), "pairs": batch,
            "step_s": timing.seconds, "clips_per_s": 2 * batch / timing.seconds, "timing": timing.to_dict(),
        })  # fmt: skip
    return rows


def report(result: dict[str, Any]) -> str:
    """The Markdown report of a `main` result."""
    env, params, targets = result["environment"], result["parameters"], result["targets"]
    emb = [[r["batch"], r["phalar_public_clips_per_s"], r["phalar_raw_clips_per_s"], r["cocola_style_clips_per_s"],
            r["ratio_public"], r["ratio_raw"]] for r in result["embedding"]]  # fmt: skip
    ret = result["retrieval"]
    train = [[r["model"], r["amp"], f"{r['parameters']:,}", r["pairs"], r["step_s"], r["clips_per_s"]]
             for r in result["training"]]  # fmt: skip
    return (
        "## Speed\n\n" + environment_lines(env)
        + f"- parameters: PhaLar {params['phalar']:,}; COCOLA-style {params['cocola_style']['total']:,}\n\n"
        + "### Embedding throughput (5 s clips per second)\n\n"
        + markdown_table(["batch", "PhaLarScore.embed", "PhaLar.embed (raw)", "COCOLA-style",
                          "PhaLar/COCOLA (public)", "PhaLar/COCOLA (raw)"], emb, digits=2)  # fmt: skip
        + f"\nTargets: >= {TARGET_CLIPS_PER_S:g} clips/s: {_verdict(targets['met_clips_per_s'])} "
        + f"({targets['phalar_public_clips_per_s']:.2f}); >= {TARGET_RATIO:g}x COCOLA-style: "
        + f"{_verdict(targets['met_ratio'])} ({targets['ratio_public_vs_cocola']:.2f}x)\n\n"
        + f"### Retrieval, K={ret['k']} ({ret['trials']} trials, pool of {ret['pool_clips']} clips embedded once)\n\n"
        + markdown_table(["embed pool (s)", "matrix products (ms/trial)"],
                         [[ret["embed_pool_s"], ret["ms_per_trial"]]], digits=3)  # fmt: skip
        + "\n### Training step (AdamW, InfoNCE; 2 clips per pair)\n\n"
        + markdown_table(["model", "amp", "parameters", "pairs", "s/step", "clips/s"], train, digits=2)
    )


def _int_list(text: str) -> list[int]:
    """Comma-separated integers, for argparse."""
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


if __name__ == "__main__":
    main()
