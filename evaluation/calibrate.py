"""Fit the calibrated score of a checkpoint, and measure its calibration error on another split.

    python -m evaluation.calibrate --model phalar_metric/weights --source rendered:../data/rendered \\
        --split val --pairs 1024 --eval-split val_timbre --out phalar_metric/weights/calibration.json \\
        --json docs/results/calibration.json --markdown docs/results/calibration.md

Pairs are read through training (`training.validation.eval_pairs`, as the retrieval
benchmark does), with their own seed (`--pair-seed`, default 7: not the trainer's
validation draw, 1234, on which checkpoints are selected). For `--pairs` B pairs the
positives are the B (context, target) windows of the same song and time, the negatives
every context with the targets of other songs; all are scored as the metric scores them
(`phalar_score_matrix`, silence gate included). `phalar_metric.calibration.fit_logistic`
fits `probability = sigmoid(a * score + b)` with each class weighted to half (class prior
0.5). The expected calibration error (ECE, `--bins` equal-width bins, classes weighted to
half) is reported on the fit split and on `--eval-split`, which the fit never saw.
`--out` inside a checkpoint folder lists the file in its `checksums.json` (so the metric
uses it) and writes a "Calibration" section into the folder's model card `README.md`.
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from phalar_metric.calibration import CALIBRATION_NAME, Calibration, class_weights, expected_calibration_error
from phalar_metric.calibration import fit_logistic, reliability
from phalar_metric.functional import phalar_score_matrix
from phalar_metric.hub import CARD_NAME, CHECKSUMS_NAME, save_calibration
from phalar_metric.model import PhaLar
from phalar_metric.provenance import __version__, weights_sha256
from training.sources.base import SAMPLE_RATE
from training.validation import eval_pairs

from .report import Parser, add_run_args, fatal, load_model, markdown_table, songs_from, write_outputs

PROG = "python -m evaluation.calibrate"
CARD_SECTION = "## Calibration"


def get_parser() -> argparse.ArgumentParser:
    """The calibration command's arguments."""
    p = Parser(prog=PROG, description="Fit probability = sigmoid(a * score + b) on held-out pairs; report the ECE.")
    p.add_argument("--model", required=True, help="checkpoint folder, run folder or Hub repo id")
    p.add_argument("--revision", help="Hub revision of --model")
    p.add_argument("--source", action="append", required=True, help="rendered:ROOT or NAME:PATH (repeatable)")
    p.add_argument("--split", default="val", help="the split the map is fitted on (default: val)")
    p.add_argument("--pairs", type=int, default=1024, help="true pairs drawn per split (default: 1024)")
    p.add_argument("--eval-split", default="val_timbre", help="the split the ECE is measured on (default: val_timbre)")
    p.add_argument("--pair-seed", type=int, default=7, help="seed of the pairs (default: 7)")
    p.add_argument("--bins", type=int, default=10, help="equal-width probability bins of the ECE (default: 10)")
    p.add_argument("--out", type=Path, help=f"write the calibration here (a checkpoint folder's {CALIBRATION_NAME})")
    add_run_args(p)
    return p


def split_scores(model: PhaLar, sources: list[str], split: str, n_pairs: int, seed: int) -> dict[str, np.ndarray]:
    """Raw scores of the true pairs `[B]` and of the other-song pairs `[n_neg]` of `split`."""
    songs = songs_from(sources, split)
    pairs, _ = eval_pairs(songs, model.config.window_samples, n_pairs, 1, seed)  # (the one same-song group: unused)
    matrix = phalar_score_matrix(model, list(pairs.context), list(pairs.target), SAMPLE_RATE)  # [B, B]
    other_song = pairs.song[:, None] != pairs.song[None, :]
    return {"positives": np.diag(matrix).astype(np.float64), "negatives": matrix[other_song].astype(np.float64)}


