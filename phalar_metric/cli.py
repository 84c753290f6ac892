"""The `phalar` command: score pairs, embed clips, correlate scores with listening tests.

    phalar score MIX STEM [--json]
    phalar score --manifest pairs.csv -o scores.jsonl
    phalar embed a.wav b.wav -o emb.npz
    phalar correlate ratings.csv --rating rating --score score

User mistakes (bad paths, manifests, arguments, missing weights) end with one line on
stderr and exit status 1; a batch run in which some items failed exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import torch
from tqdm import tqdm

from .correlate import METHODS, CorrelationResult, correlate_csv
from .errors import fatal, one_line
from .embedding_cache import Embedding, EmbeddingCache, embedding_provenance, load_embeddings, save_embeddings
from .manifest import read_jsonl, read_manifest, row_span, write_jsonl
from .pair_score import PairScore
from .metric import PhaLarScore
from .shard import Shard, interleave

PROG = "phalar"
ITEM_ERRORS = (ValueError, OSError, RuntimeError)  # one failing item is reported, the run goes on

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
        help="score a mix with a stem, or every pair of a manifest",
        epilog="\n\n".join((MANIFEST_HELP, STORED_HELP, SHARD_HELP)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    score.add_argument("mix", nargs="?", metavar="MIX", help="mix audio file (the context)")
    score.add_argument("stem", nargs="?", metavar="STEM", help="stem audio file (the candidate part)")
    score.add_argument("--manifest", type=Path, metavar="PAIRS", help="score every pair of a .csv/.jsonl manifest")
    score.add_argument("--mix-col", default="mix", help="manifest column of mix paths (default: mix)")
    score.add_argument("--stem-col", default="stem", help="manifest column of stem paths (default: stem)")
    score.add_argument("--embeddings", type=Path, metavar="EMB.npz", help="stored embeddings from `phalar embed`")
    score.add_argument("-o", "--output", type=Path, metavar="OUT.jsonl", help="output of --manifest (default: stdout)")
    score.add_argument("--json", action="store_true", help="print a JSON object for MIX STEM")
    _add_run_args(score)
    score.set_defaults(func=_cmd_score)

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
    embed.set_defaults(func=_cmd_embed)

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


def _cmd_score(args: argparse.Namespace) -> int:
    given = [p for p in (args.mix, args.stem) if p is not None]
    if len(given) != (0 if args.manifest else 2):
        fatal(PROG, "score: give either MIX STEM or --manifest")
    if args.manifest is not None:
        return _score_manifest(args)
    if args.output is not None:
        fatal(PROG, "score: -o/--output goes with --manifest")
    metric = _load_metric(args)
    cache = EmbeddingCache(metric, stored=_stored(args, metric))
    details = cache.details(args.mix, args.stem)
    if args.json:
        print(json.dumps({"mix": args.mix, "stem": args.stem, **_result_fields(details), **metric.provenance}))
    else:
        for warning in details.warnings:
            warnings.warn(warning)
        print(f"{details.score:.6f}")
    return 0


def _result_fields(details: PairScore) -> dict[str, Any]:
    """The fields a scored pair adds to its output line."""
    return {
        "score": details.score,
        "windows": details.windows,
        "silent_windows": details.silent_windows,
        "warnings": [str(w) for w in details.warnings],
    }


def _score_manifest(args: argparse.Namespace) -> int:
    if args.json:
        fatal(PROG, "score: --json goes with MIX STEM (--manifest always writes JSON lines)")
    rows = read_manifest(args.manifest, [args.mix_col, args.stem_col])
    with _shard(args) as shard:
        return _score_rows(args, rows, shard)


def _score_rows(args: argparse.Namespace, rows: list[dict[str, Any]], shard: Shard) -> int:
    """Score this shard's rows of the manifest, write them (merged when sharded); the exit status."""
    metric = _load_metric(args)
    cache = EmbeddingCache(metric, args.manifest.parent, _stored(args, metric))
    provenance = metric.provenance
    records = []
    for i in _progress(shard, len(rows), args, "pair"):
        row = rows[i]
        try:
            fields = _result_fields(cache.details(row.get(args.mix_col), row.get(args.stem_col), row_span(row)))
        except ITEM_ERRORS as err:
            fields = {"error": _reason(err)}
            _report(i, f"{row.get(args.mix_col)} + {row.get(args.stem_col)}", err)
        records.append({**row, **fields, **provenance})
    failed = shard.total(sum("error" in r for r in records))
    if args.output is None:
        write_jsonl(records, sys.stdout)
    else:
        shard.collect(
            args.output,
            lambda path: _write_jsonl_file(records, path),
            lambda parts: _write_jsonl_file(interleave([read_jsonl(p) for p in parts]), args.output),
        )
    return _summary(shard, args, len(rows), failed, "scored", "pairs")


