"""How the spectral pooling's projection varies along frequency: a check of pitch hearing
that needs no audio.

    python -m evaluation.pooling_spectrum --model phalar_metric/weights --variant "PhaLar 0.3.0" \\
        --model RUNS/v0.2.0 --variant "PhaLar 0.2.0" --json out.json --markdown out.md
    python -m evaluation.pooling_spectrum --model phalar_metric/weights --remove 4 --out RUNS/no_period4

A transposition reaches the embedding through the pooling projection `W` alone, and a
component of `W` that repeats every `p` bins cannot tell a target from the same target
transposed by `p` bins (training/comb.py, where these measures live). The table
gives, per model, the share of `W`'s energy in its DFT along the frequency bins (over every
output and channel) at 0 (the sum over frequency) and around the periods of the pitch
classes, 12, 6, 4, 3, 2.4 and 2 semitones: the DFT bin nearest each period and its two
neighbours, the bins `--remove` sets to 0, and in brackets how much of that share stands above
the bins around it (`period_excess`: W's spectrum falls smoothly with frequency, so a
period the network relies on shows as a peak). 0.3.0 holds 0.067 around a period of 4
semitones, 0.036 of it above its neighbours (0.2.0: 0.044 and 0.013; every other period within
0.011 of its neighbours; docs/results/pooling_spectrum.md), and it hears ±4 and ±8 semitones
least; a copy without that period scores ±4 and ±8 as 0.3.0 does and the other intervals lower
(docs/results/interval_curve_ood_no_period4.md).
`--remove P --out DIR` writes a copy of the first model without the period of P semitones;
run `evaluation.interval_curve` on it to see what that component did.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

from phalar_metric.hub import save_pretrained
from phalar_metric.model import PhaLar
from training.comb import PERIODS, frequency_spectrum, period_bins, period_excess, projection

from .report import (Parser, add_model_args, add_run_args, describe_models, fatal, markdown_table, named_models,
                     write_outputs)

PROG = "python -m evaluation.pooling_spectrum"


def get_parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    p = Parser(prog=PROG, description="Energy of the pooling projection along frequency, by period.")
    add_model_args(p, audio=False)
    p.add_argument("--remove", type=float, help="with --out: the period in semitones to remove from the first model")
    p.add_argument("--out", type=Path, help="folder of the copy without the --remove period")
    add_run_args(p)
    return p


def without_period(model: PhaLar, semitones: float) -> PhaLar:
    """A copy of `model` whose `W` has the DFT bins `period_bins` along frequency set to 0."""
    w = projection(model).detach()
    spectrum = torch.fft.rfft(w, dim=-1)
    spectrum[..., period_bins(model, semitones)] = 0
    copy = PhaLar(model.config)
    copy.load_state_dict(model.state_dict())
    copy.pooling.proj.weight.data.copy_(torch.fft.irfft(spectrum, n=w.shape[-1], dim=-1).reshape_as(
        copy.pooling.proj.weight))
    return copy.eval()


def main(argv: list[str] | None = None) -> None:
    args = get_parser().parse_args(argv)
    if (args.remove is None) != (args.out is None):
        fatal(PROG, "--remove and --out go together")
    if not args.model:
        fatal(PROG, "give --model")
    source = Path(args.model[0]).resolve()
    if args.out is not None and args.out.resolve() in (source, source / "best"):
        fatal(PROG, f"--out {args.out} is the model's own folder: write the copy elsewhere")
    try:
        torch.set_num_threads(args.threads)
        models = named_models(args)
        shares, excess = {}, {}
        with torch.no_grad():
            for name, model in models.items():
                spectrum = frequency_spectrum(model)
                shares[name] = {"0": float(spectrum[0]),
                                **{f"{p:g}": float(spectrum[period_bins(model, p)].sum()) for p in PERIODS}}
                excess[name] = {f"{p:g}": float(period_excess(model, spectrum, p)) for p in PERIODS}
        if args.out is not None:
            save_pretrained(without_period(next(iter(models.values())), args.remove), args.out,
                            model_card=f"{args.model[0]} without the period of {args.remove:g} semitones in W")
    except (ValueError, OSError) as e:
        fatal(PROG, str(e))
    result: dict[str, Any] = {"command": " ".join([PROG, *sys.argv[1:]]), "models": describe_models(models, args),
                              "shares": shares, "above_neighbours": excess}
    header = ["period (semitones)", *(f"{name} share (above neighbours)" for name in shares)]
    rows = [["none (sum over frequency)", *(f"{s['0']:.4f}" for s in shares.values())]]
    rows += [[key, *(f"{shares[name][key]:.4f} ({excess[name][key]:+.4f})" for name in shares)]
             for key in (f"{p:g}" for p in PERIODS)]
    write_outputs(result, markdown_table(header, rows, digits=4), args.json, args.markdown)


if __name__ == "__main__":
    main()