def assess(calibration: Calibration, scores: dict[str, np.ndarray], n_bins: int) -> dict[str, Any]:
    """ECE, Brier score, log loss and accuracy at 0.5 of `calibration` on `scores` (classes weighted to half)."""
    raw = np.concatenate([scores["positives"], scores["negatives"]])
    labels = np.concatenate([np.ones(len(scores["positives"])), np.zeros(len(scores["negatives"]))])
    p = calibration.probability(raw)
    w = class_weights(labels)
    eps = 1e-12
    return {
        "positives": len(scores["positives"]), "negatives": len(scores["negatives"]),
        "ece": expected_calibration_error(p, labels, n_bins),
        "brier": float(np.sum(w * (p - labels) ** 2)),
        "log_loss": float(-np.sum(w * (labels * np.log(p + eps) + (1 - labels) * np.log(1 - p + eps)))),
        "accuracy": float(np.sum(w * ((p >= 0.5) == labels))),
        "reliability": reliability(p, labels, n_bins),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Fit, assess and write; returns the JSON result. User errors exit with one line on stderr."""
    args = get_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        if args.pairs < 2 or args.bins < 1:
            raise ValueError(f"--pairs expects >= 2 and --bins >= 1, got {args.pairs} and {args.bins}")
        if args.eval_split == args.split:
            raise ValueError(f"--eval-split must differ from --split ({args.split}): the ECE is measured on unseen pairs")
        model = load_model(args.model, args.revision)
        fit_scores = split_scores(model, args.source, args.split, args.pairs, args.pair_seed)
        a, b = fit_logistic(fit_scores["positives"], fit_scores["negatives"])
        eval_scores = split_scores(model, args.source, args.eval_split, args.pairs, args.pair_seed)
    except (ValueError, OSError, RuntimeError) as err:
        fatal(PROG, str(err))
    fit = {
        "date": datetime.datetime.now(datetime.timezone.utc).date().isoformat(), "phalar_version": __version__,
        "model": args.model, "sources": args.source, "split": args.split, "pair_seed": args.pair_seed,
        "positives": len(fit_scores["positives"]), "negatives": len(fit_scores["negatives"]), "class_prior": 0.5,
        "command": shlex.join(["python", "-m", "evaluation.calibrate", *(sys.argv[1:] if argv is None else argv)]),
    }  # fmt: skip
    calibration = Calibration(a, b, weights_sha256(model), fit)
    splits = {split: assess(calibration, scores, args.bins)
              for split, scores in ((args.split, fit_scores), (args.eval_split, eval_scores))}  # fmt: skip
    calibration.fit["ece"] = {split: r["ece"] for split, r in splits.items()}
    result = {"a": a, "b": b, "weights_sha256": calibration.weights_sha256, "fit": calibration.fit, "splits": splits}
    if args.out is not None:
        _write(calibration, args.out, splits)
    rows = [[f"{split}{' (fit)' if split == args.split else ''}", r["positives"], r["negatives"], r["ece"], r["brier"],
             r["log_loss"], r["accuracy"]] for split, r in splits.items()]  # fmt: skip
    table = f"probability = {_formula(calibration)}, class prior 0.5\n\n" + markdown_table(
        ["split", "true pairs", "other-song pairs", "ECE", "Brier", "log loss", "accuracy at 0.5"], rows
    )
    write_outputs(result, table, args.json, args.markdown)
    return result


def _write(calibration: Calibration, out: Path, splits: dict[str, dict[str, Any]]) -> None:
    """Save `calibration` at `out`; inside a checkpoint folder, list it and describe it in the model card."""
    if out.name == CALIBRATION_NAME and (out.parent / CHECKSUMS_NAME).is_file():
        save_calibration(out.parent, calibration)
        card = out.parent / CARD_NAME
        if card.is_file():
            card.write_text(_with_card_section(card.read_text(), calibration, splits))
    else:
        calibration.save(out)
        print(f"{PROG}: note: {out} is not {CALIBRATION_NAME} in a checkpoint folder: the metric will not use it "
              "until it is saved there (phalar_metric.hub.save_calibration)", file=sys.stderr)  # fmt: skip


def _formula(calibration: Calibration) -> str:
    """`sigmoid(a * score + b)` with the numbers."""
    sign = "+" if calibration.b >= 0 else "-"
    return f"sigmoid({calibration.a:.4f} * score {sign} {abs(calibration.b):.4f})"


def _with_card_section(card: str, calibration: Calibration, splits: dict[str, dict[str, Any]]) -> str:
    """The model card with its "Calibration" section written (replaced when present)."""
    fit = calibration.fit
    ece = ", ".join(f"{split} {r['ece']:.3f}" for split, r in splits.items())
    section = "\n".join([
        CARD_SECTION, "",
        f"`probability = {_formula(calibration)}`: the probability that the stem "
        "is the mix's true partner rather than a stem of another song, with both equally likely a priori (0.5 = "
        "either is as likely).",
        f"Fitted {fit['date']} by maximum likelihood on {fit['positives']} true pairs and {fit['negatives']} "
        f"other-song pairs of 5 s windows of `{fit['split']}` ({', '.join(fit['sources'])}, pair seed "
        f"{fit['pair_seed']}); expected calibration error (ECE, classes weighted to half): {ece}.",
        f"Command: `{fit['command']}`", "",
    ])  # fmt: skip
    head, found, tail = card.partition(CARD_SECTION)
    if not found:
        return card.rstrip("\n") + "\n\n" + section
    rest = tail.split("\n## ", 1)
    return head + section + ("\n## " + rest[1] if len(rest) == 2 else "")


if __name__ == "__main__":
    main()
