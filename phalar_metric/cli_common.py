"""Plumbing shared by the `phalar` commands: loading the metric, shards, progress, item errors.

A failing item of a batch run is reported (one stderr line) and the run goes on; the run
then exits with status 2. User mistakes exit through `errors.fatal` with status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from .errors import fatal, one_line
from .manifest import write_jsonl
from .metric import PhaLarScore
from .shard import Shard

PROG = "phalar"
ITEM_ERRORS = (ValueError, OSError, RuntimeError)  # one failing item is reported, the run goes on


def load_metric(args: argparse.Namespace) -> PhaLarScore:
    """The metric of --model/--revision (default: the shipped weights) on --device."""
    device = args.device
    if device is not None and device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))  # one GPU per torchrun process
    if args.model is None:
        if args.revision is not None:
            fatal(PROG, "--revision goes with --model")
        return PhaLarScore(device=device, batch_size=args.batch_size)
    return PhaLarScore.from_pretrained(args.model, revision=args.revision, device=device, batch_size=args.batch_size)


def shard_of(args: argparse.Namespace) -> Shard:
    """This process's shard; output to a file is required when sharded."""
    shard = Shard.from_env()
    if shard.sharded and getattr(args, "output", None) is None:
        fatal(PROG, f"-o/--output is required when sharded (WORLD_SIZE={shard.world})")
    return shard


def progress(shard: Shard, n: int, args: argparse.Namespace, unit: str) -> Iterable[int]:
    """This shard's item indices, with a progress bar on stderr (rank 0, a terminal, not --quiet)."""
    indices = shard.indices(n)
    hide = args.quiet or shard.rank != 0 or not sys.stderr.isatty()
    return tqdm(indices, total=len(indices), unit=unit, file=sys.stderr, disable=hide, dynamic_ncols=True)


def say(message: str) -> None:
    """One `phalar: ...` line on stderr, above the progress bar."""
    tqdm.write(f"{PROG}: {message}", file=sys.stderr)


def report(index: int, item: str, err: BaseException) -> None:
    """One stderr line for a failed item (1-based `index + 1`)."""
    say(f"item {index + 1} ({item}) failed: {reason(err)}")


def reason(err: BaseException) -> str:
    """The error's message on one line."""
    return one_line(err) or type(err).__name__


def finish(shard: Shard, args: argparse.Namespace, n: int, failed: int, verb: str, noun: str) -> int:
    """On rank 0, print the counts and return the exit status, 2 if any item failed; 0 on other ranks.

    (torchrun stops all processes when one exits with an error, so only rank 0 reports it.)
    """
    if shard.rank != 0:
        return 0
    if failed or not args.quiet:
        where = f" -> {args.output}" if args.output is not None else ""
        print(f"{PROG}: {verb} {n - failed} of {n} {noun}, {failed} failed{where}", file=sys.stderr)
    return 2 if failed else 0


def write_jsonl_file(records: list[Any], path: Path) -> None:
    """`records` as JSON lines in the file `path`."""
    with path.open("w", encoding="utf-8") as f:
        write_jsonl(records, f)
