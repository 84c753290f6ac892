"""`phalar embed`: window embeddings of clips, written to an `.npz` file with their provenance."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .cli_common import ITEM_ERRORS, PROG, finish, load_metric, progress, report, shard_of
from .embedding_cache import Embedding, EmbeddingCache, embedding_provenance, load_embeddings, save_embeddings
from .errors import fatal
from .manifest import read_manifest
from .shard import Shard


def cmd_embed(args: argparse.Namespace) -> int:
    """Run `phalar embed`; the exit status."""
    if (args.manifest is None) == (not args.clips):
        fatal(PROG, "embed: give either CLIP [CLIP ...] or --manifest")
    if args.manifest is not None:
        rows = read_manifest(args.manifest, [args.path_col])
        items, folder = [row.get(args.path_col) for row in rows], args.manifest.parent
    else:
        items, folder = args.clips, Path(".")
    with shard_of(args) as shard:
        return _embed_items(args, items, folder, shard)


def _embed_items(args: argparse.Namespace, items: list[Any], folder: Path, shard: Shard) -> int:
    """Embed this shard's clips, write them (merged when sharded); the exit status."""
    metric = load_metric(args)
    cache = EmbeddingCache(metric, folder)
    done: dict[str, Embedding] = {}
    failed = 0
    for i in progress(shard, len(items), args, "clip"):
        try:
            done[items[i]] = cache.get(items[i], "clip")
        except ITEM_ERRORS as err:
            failed += 1
            report(i, str(items[i]), err)
    shard.collect(
        args.output,
        lambda path: save_embeddings(path, done, embedding_provenance(metric)),
        lambda parts: save_embeddings(args.output, _merge_embeddings(parts, items), embedding_provenance(metric)),
    )
    return finish(shard, args, len(items), shard.total(failed), "embedded", "clips")


def _merge_embeddings(parts: list[Path], items: list[Any]) -> dict[str, Embedding]:
    """The embeddings of all part files, in input order."""
    found: dict[str, Embedding] = {}
    for part in parts:
        found.update(load_embeddings(part))
    return {item: found[item] for item in items if item in found}
