"""How the spectral pooling's projection varies along frequency: a check of pitch hearing
that needs no audio.

    python -m evaluation.pooling_spectrum --model phalar_metric/weights --variant "PhaLar 0.3.0" \\
        --model RUNS/v0.2.0 --variant "PhaLar 0.2.0" --json out.json --markdown out.md
    python -m evaluation.pooling_spectrum --model phalar_metric/weights --remove 4 --out RUNS/no_period4

The backbone keeps every frequency bin and its convolutions are (nearly) equivariant to a
shift along frequency, so a transposition reaches the embedding through the projection `W`
`[embed_dim, channels, n_bins]` of `SpectralPooling` alone: a component of `W` that repeats
every `p` bins cannot tell a target from the same target transposed by `p` bins. The table
gives, per model, the share of `W`'s energy in its DFT along the frequency bins (over every
output and channel) at 0 and at the periods of the pitch classes: 12, 6, 4, 3, 2.4 and 2
semitones. 0.3.0 holds 3.2% of its energy at a period of 4 semitones (0.2.0: 1.9%), and its
interval curve shows the matching blind spot at ±4 and ±8 semitones (docs/results).
`--remove P --out DIR` writes a copy of the first model whose `W` has the DFT bins nearest a
period of P semitones, and their neighbours, set to 0: run `evaluation.interval_curve` on it
to see what that component did.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

from phalar_metric.hub import save_pretrained
from phalar_metric.model import PhaLar

from .report import Parser, add_run_args, fatal, load_model, markdown_table, write_outputs

PROG = "python -m evaluation.pooling_spectrum"
PERIODS = (12.0, 6.0, 4.0, 3.0, 2.4, 2.0)  # semitones: the harmonics of the pitch-class circle


def get_parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    p = Parser(prog=PROG, description="Energy of the pooling projection along frequency, by period.")
    p.add_argument("--model", action="append", required=True, help="checkpoint folder (repeatable)")
    p.add_argument("--variant", action="append", default=[], help="a name for each --model (default: folder name)")
    p.add_argument("--remove", type=float, help="with --out: the period in semitones to remove from the first model")
    p.add_argument("--out", type=Path, help="folder of the copy without the --remove period")
    add_run_args(p)
    return p


def projection(model: PhaLar) -> torch.Tensor:
    """The pooling projection `W` as `[embed_dim, channels, n_bins]`."""
    weight = model.pooling.proj.weight.detach()
    return weight.reshape(weight.shape[0], -1, model.config.n_bins)


def frequency_spectrum(model: PhaLar) -> torch.Tensor:
    """`[n_bins // 2 + 1]` shares of `W`'s energy in each bin of its real DFT along frequency
    (each bin counted as often as the full DFT holds it, so the shares sum to 1)."""
    power = torch.fft.rfft(projection(model).double(), dim=-1).abs().square().sum(dim=(0, 1))
    n = model.config.n_bins
    count = torch.full_like(power, 2.0)
    count[0] = 1.0
    if n % 2 == 0:
        count[-1] = 1.0
    power = power * count
    return power / power.sum()


def period_bin(model: PhaLar, semitones: float) -> int:
    """The DFT bin nearest a period of `semitones` along the model's frequency bins."""
    bins_per_semitone = model.config.bins_per_octave / 12
    if model.config.frontend != "cqt":
        raise ValueError(f"periods in semitones need a CQT front-end, got frontend={model.config.frontend!r}")
    return int(round(model.config.n_bins / (semitones * bins_per_semitone)))


def without_period(model: PhaLar, semitones: float) -> PhaLar:
    """A copy of `model` whose `W` has DFT bins `period_bin - 1 .. period_bin + 1` along
    frequency set to 0."""
    k = period_bin(model, semitones)
    w = projection(model)
    spectrum = torch.fft.rfft(w, dim=-1)
    spectrum[..., max(k - 1, 1) : k + 2] = 0
    copy = PhaLar(model.config)
    copy.load_state_dict(model.state_dict())
    copy.pooling.proj.weight.data.copy_(torch.fft.irfft(spectrum, n=w.shape[-1], dim=-1).reshape_as(
        copy.pooling.proj.weight))
    return copy.eval()


def main(argv: list[str] | None = None) -> None:
    args = get_parser().parse_args(argv)
    names = args.variant or [Path(m).name or m for m in args.model]
    if len(names) != len(args.model):
        fatal(PROG, f"--variant expects one name per --model ({len(args.model)}), got {len(names)}")
    if (args.remove is None) != (args.out is None):
        fatal(PROG, "--remove and --out go together")
    try:
        torch.set_num_threads(args.threads)
        models = {name: load_model(spec) for name, spec in zip(names, args.model)}
        shares = {}
        for name, model in models.items():
            spectrum = frequency_spectrum(model)
            shares[name] = {"0": float(spectrum[0]),
                            **{f"{p:g}": float(spectrum[period_bin(model, p)]) for p in PERIODS}}
        if args.out is not None:
            first = next(iter(models.values()))
            save_pretrained(without_period(first, args.remove), args.out,
                            model_card=f"{args.model[0]} without the period of {args.remove:g} semitones in W")
    except (ValueError, OSError) as e:
        fatal(PROG, str(e))
    result: dict[str, Any] = {"command": " ".join([PROG, *sys.argv[1:]]), "models": dict(zip(names, args.model)),
                              "shares": shares}
    header = ["period (semitones)", *(f"{name} share" for name in shares)]
    rows = [["none (sum over frequency)" if key == "0" else key, *(s[key] for s in shares.values())]
            for key in ("0", *(f"{p:g}" for p in PERIODS))]
    write_outputs(result, markdown_table(header, rows, digits=4), args.json, args.markdown)


if __name__ == "__main__":
    main()
