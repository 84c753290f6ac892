"""Contrastive training of PhaLar, top to bottom.

    python -m training.train                                    # defaults below
    python -m training.train --config run.json --max_steps=200  # a JSON of overrides, then --key=value
    torchrun --nproc_per_node 2 -m training.train ...           # DDP (gloo on CPU, nccl on GPU)

Each step scores B contexts against their B targets and against extra negatives that are
never positives (training/negatives.py): transposed and time-stretched copies of a share of
the targets (made on the targets' spectrograms inside the forward) and degenerate clips
(silence, quiet noise, white/pink noise, click trains). With `comb_weight`, the loss also
penalises peaks of the pooling projection W at the pitch-class periods that cannot hear some
interval; with `blind_weight`, W's whole energy at those periods (training/comb.py); with
`degenerate_pair_weight`, a pairwise term that every true pair score above every degenerate
clip and above 0 (the library's silence gate scores silence 0: a true pair at or below 0 loses
to it in the validity suite). With `rerender_pairs`, that many pairs' pitched targets are
re-rendered from their notes, as they are and transposed, the transposed copies entering as
negatives too (training/rerendered_negatives.py): harmonic negatives that sound as a real
transposition does. With `offset_pairs`, that many targets also appear moved by 50-600 ms
(negatives), and `offset_rank_weight` adds a pairwise term that each moved target score above
the targets of other songs: it keeps its song's harmony and tempo, so the score should rank it
between its true target and unrelated stems (examples/: aligned > shifted > unrelated; run
off1 in docs/training.md measured what it costs). With `harmony_nce_weight`, an InfoNCE on the
harmony block's scores alone (`harmony_columns`): a pitched stem's harmony against other songs'
stems and transpositions, whatever the timing term already separates. With `source_weights`,
each source of the training songs gets that share of the song draws (training/sampler.py);
without, every song is drawn alike.

A run directory holds `ckpt.pt` (written atomically, resumed exactly: model, optimiser,
scheduler, step; the data and dropout randomness of step k is a function of (seed, rank, k)),
`best/` (the best weights so far, in `phalar_metric.hub` format), `log.csv`, `val.csv` (the
validation metrics), `intervals.csv` (for a model with pitch checks, the per-interval shares
`pitch@k` of training/validation.py, and `pitch_real@k` with `real_pitch_pairs`) and `config.json`.
With `real_pitch_pairs`, the ood split's validation also re-renders that many of its pitched
targets, transposed as the validity suite transposes (training/real_pitch.py), once per run:
`ood/pitch_real` and `ood/pitch_real_min` can then select `best/`. With `pitch_interval_adapt`, the
intervals of the harmonic negatives are drawn, after each validation, by one minus that
split's `pitch@k`, floored (`interval_weights_from`; before the first validation with shares,
by `pitch_interval_weights`): the draw follows whichever intervals the model hears least.
Without a checkpoint, `init_from` picks the start: "scratch", "package" (the weights shipped
in phalar_metric/weights) or a folder written by `phalar_metric.hub.save_pretrained`; a run
that starts from weights validates them at step 0, so `best/` only moves on an improvement.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from phalar_metric.config import PhaLarConfig
from phalar_metric.frontend import n_frames
from phalar_metric.hub import default_weights_dir, load_pretrained, save_pretrained
from phalar_metric.model import PhaLar, count_parameters

from .comb import blind_share, comb_penalty
from .config_args import parse_overrides
from .loss import info_nce, masked_info_nce, pairwise_margin
from .negatives import (DEGENERATE_KINDS, MAX_SEMITONES, TransposedCQT, degenerate_clips, degenerate_kinds,
                        draw_pair_shifts, draw_stretches, draw_transpositions, interval_probabilities, offset_clips,
                        rms, semitone_bins, stretch_spec)
from .rerender import has_notes
from .rerendered_negatives import RerenderedNegatives
from .sampler import Augment, Batch, PairSampler, check_source_weights
from .sources import load_songs
from .validation import (ValidationSet, interval_metric_names, interval_weights_from, is_interval_metric,
                         selection_value)


# ---------------------------------------------------------------- defaults
@dataclass
class TrainConfig:
    data: str = "../data/rendered"  # the cache of `python -m training.render`
    sources: list = field(default_factory=lambda: ["rendered"])  # + "moisesdb:PATH", "slakh:PATH", ...
    out_dir: str = "../runs/default"
    init_from: str = "scratch"  # used only when out_dir has no checkpoint
    max_steps: int = 900
    batch_size: int = 32  # pairs per process per step
    lr: float = 1e-3  # AdamW peak of every parameter but W (the GAP ablation collapses here: use 2e-4)
    score_lr_scale: float = 0.02  # W's lr multiplier: at the full lr, W's small entries blew up (collapse)
    score_weight_decay: float = 0.0  # W's weight decay (the `first` run: 0.01, with score_lr_scale=1)
    harmony_lr_scale: float = 10.0  # lr multiplier of the harmony branch and its score block (model harmony_dim)
    min_lr_ratio: float = 0.05
    warmup_steps: int = 50
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    label_smoothing: float = 0.05
    eq_p: float = 0.5  # probability of Augment's random EQ per context and target (timbre variety; 0 before 0.1.0)
    reverb_p: float = 0.2  # Augment's synthetic-room reverb, band-limit, saturation, humanise (0 before 0.2.0)
    lowpass_p: float = 0.2
    saturate_p: float = 0.15
    humanise_p: float = 0.3
    pitch_neg_p: float = 1.0  # share of pitched targets that also appear transposed by 1-11 semitones (0 before 0.2.0)
    pitch_copies: int = 1  # transposed copies per chosen target, each by its own interval (1 before run pc2)
    pitch_small_p: float = 0.0  # share of those transpositions drawn from ±1-2 semitones instead of all of ±1-11
    pitch_interval_weights: list = field(default_factory=list)  # weights of the intervals 1-11 semitones ([]: uniform)
    pitch_interval_adapt: str = ""  # a validation split: after each validation, weights = max(1 - its pitch@k, 0.05)
    pair_shift_p: float = 0.0  # share of pairs whose context and target both move by one interval of ±1-5 semitones
    pitch_pair_weight: float = 0.0  # weight of softplus(s(context, transposed) - s(context, true target)) per transposed target
    comb_weight: float = 0.0  # weight of `comb_penalty`: W's peaks at the periods deaf to some interval (training/comb.py)
    blind_weight: float = 0.0  # weight of `blind_share`: W's energy at those periods, peak or not (training/comb.py)
    rerender_pairs: int = 0  # pairs per step whose pitched target is re-rendered from its notes (rerendered_negatives.py)
    rerender_copies: int = 2  # transposed re-renders per such target, negatives (intervals drawn as the crop ones)
    tempo_neg_p: float = 0.25  # share of targets that also appear time-stretched by 3-8% (0 before 0.2.0)
    n_degenerate: int = 4  # silence / quiet noise / noise / click clips per step as extra negatives (0 before 0.2.0)
    degenerate_kinds: str = ",".join(DEGENERATE_KINDS)  # their kinds, in turn (negatives.degenerate_clips)
    degenerate_pair_weight: float = 0.0  # weight of softplus(s(context, degenerate or 0) - s(context, true)), every pair
    offset_pairs: int = 0  # targets per step that also appear moved by 50-600 ms, negatives (negatives.offset_clips)
    offset_rank_weight: float = 0.0  # weight of softplus(s(context, other song's target) - s(context, moved target))
    harmony_nce_weight: float = 0.0  # weight of an InfoNCE on the harmony block's scores alone (`harmony_columns`)
    source_weights: dict = field(default_factory=dict)  # each source's share of the drawn songs ({}: every song alike)
    hard_fraction: float = 0.25  # share of each batch in same-song groups
    group_size: int = 4
    eval_every: int = 150
    ckpt_every: int = 25  # checkpoint between evaluations too: a slow CPU may do only tens of steps an hour
    eval_pairs: int = 256  # per validation split
    eval_groups: int = 24  # same-song groups of 8 per validation split
    real_pitch_pairs: int = 0  # ood pairs re-rendered once per run for the ood/pitch_real checks (real_pitch.py)
    select_on: str = "ood/acc@64+ood/pitch+ood/noise"  # picks `best/`: the mean of these (ood: unseen human-composed music)
    rescan_every: int = 150  # re-read the song list (a render may still be growing the cache)
    log_every: int = 10
    seed: int = 0
    threads: int = 2
    amp: str = "auto"  # "bf16": autocast (1.45x faster with AMX, ~3x slower on AVX2-only CPUs); "auto": bf16 where native
    model: dict = field(default_factory=dict)  # PhaLarConfig overrides (ablations; with init_from weights, on their config)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup, then cosine decay to `min_lr_ratio * lr` at `max_steps`."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def check_config(cfg: TrainConfig) -> None:
    """Refuse settings that parse but cannot train (the recipe runner checks each stage with it).

    Raises:
        ValueError: naming the setting and its value.
    """
    if cfg.amp not in ("none", "bf16", "auto"):
        raise ValueError(f"`amp` must be 'none', 'bf16' or 'auto', got {cfg.amp!r}")
    if cfg.pitch_interval_weights:
        try:
            interval_probabilities(cfg.pitch_interval_weights)
        except ValueError as exc:
            raise ValueError(f"`pitch_interval_weights`: {exc}") from exc
    degenerate_kinds(cfg.degenerate_kinds)
    if cfg.source_weights:
        check_source_weights(cfg.source_weights)
    if cfg.offset_pairs < 0 or (cfg.offset_rank_weight and not cfg.offset_pairs):
        raise ValueError(f"`offset_rank_weight` ranks moved targets: it needs `offset_pairs` >= 1, got "
                         f"offset_pairs={cfg.offset_pairs}, offset_rank_weight={cfg.offset_rank_weight}")
    if cfg.harmony_nce_weight < 0:
        raise ValueError(f"`harmony_nce_weight` must be >= 0, got {cfg.harmony_nce_weight}")


def main(argv: list[str] | None = None) -> None:
    cfg = parse_overrides(TrainConfig, sys.argv[1:] if argv is None else argv)
    check_config(cfg)  # a mistyped setting fails here, not after the data have loaded
    ddp = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if ddp:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if ddp else (0, 1)
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":  # object broadcasts (`_interval_weights`) go through the current device
        torch.cuda.set_device(device)
    if cfg.amp == "auto":
        cfg.amp = "bf16" if has_native_bf16(device) else "none"
    master = rank == 0
    torch.set_num_threads(max(1, cfg.threads // world))
    out = Path(cfg.out_dir)
    ckpt_path = out / "ckpt.pt"

    # ---- model, optimiser, resume
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False) if ckpt_path.exists() else None
    if ckpt is not None:
        model = checkpoint_model(ckpt)
    elif cfg.init_from == "scratch":
        torch.manual_seed(cfg.seed)  # the initial weights, too, are a function of the seed
        model = PhaLar(PhaLarConfig.from_dict(cfg.model))  # ValueError on an unknown key
    else:
        model = load_pretrained(default_weights_dir() if cfg.init_from == "package" else cfg.init_from)
        if cfg.model:  # e.g. a sharper CQT under the same weights: every parameter must keep its shape
            model = with_config(model, cfg.model, cfg.seed)
    if cfg.comb_weight or cfg.blind_weight:  # a front-end without semitones fails here, not after the data load
        comb_penalty(model)
    if cfg.harmony_nce_weight and not model.config.harmony_dim:
        raise ValueError("`harmony_nce_weight` trains the harmony branch: the model has none (`harmony_dim` 0)")
    model.to(device).train()
    opt = torch.optim.AdamW(param_groups(model, cfg), lr=cfg.lr)
    step, best, history = 0, -1.0, []
    if ckpt is not None:
        _load_optimizer(opt, ckpt["optimizer"], ckpt_path)
        step, history = ckpt["step"], ckpt["history"]
        # from the history, not the stored number, so that a resume with another select_on compares like with like
        best = max((selection_value(h, cfg.select_on) for h in history
                    if all(name in h for name in cfg.select_on.split("+"))), default=-1.0)
    raw_model = model
    # what DDP wraps: the forward with the extra negatives
    model = ContrastiveStep(raw_model, harmonic=cfg.pitch_neg_p > 0 or cfg.pair_shift_p > 0,
                            harmony_scores=cfg.harmony_nce_weight > 0)
    if ddp:
        model = torch.nn.parallel.DistributedDataParallel(model)
    if master:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(
            {"train": dataclasses.asdict(cfg), "model": raw_model.config.to_dict()}, indent=2))
        print(f"{count_parameters(raw_model):,} parameters; start at step {step}; {world} process(es)")

    window = raw_model.config.window_samples
    augment = Augment(eq_p=cfg.eq_p, reverb_p=cfg.reverb_p, lowpass_p=cfg.lowpass_p,
                      saturate_p=cfg.saturate_p, humanise_p=cfg.humanise_p)
    rerendered = RerenderedNegatives(augment) if cfg.rerender_pairs else None  # one synthesiser for the run
    # songs that source_weights or rerender_pairs do not fit fail here, before the validation
    sampler, sampler_step = train_sampler(cfg, window, augment, rerendered is not None), step
    validation = ValidationSet.build(cfg.data, window, cfg.eval_pairs, cfg.eval_groups,
                                     cfg.real_pitch_pairs) if master else None
    names = validation.metric_names(raw_model.config) if master else set()
    selectable = {name for name in names if not is_interval_metric(name)}  # val.csv's columns
    missing = [name for name in cfg.select_on.split("+") if name not in selectable] if master else []
    if master and cfg.pitch_interval_adapt and not set(interval_metric_names(cfg.pitch_interval_adapt)) <= names:
        raise ValueError(f"--pitch_interval_adapt={cfg.pitch_interval_adapt}: no per-interval shares for that split "
                         f"with this cache {cfg.data} and model (splits {sorted(validation.sets)}; a split without "
                         "pitched pairs or a front-end without semitone bins has none)")
    if missing:
        raise ValueError(f"--select_on={cfg.select_on}: no val.csv metric {missing[0]!r} for this cache {cfg.data} "
                         f"(splits {sorted(validation.sets)}) and model (metrics {sorted(selectable)}); render the split "
                         "(`python -m training.render --sources freedoom` writes ood) or select on others")
    if master and ckpt is None and cfg.init_from != "scratch":  # the start is the bar `best/` has to beat
        best = _validate(raw_model, validation, step, best, history, cfg)
    interval_weights = _interval_weights(history, cfg, ddp, master)
    t_last, clips = time.time(), 0
    bar = tqdm(total=cfg.max_steps, initial=step, disable=not master, desc="train")
    while step < cfg.max_steps:
        if step % cfg.rescan_every == 0 and step != sampler_step:
            sampler, sampler_step = train_sampler(cfg, window, augment, rerendered is not None), step
        # ---- one step: data and dropout randomness depend only on (seed, rank, step)
        rng = np.random.default_rng([cfg.seed, rank, step])
        torch.manual_seed(cfg.seed * 1_000_003 + rank * 7919 + step)
        batch = sampler.batch(rng, cfg.batch_size)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg) * group["lr_scale"]
        negatives = draw_negatives(rng, batch, cfg, raw_model.config, interval_weights)
        if rerendered is not None:  # draws nothing more without: the same steps as before it existed
            negatives.update(draw_rerendered(rng, batch, cfg, rerendered, interval_weights))
        if cfg.offset_pairs:  # after the re-render: a moved target is its pair's target as trained
            negatives["offset"], negatives["offset_idx"] = offset_clips(
                rng, batch.target, min(cfg.offset_pairs, len(batch.target)), raw_model.config.sample_rate)
        loss = pair_loss(model, batch, negatives, cfg, device)
        if cfg.comb_weight:  # on the parameters themselves: the same on every DDP process
            loss = loss + cfg.comb_weight * comb_penalty(raw_model)
        if cfg.blind_weight:
            loss = loss + cfg.blind_weight * blind_share(raw_model)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        clips += 2 * cfg.batch_size * world
        bar.update(1)

        if master and (step % cfg.log_every == 0 or step == cfg.max_steps):
            now = time.time()
            row = {"step": step, "loss": round(loss.item(), 4), "lr": lr_at(step - 1, cfg),
                   "grad_norm": round(float(grad_norm), 3), "clips_per_s": round(clips / (now - t_last), 2)}
            clips, t_last = 0, now
            bar.set_postfix(loss=row["loss"], cps=row["clips_per_s"])
            _append_csv(out / "log.csv", row)
        if step % cfg.eval_every == 0 or step == cfg.max_steps:
            if master:
                best = _validate(raw_model, validation, step, best, history, cfg)
                _save_checkpoint(ckpt_path, raw_model, opt, step, best, history, cfg)
            interval_weights = _interval_weights(history, cfg, ddp, master)
        elif master and step % cfg.ckpt_every == 0:
            _save_checkpoint(ckpt_path, raw_model, opt, step, best, history, cfg)
        if ddp:
            dist.barrier()
    if ddp:
        dist.destroy_process_group()


def _validate(model: PhaLar, validation: ValidationSet, step: int, best: float, history: list,
              cfg: TrainConfig) -> float:
    """Evaluate, log to `history`, val.csv and intervals.csv (the `pitch@k` shares), write
    `best/` on a new best; the new best."""
    metrics = validation.evaluate(model)
    model.train()
    history.append({"step": step, "time": time.time(), **metrics})
    intervals = {k: v for k, v in metrics.items() if is_interval_metric(k)}
    summary = {k: v for k, v in metrics.items() if k not in intervals}
    tqdm.write(f"step {step}: " + ", ".join(f"{k}={v:.3f}" for k, v in summary.items()))
    _append_csv(Path(cfg.out_dir) / "val.csv", {"step": step, **summary})
    if intervals:
        _append_csv(Path(cfg.out_dir) / "intervals.csv", {"step": step, **intervals})
    if selection_value(metrics, cfg.select_on) > best:
        best = selection_value(metrics, cfg.select_on)
        save_pretrained(model, Path(cfg.out_dir) / "best", model_card=json.dumps(history[-1]))
    return best


def train_sampler(cfg: TrainConfig, window: int, augment: Augment, needs_notes: bool) -> PairSampler:
    """The sampler of the training songs in `cfg.data` as they stand (a render may still be
    growing the cache), `window` samples a pair.

    Raises:
        ValueError: `cfg.source_weights` does not fit the songs, or `needs_notes` (re-rendered
            negatives) and no song has its notes.
    """
    try:
        sampler = PairSampler(load_songs(cfg.sources, cfg.data, "train"), window,
                              cfg.hard_fraction, cfg.group_size, augment, cfg.source_weights)
    except ValueError as exc:
        raise ValueError(f"the training songs in {cfg.data}/train: {exc}") from exc
    if needs_notes and not any(has_notes(song) for song in sampler.songs):
        raise ValueError(f"--rerender_pairs needs songs with notes.json in {cfg.data}/train; "
                         "re-render them with training.render")
    return sampler


def _interval_weights(history: list[dict], cfg: TrainConfig, ddp: bool, master: bool) -> list[float]:
    """The weights of the intervals 1..MAX_SEMITONES semitones for the next steps ([]: uniform): with
    `pitch_interval_adapt`, from the latest validation of that split (`interval_weights_from`,
    rank 0's in DDP), else (and before it) `pitch_interval_weights`."""
    if not cfg.pitch_interval_adapt:
        return cfg.pitch_interval_weights
    weights = interval_weights_from(history, cfg.pitch_interval_adapt) or cfg.pitch_interval_weights
    if ddp:  # only rank 0 validates
        box = [weights]
        dist.broadcast_object_list(box, src=0)
        weights = box[0]
    if master:
        drawn = ", ".join(f"{w:.2f}" for w in weights) if weights else "uniform"
        tqdm.write(f"intervals 1-{MAX_SEMITONES} drawn by {drawn}")
    return weights


class ContrastiveStep(torch.nn.Module):
    """The training forward of a PhaLar model (the module DDP wraps).

    `forward(context, target, negatives)`: `context`, `target` `[B, samples]`; `negatives` a
    dict of `pitch_idx` `[P]` (targets to transpose) with `pitch_bins` `[P]`, `tempo_idx`
    `[Q]` with `tempo_rate`, `tempo_anchor` `[Q]`, `degenerate` `[M, samples]` clips and,
    each optional, `rerendered` `[R, samples]` clips with `rerendered_idx` `[R]` (their pairs),
    `offset` `[O, samples]` moved targets with `offset_idx` `[O]`, and `pair_bins` `[B]`: each
    pair's context and target both transposed by it (a transposed target's shift is added to its
    pair's, a re-rendered or moved copy moves with its pair).
    Returns the `[B, B]` scores and the `[B, P + Q + M + R + O]` scores of the contexts against
    the negatives. Every clip goes through a front-end once and the backbone in one batch. With
    `harmonic` (harmonic negatives on, and a config that allows them: `semitone_bins`), the
    targets' spectrograms, their own and transposed, come from one `TransposedCQT`, so that a
    transposed target differs from the true one only by its transposition (not by how its
    spectrogram was made). With `harmony_scores`, a third output: the harmony block's share of
    both, `[B, B + P + Q + M + R + O]` (`Similarity.harmony`).
    """

    def __init__(self, model: PhaLar, harmonic: bool = True, harmony_scores: bool = False) -> None:
        super().__init__()
        self.model = model
        self.harmony_scores = harmony_scores
        self.transposer = TransposedCQT(model.config) if harmonic and semitone_bins(model.config) else None

    def forward(self, context: torch.Tensor, target: torch.Tensor,
                negatives: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        b = context.shape[0]
        none = torch.zeros(0, dtype=torch.long, device=target.device)
        # re-rendered and moved targets: clips made from their pairs' targets, spectrograms made as the targets'
        copies = torch.cat([negatives.get("rerendered", target[:0]), negatives.get("offset", target[:0])])
        copies_idx = torch.cat([negatives.get("rerendered_idx", none), negatives.get("offset_idx", none)])
        if self.transposer is None:
            spec = self.model.frontend(torch.cat([context, target, negatives["degenerate"], copies]))
            contexts, targets, degenerate, copied = spec.split([b, b, len(negatives["degenerate"]), len(copies)])
            transposed = targets[:0]
        else:
            if "pair_bins" in negatives:  # contexts transposed with their targets: both from the widened CQT
                pair = negatives["pair_bins"]
                mag = self.transposer.magnitude(torch.cat([context, target]))
                contexts, mag = self.transposer.crop(mag[:b], pair), mag[b:]
                degenerate = (self.model.frontend(negatives["degenerate"]) if len(negatives["degenerate"])
                              else contexts[:0])
            else:
                spec = self.model.frontend(torch.cat([context, negatives["degenerate"]]))  # [B + M, F, T]
                contexts, degenerate = spec[:b], spec[b:]
                mag = self.transposer.magnitude(target)
                pair = torch.zeros(b, dtype=torch.long, device=mag.device)
            targets = self.transposer.crop(mag, pair)
            idx = negatives["pitch_idx"]
            transposed = self.transposer.crop(mag[idx], pair[idx] + negatives["pitch_bins"])
            copied = (self.transposer.crop(self.transposer.magnitude(copies), pair[copies_idx])
                      if len(copies) else targets[:0])
        specs = [contexts, targets, transposed,
                 stretch_spec(targets[negatives["tempo_idx"]], negatives["tempo_rate"], negatives["tempo_anchor"]),
                 degenerate, copied]
        emb = self.model.embed_spectrogram(torch.cat(specs))
        out = self.model.score(emb[:b], emb[b : 2 * b]), self.model.score(emb[:b], emb[2 * b :])
        return (*out, self.model.similarity.harmony(emb[:b], emb[b:])) if self.harmony_scores else out


def draw_negatives(rng: np.random.Generator, batch: Batch, cfg: TrainConfig, config: PhaLarConfig,
                   interval_weights: list[float] | None = None) -> dict[str, np.ndarray]:
    """The step's extra negatives (see `ContrastiveStep`): `pitch_neg_p` of the pitched targets,
    each `pitch_copies` times transposed by ±1-11 semitones drawn independently (`pitch_small_p`
    of them by ±1-2, the rest uniform or by `interval_weights`, by default
    `pitch_interval_weights`), `tempo_neg_p` of all targets stretched by 3-8%, and
    `n_degenerate` degenerate clips; with `pair_shift_p`, each pair's shift as `pair_bins`
    (`draw_pair_shifts`)."""
    b, samples = batch.target.shape
    if cfg.pitch_copies < 1:
        raise ValueError(f"`pitch_copies` must be at least 1, got {cfg.pitch_copies}")
    pitch_idx = np.flatnonzero(batch.pitched & (rng.random(b) < cfg.pitch_neg_p))
    tempo_idx = np.flatnonzero(rng.random(b) < cfg.tempo_neg_p)
    rate, anchor = draw_stretches(rng, len(tempo_idx), n_frames(samples, config.hop_length))
    bins_per_semitone = semitone_bins(config)
    if bins_per_semitone == 0:  # no exact semitone shift (a Mel front-end): no harmonic negatives
        pitch_idx = pitch_idx[:0]
    pitch_idx = np.repeat(pitch_idx, cfg.pitch_copies)  # draws nothing more when 1: the same negatives as before
    weights = cfg.pitch_interval_weights if interval_weights is None else interval_weights
    pitch_bins = draw_transpositions(rng, len(pitch_idx), max(bins_per_semitone, 1), cfg.pitch_small_p, weights)
    out = {"pitch_idx": pitch_idx, "pitch_bins": pitch_bins,
           "tempo_idx": tempo_idx, "tempo_rate": rate.astype(np.float32), "tempo_anchor": anchor,
           "degenerate": degenerate_clips(rng, cfg.n_degenerate, samples, config.sample_rate,
                                          cfg.degenerate_kinds)}
    if cfg.pair_shift_p > 0 and bins_per_semitone:  # draws nothing more when 0: the same negatives as before
        out["pair_bins"], out["pitch_bins"] = draw_pair_shifts(rng, b, cfg.pair_shift_p, pitch_idx, pitch_bins,
                                                               bins_per_semitone)
    return out


def draw_rerendered(rng: np.random.Generator, batch: Batch, cfg: TrainConfig, rerendered: RerenderedNegatives,
                    interval_weights: list[float] | None = None) -> dict[str, np.ndarray]:
    """`rerender_pairs` of `batch`'s pitched pairs re-rendered (their targets replaced in place),
    each with `rerender_copies` copies transposed by intervals drawn as `draw_negatives` draws
    the crop ones: {"rerendered": `[R, samples]`, "rerendered_idx": `[R]` their pairs' rows}."""
    if cfg.rerender_copies < 1:
        raise ValueError(f"`rerender_copies` must be at least 1, got {cfg.rerender_copies}")
    weights = cfg.pitch_interval_weights if interval_weights is None else interval_weights
    semitones = draw_transpositions(rng, cfg.rerender_pairs * cfg.rerender_copies, 1, cfg.pitch_small_p, weights)
    copies, rows = rerendered.apply(rng, batch, cfg.rerender_pairs, semitones.reshape(cfg.rerender_pairs, -1))
    return {"rerendered": copies, "rerendered_idx": rows}


def extra_columns(negatives: dict) -> dict[str, slice]:
    """Where each kind of negative sits among `ContrastiveStep`'s extra columns, in its order:
    P transposed (`pitch`), Q stretched (`tempo`), M `degenerate`, R `rerendered`, O moved
    (`offset`); a kind the step lacks gets an empty slice."""
    sizes = {kind: len(negatives.get(key, ())) for kind, key in (
        ("pitch", "pitch_idx"), ("tempo", "tempo_idx"), ("degenerate", "degenerate"),
        ("rerendered", "rerendered_idx"), ("offset", "offset_idx"))}
    ends = np.cumsum(list(sizes.values()))
    return {kind: slice(int(end - n), int(end)) for (kind, n), end in zip(sizes.items(), ends)}


def harmony_columns(batch: Batch, negatives: dict[str, np.ndarray]) -> np.ndarray:
    """Which candidates of the harmony InfoNCE each row holds: `[B, B + P + Q + M + R + O]`
    bool in `ContrastiveStep`'s column order. A pitched pair's row holds its own target (the
    positive), the pitched targets of other songs, every transposed target (crop and
    re-rendered) and the degenerate clips; not the same song's other targets (the same key),
    drum targets (no key), nor the stretched and moved targets (the same notes: the harmony
    block cannot and should not tell them from the true one). The term reads the pitched pairs'
    rows only (a drum stem has no key to match)."""
    b = len(batch.song)
    columns = extra_columns(negatives)
    targets = (batch.song[:, None] != batch.song[None, :]) & batch.pitched[None, :] | np.eye(b, dtype=bool)
    extra = np.zeros((b, columns["offset"].stop), dtype=bool)
    for kind in ("pitch", "degenerate", "rerendered"):
        extra[:, columns[kind]] = True
    return np.concatenate([targets, extra], axis=1)


def pair_loss(model: torch.nn.Module, batch: Batch, negatives: dict[str, np.ndarray], cfg: TrainConfig,
              device: torch.device) -> torch.Tensor:
    """InfoNCE over the `[B, B]` scores of context i vs target j plus the negatives' columns,
    plus `cfg.pitch_pair_weight` times the `pairwise_margin` of each transposed target against
    its own context's true target, plus `cfg.degenerate_pair_weight` times that of every
    degenerate clip, and of a score 0 (silence under the library's gate), against every
    context's true target (whatever the InfoNCE row's other candidates), plus
    `cfg.offset_rank_weight` times that of every other song's target against each moved target
    (its own context's row; same-song targets are left out, and so is a moved target that kept
    under a quarter of its true target's RMS: its notes moved out of the window); the forward
    under bf16 autocast when `cfg.amp == "bf16"`, plus `cfg.harmony_nce_weight` times an InfoNCE of
    the pitched pairs' rows on the harmony block's scores alone, over `harmony_columns`: the
    harmony term has to tell a song's stem from other songs' stems and from transpositions by
    itself, even where the timing term already does.
    `model` is a `ContrastiveStep` (or its DDP wrapper; with `harmony_scores` for the last term)."""
    tensors = {k: torch.from_numpy(np.asarray(v)).to(device) for k, v in negatives.items()}
    context, target = (torch.from_numpy(x).to(device) for x in (batch.context, batch.target))
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.amp == "bf16"):
        out = model(context, target, tensors)
    scores, extra = out[0].float(), out[1].float()
    loss = info_nce(scores, cfg.label_smoothing, extra)
    if cfg.harmony_nce_weight:
        allowed = torch.from_numpy(harmony_columns(batch, negatives)).to(device)
        rows = torch.from_numpy(np.flatnonzero(batch.pitched)).to(device)
        loss = loss + cfg.harmony_nce_weight * masked_info_nce(out[2].float(), allowed, rows)
    cols = {kind: torch.arange(c.start, c.stop, device=device) for kind, c in extra_columns(negatives).items()}
    if cfg.pitch_pair_weight:  # each transposed target, crop or re-rendered, in its own pair's row
        rows = tensors["pitch_idx"]
        loss = loss + cfg.pitch_pair_weight * pairwise_margin(scores[rows, rows], extra[rows, cols["pitch"]])
        if "rerendered_idx" in tensors:
            rows = tensors["rerendered_idx"]
            loss = loss + cfg.pitch_pair_weight * pairwise_margin(scores[rows, rows], extra[rows, cols["rerendered"]])
    if cfg.degenerate_pair_weight:
        degenerate = extra[:, cols["degenerate"]]
        degenerate = torch.cat([degenerate, degenerate.new_zeros(len(degenerate), 1)], dim=1)  # + gated silence: 0
        loss = loss + cfg.degenerate_pair_weight * pairwise_margin(scores.diagonal()[:, None].expand_as(degenerate),
                                                                   degenerate)
    if cfg.offset_rank_weight and "offset_idx" in tensors:  # each moved target in its own pair's row
        rows, idx = tensors["offset_idx"], np.asarray(negatives["offset_idx"])
        moved = extra[rows, cols["offset"]]
        audible = rms(np.asarray(negatives["offset"]), axis=1) >= 0.25 * rms(batch.target[idx], axis=1)
        other = torch.from_numpy((batch.song[idx][:, None] != batch.song[None, :]) & audible[:, None]).to(device)
        loss = loss + cfg.offset_rank_weight * pairwise_margin(moved[:, None].expand_as(other)[other],
                                                               scores[rows][other])
    return loss


def has_native_bf16(device: torch.device) -> bool:
    """Whether bf16 autocast is native here: a CUDA GPU with bf16, or a CPU with AMX-BF16 or
    AVX512-BF16 matrix instructions (Linux /proc/cpuinfo); elsewhere bf16 is emulated and slower."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def param_groups(model: PhaLar, cfg: TrainConfig) -> list[dict]:
    """AdamW groups: matrices with weight decay, vectors without, and the score matrix W apart
    with `score_lr_scale` and `score_weight_decay` (an Adam step moves every entry by ~lr,
    large against W's initial entries, ~init_scale/n on the diagonal); with a harmony branch, a
    fourth group of its projection and its score block V, at `harmony_lr_scale`, without decay
    (V starts at 0 and must grow to matter)."""
    harmony = [p for n, p in model.named_parameters() if is_harmony_parameter(n)]
    named = [(n, p) for n, p in model.named_parameters() if not is_harmony_parameter(n)]
    score = [p for n, p in named if n == "similarity.weight"]
    decay = [p for n, p in named if p.ndim >= 2 and n != "similarity.weight"]
    no_decay = [p for n, p in named if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay, "lr_scale": 1.0},
              {"params": no_decay, "weight_decay": 0.0, "lr_scale": 1.0},
              {"params": score, "weight_decay": cfg.score_weight_decay, "lr_scale": cfg.score_lr_scale}]
    if harmony:
        groups.append({"params": harmony, "weight_decay": 0.0, "lr_scale": cfg.harmony_lr_scale})
    return groups


def is_harmony_parameter(name: str) -> bool:
    """Whether the parameter `name` belongs to the harmony branch (its projection or score block V)."""
    return name.startswith("harmony.") or name == "similarity.harmony_weight"


def with_config(model: PhaLar, overrides: dict, seed: int) -> PhaLar:
    """A new model on `model`'s config with `overrides`, holding `model`'s weights: every one
    must keep its shape; parameters the new config adds (a harmony branch) keep their
    initialisation, whose score block V = 0 leaves the scores as they were."""
    torch.manual_seed(seed)  # the added parameters' initialisation
    out = PhaLar(PhaLarConfig.from_dict({**model.config.to_dict(), **overrides}))
    missing, unexpected = out.load_state_dict(model.state_dict(), strict=False)
    added = [k for k in missing if is_harmony_parameter(k)]
    if unexpected or len(added) != len(missing):
        raise ValueError(f"--model={json.dumps(overrides)} drops or adds weights the start does not have: "
                         f"missing {sorted(set(missing) - set(added))}, unexpected {sorted(unexpected)}")
    return out


def checkpoint_model(ckpt: dict | str | Path) -> PhaLar:
    """The model of a `ckpt.pt` (its loaded dict, or its path), on the CPU in train mode."""
    if not isinstance(ckpt, dict):
        ckpt = torch.load(ckpt, map_location="cpu", weights_only=False)
    model = PhaLar(PhaLarConfig.from_dict(ckpt["model_config"]))
    model.load_state_dict(ckpt["model"])
    return model


def _load_optimizer(opt: torch.optim.Optimizer, state: dict, path: Path) -> None:
    """Resume the optimiser's moments; its group settings (lr scale, weight decay) stay those of
    the current config. A checkpoint from another grouping is refused with a clear error."""
    if len(state["param_groups"]) != len(opt.param_groups):
        raise ValueError(f"{path} holds {len(state['param_groups'])} optimiser parameter groups, this trainer "
                         f"uses {len(opt.param_groups)} (an older trainer wrote it): use a new out_dir, with "
                         "--init_from=DIR_OF_ITS_best to start from its weights")
    settings = [{k: g[k] for k in ("weight_decay", "lr_scale")} for g in opt.param_groups]
    opt.load_state_dict(state)
    for group, kept in zip(opt.param_groups, settings):
        group.update(kept)


def _append_csv(path: Path, row: dict) -> None:
    """Append `row` to the CSV `path` (with a header when new); an existing file must have `row`'s columns."""
    new = not path.exists()
    if not new:
        with path.open(newline="") as f:
            header = next(csv.reader(f), [])
        if header != list(row):
            raise ValueError(f"{path} has the columns {header}, this row has {list(row)}: move the file aside "
                             "(a resume across a change of the logged metrics) and rerun")
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)


def _save_checkpoint(path: Path, model: PhaLar, opt: torch.optim.Optimizer, step: int, best: float,
                     history: list, cfg: TrainConfig) -> None:
    """Write `ckpt.pt` atomically (a kill mid-write leaves the previous one intact)."""
    state = {"model": model.state_dict(), "model_config": model.config.to_dict(), "optimizer": opt.state_dict(),
             "step": step, "best": best, "history": history, "train_config": dataclasses.asdict(cfg)}
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
