"""`phalar score`: one pair, every pair of a manifest, or the pairs of two folders.

Every output line carries the item's columns, the result fields (`result_fields`) and the
metric's provenance; a failed item carries `error` instead of the result fields.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

from .cli_common import ITEM_ERRORS, PROG, finish, load_metric, progress, report, reason, say, shard_of
from .cli_common import write_jsonl_file
from .embedding_cache import Embedding, EmbeddingCache, embedding_provenance, load_embeddings
from .errors import fatal
from .folders import pair_folders
from .manifest import read_jsonl, read_manifest, row_span, write_jsonl
from .metric import PhaLarScore
from .pair_score import PairScore
from .shard import Shard, interleave
from .summary import format_summary, summarise


def cmd_score(args: argparse.Namespace) -> int:
    """Run `phalar score`; the exit status."""
    pair = args.mix is not None or args.stem is not None
    folders = args.mix_dir is not None or args.stem_dir is not None
    if pair + (args.manifest is not None) + folders != 1 or (pair and args.stem is None):
        fatal(PROG, "score: give either MIX STEM or --manifest PAIRS or --mix-dir MIXES --stem-dir STEMS")
    if folders and (args.mix_dir is None or args.stem_dir is None):
        fatal(PROG, "score: --mix-dir and --stem-dir go together")
    if pair:
        return _score_pair(args)
    if args.json and not args.summary:
        fatal(PROG, "score: --json goes with MIX STEM or with --summary (batch runs always write JSON lines)")
    rows, folder, unpaired = _folder_rows(args) if folders else (_manifest_rows(args), args.manifest.parent, 0)
    if args.system is not None:
        if any("system" in row for row in rows):
            fatal(PROG, "score: the manifest has a column 'system'; leave out --system")
        rows = [{**row, "system": args.system} for row in rows]
    with shard_of(args) as shard:
        status = _score_rows(args, rows, folder, shard)
    return 2 if unpaired and shard.rank == 0 else status


def result_fields(details: PairScore) -> dict[str, Any]:
    """The fields a scored pair adds to its output line (see the README's table)."""
    return {
        "score": details.score,
        "probability": details.probability,
        "windows": details.windows,
        "silent_windows": details.silent_windows,
        "warnings": [str(w) for w in details.warnings],
    }


def _score_pair(args: argparse.Namespace) -> int:
    """MIX STEM: print the score, or a JSON object with --json."""
    for given, option in ((args.output, "-o/--output"), (args.summary or None, "--summary"), (args.system, "--system")):
        if given is not None:
            fatal(PROG, f"score: {option} goes with --manifest or --mix-dir")
    metric = load_metric(args)
    cache = EmbeddingCache(metric, stored=_stored(args, metric))
    details = cache.details(args.mix, args.stem)
    if args.json:
        _note_uncalibrated(metric, args)
        print(json.dumps({"mix": args.mix, "stem": args.stem, **result_fields(details), **metric.provenance}))
    else:
        for warning in details.warnings:
            warnings.warn(warning)
        print(f"{details.score:.6f}")
    return 0


def _manifest_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The rows of --manifest, with its mix and stem columns."""
    return read_manifest(args.manifest, [args.mix_col, args.stem_col])


def _folder_rows(args: argparse.Namespace) -> tuple[list[dict[str, Any]], Path, int]:
    """Rows `{"key", mix, stem}` of the files of --mix-dir and --stem-dir that pair by name,
    the folder their paths are relative to, and the number of unpaired files (reported)."""
    found = pair_folders(args.mix_dir, args.stem_dir)
    for kind, paths in (("mix", found.unpaired_mixes), ("stem", found.unpaired_stems)):
        for path in paths:
            say(f"unpaired {kind}, no file of the same name in the other folder: {path}")
    rows = [{"key": key, args.mix_col: str(mix), args.stem_col: str(stem)} for key, mix, stem in found.pairs]
    return rows, Path("."), len(found.unpaired_mixes) + len(found.unpaired_stems)


def _score_rows(args: argparse.Namespace, rows: list[dict[str, Any]], folder: Path, shard: Shard) -> int:
    """Score this shard's rows, write them (merged when sharded) and the summary; the exit status."""
    metric = load_metric(args)
    cache = EmbeddingCache(metric, folder, _stored(args, metric))
    provenance = metric.provenance
    if shard.rank == 0:
        _note_uncalibrated(metric, args)
    records = []
    for i in progress(shard, len(rows), args, "pair"):
        row = rows[i]
        try:
            fields = result_fields(cache.details(row.get(args.mix_col), row.get(args.stem_col), row_span(row)))
        except ITEM_ERRORS as err:
            fields = {"error": reason(err)}
            report(i, f"{row.get(args.mix_col)} + {row.get(args.stem_col)}", err)
        records.append({**row, **fields, **provenance})
    failed = shard.total(sum("error" in r for r in records))
    if args.output is None:
        write_jsonl(records, sys.stdout)
    else:
        shard.collect(
            args.output,
            lambda path: write_jsonl_file(records, path),
            lambda parts: write_jsonl_file(interleave([read_jsonl(p) for p in parts]), args.output),
        )
    if args.summary and shard.rank == 0:
        _print_summary(args, records if not shard.sharded else read_jsonl(args.output))
    return finish(shard, args, len(rows), failed, "scored", "pairs")


def _print_summary(args: argparse.Namespace, records: list[dict[str, Any]]) -> None:
    """The per-system summary: on stdout when the lines went to -o, else on stderr; JSON with --json."""
    summary = summarise(records, seed=args.seed)
    text = json.dumps({"summary": summary}) if args.json else format_summary(summary)
    print(text, file=sys.stderr if args.output is None else sys.stdout)


def _note_uncalibrated(metric: PhaLarScore, args: argparse.Namespace) -> None:
    """Say on stderr (unless --quiet) why the lines' `probability` is null, when it is."""
    if metric.calibration is None and not args.quiet:
        say(f"note: {metric.calibration_note}; the lines carry \"probability\": null")


def _stored(args: argparse.Namespace, metric: PhaLarScore) -> dict[str, Embedding] | None:
    """The embeddings of --embeddings, if given (refused unless made with `metric`'s weights and config)."""
    return None if args.embeddings is None else load_embeddings(args.embeddings, embedding_provenance(metric))
