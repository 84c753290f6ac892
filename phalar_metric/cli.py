"""The `phalar` command: score pairs, embed clips, correlate scores with listening tests.

    phalar score MIX STEM [--json]
    phalar score --manifest pairs.csv -o scores.jsonl
    phalar score --mix-dir MIXES --stem-dir STEMS --system NAME --summary -o scores.jsonl
    phalar embed a.wav b.wav -o emb.npz
    phalar correlate ratings.csv --rating rating --score score

This file holds the parser and `phalar correlate`; `cli_score.py` and `cli_embed.py` the
other commands, `cli_common.py` what they share.

User mistakes (bad paths, manifests, arguments, missing weights) end with one line on
stderr and exit status 1; a batch run in which some items failed exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import torch

from .cli_common import PROG, load_metric, say
from .cli_embed import cmd_embed
from .cli_score import cmd_score
from .correlate import METHODS, CorrelationResult, correlate_csv
from .errors import fatal

MANIFEST_HELP = """\
manifests: a .csv with a header row or a .jsonl of one object a line; relative paths are
read from the manifest's folder. Optional columns "start" and "end" (seconds) score only
that span of both files. Each output line echoes the item's columns plus "score" and the
fields of the README's table, or "error" for an item that failed (the run goes on and exits
with status 2)."""
STORED_HELP = """\
stored embeddings: `phalar embed ... -o emb.npz` once, then `phalar score --manifest
pairs.csv --embeddings emb.npz` scores without reading audio for every path found in
emb.npz (looked up as written in the manifest); score with the same --model."""
SHARD_HELP = """\
sharding: under `torchrun --nproc_per_node N -m phalar_metric COMMAND --manifest ... -o OUT`
rank r takes items i with i % N == r; rank 0 merges the parts into OUT in input order."""
FOLDERS_HELP = """\
folders: --mix-dir MIXES --stem-dir STEMS pairs the audio files of the two folders by
relative path without extension (MIXES/a/b.wav with STEMS/a/b.flac); unpaired files are
listed on stderr and make the exit status 2. --system NAME adds "system": NAME to every line.
--summary prints per system (the lines' "system", else "all") the mean score and mean
probability with bootstrap 95% intervals: on stdout when the lines go to -o, else on stderr;
with --json as one JSON object."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (see `errors.fatal`)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix(PROG).strip()  # "score" for `phalar score`
        fatal(PROG, f"{command}: {message}" if command else message)


def get_parser() -> argparse.ArgumentParser:
    """The `phalar` argument parser with its `score`, `embed` and `correlate` commands."""
    parser = _Parser(prog=PROG, description="PhaLar: musical coherence of a stem with a mix.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    score = commands.add_parser(
        "score",
        help="score a mix with a stem, every pair of a manifest, or the pairs of two folders",
        epilog="\n\n".join((MANIFEST_HELP, FOLDERS_HELP, STORED_HELP, SHARD_HELP)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    score.add_argument("mix", nargs="?", metavar="MIX", help="mix audio file (the context)")
    score.add_argument("stem", nargs="?", metavar="STEM", help="stem audio file (the candidate part)")
    score.add_argument("--manifest", type=Path, metavar="PAIRS", help="score every pair of a .csv/.jsonl manifest")
    score.add_argument("--mix-col", default="mix", help="manifest column of mix paths (default: mix)")
    score.add_argument("--stem-col", default="stem", help="manifest column of stem paths (default: stem)")
    score.add_argument("--mix-dir", type=Path, metavar="MIXES", help="folder of mixes, paired with --stem-dir by name")
    score.add_argument("--stem-dir", type=Path, metavar="STEMS", help="folder of stems, paired with --mix-dir by name")
    score.add_argument("--system", metavar="NAME", help='label every line with "system": NAME')
    score.add_argument("--summary", action="store_true", help="per system: mean score, mean probability, 95%% CI")
    score.add_argument("--seed", type=int, default=0, help="seed of the --summary bootstrap (default 0)")
    score.add_argument("--embeddings", type=Path, metavar="EMB.npz", help="stored embeddings from `phalar embed`")
    score.add_argument("-o", "--output", type=Path, metavar="OUT.jsonl", help="output of a batch run (default: stdout)")
    score.add_argument("--json", action="store_true", help="MIX STEM: print a JSON object; --summary: as JSON")
    _add_run_args(score)
    score.set_defaults(func=cmd_score)

    embed = commands.add_parser(
        "embed",
        help="write window embeddings of clips to an .npz file",
        epilog="\n\n".join((STORED_HELP, SHARD_HELP)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    embed.add_argument("clips", nargs="*", metavar="CLIP", help="audio files")
    embed.add_argument("--manifest", type=Path, metavar="CLIPS", help="embed the paths of a .csv/.jsonl manifest")
    embed.add_argument("--path-col", default="path", help="manifest column of audio paths (default: path)")
    embed.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="OUT.npz",
        help="one complex64 array [n_windows, dim] per clip, under its path as written",
    )
    _add_run_args(embed)
    embed.set_defaults(func=cmd_embed)

    corr = commands.add_parser("correlate", help="correlate scores with listening-test ratings")
    corr.add_argument("ratings", type=Path, metavar="RATINGS.csv", help="one row per rating, with a header row")
    corr.add_argument("--rating", required=True, help="column of ratings")
    corr.add_argument("--score", help="column of scores (or compute them with --mix and --stem)")
    corr.add_argument("--mix", help="column of mix paths, scored with PhaLar (with --stem)")
    corr.add_argument("--stem", help="column of stem paths, scored with PhaLar (with --mix)")
    corr.add_argument("--group", help="column of groups: centre within groups, resample whole groups")
    corr.add_argument("--system", help="column of systems: report mean rating and score per system")
    corr.add_argument("--bootstrap", type=_non_negative, default=1000, help="bootstrap resamples (default 1000)")
    corr.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    corr.add_argument("--json", action="store_true", help="print a JSON object")
    _add_model_args(corr)
    corr.set_defaults(func=_cmd_correlate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `phalar` command.

    Args:
        argv: the arguments (default: `sys.argv[1:]`).

    Returns:
        The exit status: 0, or 2 when some items of a batch run failed (user mistakes exit
        through `fatal` with status 1).
    """
    args = get_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.func(args)
        except OSError as err:  # a missing file or weights, an unreadable manifest
            fatal(PROG, f"{err.strerror}: {err.filename}" if err.filename and err.strerror else str(err))
        except ValueError as err:  # a bad manifest, audio file or argument
            fatal(PROG, str(err))


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    """--model, --revision, --device, --batch-size."""
    parser.add_argument("--model", help="checkpoint folder or Hub repo id (default: the shipped weights)")
    parser.add_argument("--revision", help="Hub branch, tag or commit of --model")
    parser.add_argument("--device", type=_device, help="torch device, e.g. cpu or cuda (default: cpu)")
    parser.add_argument("--batch-size", type=_positive, default=16, help="model windows per forward pass (default 16)")


def _add_run_args(parser: argparse.ArgumentParser) -> None:
    """The model arguments and --quiet, for the batch commands."""
    _add_model_args(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


def _cmd_correlate(args: argparse.Namespace) -> int:
    metric = None
    if args.mix is not None or args.stem is not None:
        if args.score is not None or args.mix is None or args.stem is None:
            fatal(PROG, "correlate: give either --score COL, or both --mix COL and --stem COL")
        metric = load_metric(args)
    result = correlate_csv(
        args.ratings,
        args.rating,
        score=args.score,
        mix=args.mix,
        stem=args.stem,
        group=args.group,
        system=args.system,
        metric=metric,
        bootstrap=args.bootstrap,
        seed=args.seed,
    )
    record = result.to_dict() if metric is None else {**result.to_dict(), "provenance": metric.provenance}
    print(json.dumps(record) if args.json else _format_correlation(result))
    return 0


def _format_correlation(result: CorrelationResult) -> str:
    """A small table: the three coefficients with their intervals, then the system means."""
    lines = [f"n = {result.n} (skipped {result.skipped})"]
    for name in METHODS:
        corr = getattr(result, name)
        ci = "" if corr.ci is None else f"  95% CI [{corr.ci[0]:+.3f}, {corr.ci[1]:+.3f}]"
        lines.append(f"{name:<9} {corr.value:+.3f}{ci}")
    if result.systems:
        lines.append(f"{'system':<20} {'n':>5} {'rating':>9} {'score':>9}")
        lines += [f"{name:<20} {m.n:>5} {m.rating:>9.3f} {m.score:>9.3f}" for name, m in result.systems.items()]
    return "\n".join(lines)


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """Print a warning as one `phalar: warning:` line (a `warnings.showwarning`)."""
    say(f"warning: {message}")


def _positive(text: str) -> int:
    return _int_at_least(text, 1)


def _non_negative(text: str) -> int:
    return _int_at_least(text, 0)


def _int_at_least(text: str, low: int) -> int:
    """Parse an integer >= `low` (an argparse type)."""
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low:
        raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}")
    return value


def _device(text: str) -> torch.device:
    """Parse a torch device that this machine has (an argparse type)."""
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"not a torch device: {text!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: CUDA is not available on this machine")
    return device