def _cmd_embed(args: argparse.Namespace) -> int:
    if (args.manifest is None) == (not args.clips):
        fatal(PROG, "embed: give either CLIP [CLIP ...] or --manifest")
    if args.manifest is not None:
        rows = read_manifest(args.manifest, [args.path_col])
        items, folder = [row.get(args.path_col) for row in rows], args.manifest.parent
    else:
        items, folder = args.clips, Path(".")
    with _shard(args) as shard:
        return _embed_items(args, items, folder, shard)


def _embed_items(args: argparse.Namespace, items: list[Any], folder: Path, shard: Shard) -> int:
    """Embed this shard's clips, write them (merged when sharded); the exit status."""
    metric = _load_metric(args)
    cache = EmbeddingCache(metric, folder)
    done: dict[str, Embedding] = {}
    failed = 0
    for i in _progress(shard, len(items), args, "clip"):
        try:
            done[items[i]] = cache.get(items[i], "clip")
        except ITEM_ERRORS as err:
            failed += 1
            _report(i, str(items[i]), err)
    shard.collect(
        args.output,
        lambda path: save_embeddings(path, done, embedding_provenance(metric)),
        lambda parts: save_embeddings(args.output, _merge_embeddings(parts, items), embedding_provenance(metric)),
    )
    return _summary(shard, args, len(items), shard.total(failed), "embedded", "clips")


def _cmd_correlate(args: argparse.Namespace) -> int:
    metric = None
    if args.mix is not None or args.stem is not None:
        if args.score is not None or args.mix is None or args.stem is None:
            fatal(PROG, "correlate: give either --score COL, or both --mix COL and --stem COL")
        metric = _load_metric(args)
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


def _load_metric(args: argparse.Namespace) -> PhaLarScore:
    """The metric of --model/--revision (default: the shipped weights) on --device."""
    device = args.device
    if device is not None and device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))  # one GPU per torchrun process
    if args.model is None:
        if args.revision is not None:
            fatal(PROG, "--revision goes with --model")
        return PhaLarScore(device=device, batch_size=args.batch_size)
    return PhaLarScore.from_pretrained(args.model, revision=args.revision, device=device, batch_size=args.batch_size)


def _stored(args: argparse.Namespace, metric: PhaLarScore) -> dict[str, Embedding] | None:
    """The embeddings of --embeddings, if given (refused unless made with `metric`'s weights and config)."""
    return None if args.embeddings is None else load_embeddings(args.embeddings, embedding_provenance(metric))


def _shard(args: argparse.Namespace) -> Shard:
    """This process's shard; output to a file is required when sharded."""
    shard = Shard.from_env()
    if shard.sharded and getattr(args, "output", None) is None:
        fatal(PROG, f"-o/--output is required when sharded (WORLD_SIZE={shard.world})")
    return shard


def _progress(shard: Shard, n: int, args: argparse.Namespace, unit: str) -> Iterable[int]:
    """This shard's item indices, with a progress bar on stderr (rank 0, a terminal, not --quiet)."""
    indices = shard.indices(n)
    hide = args.quiet or shard.rank != 0 or not sys.stderr.isatty()
    return tqdm(indices, total=len(indices), unit=unit, file=sys.stderr, disable=hide, dynamic_ncols=True)


def _report(index: int, item: str, err: BaseException) -> None:
    """One stderr line for a failed item (1-based `index + 1`), above the progress bar."""
    tqdm.write(f"{PROG}: item {index + 1} ({item}) failed: {_reason(err)}", file=sys.stderr)


def _reason(err: BaseException) -> str:
    """The error's message on one line."""
    return one_line(err) or type(err).__name__


def _summary(shard: Shard, args: argparse.Namespace, n: int, failed: int, verb: str, noun: str) -> int:
    """On rank 0, print the counts and return the exit status, 2 if any item failed; 0 on other ranks.

    (torchrun stops all processes when one exits with an error, so only rank 0 reports it.)
    """
    if shard.rank != 0:
        return 0
    if failed or not args.quiet:
        where = f" -> {args.output}" if args.output is not None else ""
        print(f"{PROG}: {verb} {n - failed} of {n} {noun}, {failed} failed{where}", file=sys.stderr)
    return 2 if failed else 0


def _write_jsonl_file(records: list[Any], path: Path) -> None:
    """`records` as JSON lines in the file `path`."""
    with path.open("w", encoding="utf-8") as f:
        write_jsonl(records, f)


def _merge_embeddings(parts: list[Path], items: list[Any]) -> dict[str, Embedding]:
    """The embeddings of all part files, in input order."""
    found: dict[str, Embedding] = {}
    for part in parts:
        found.update(load_embeddings(part))
    return {item: found[item] for item in items if item in found}


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """Print a warning as one `phalar: warning:` line (a `warnings.showwarning`)."""
    tqdm.write(f"{PROG}: warning: {message}", file=sys.stderr)


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

