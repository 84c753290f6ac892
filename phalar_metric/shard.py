"""Sharding a batch job across processes started by torchrun (`WORLD_SIZE`, `RANK`).

Rank r takes items i with `i % world == r` and writes a part file next to the output; after
a gloo barrier rank 0 merges the parts into the output, in input order, and removes them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Shard:
    """This process's share of a job: `rank` in `[0, world)`."""

    rank: int = 0
    world: int = 1

    @classmethod
    def from_env(cls) -> "Shard":
        """The shard torchrun's environment gives (a single process when `WORLD_SIZE` is unset)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        return cls(rank=int(os.environ.get("RANK", "0")) if world > 1 else 0, world=world)

    @property
    def sharded(self) -> bool:
        return self.world > 1

    def indices(self, n: int) -> range:
        """The indices of this shard's items among `n`."""
        return range(self.rank, n, self.world)

    def part_path(self, output: Path, rank: int) -> Path:
        """Where `rank` writes its part of `output`."""
        return output.with_name(f"{output.name}.part{rank}-of-{self.world}")

    def __enter__(self) -> "Shard":
        if self.sharded and not dist.is_initialized():
            dist.init_process_group("gloo")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.sharded and dist.is_initialized():
            dist.destroy_process_group()

    def total(self, count: int) -> int:
        """`count` summed over all ranks."""
        if not self.sharded:
            return count
        t = torch.tensor([count], dtype=torch.int64)
        dist.all_reduce(t)
        return int(t.item())

    def collect(self, output: Path, write: Callable[[Path], None], merge: Callable[[list[Path]], None]) -> None:
        """Write this shard's results into `output`, via part files when sharded.

        Args:
            output: the final output file.
            write: writes this process's results to the path it is given.
            merge: on rank 0, writes `output` from the part files of all ranks (in rank order).
        """
        if not self.sharded:
            write(output)
            return
        parts = [self.part_path(output, r) for r in range(self.world)]
        write(parts[self.rank])
        dist.barrier()
        if self.rank == 0:
            merge(parts)
            for part in parts:
                part.unlink()
        dist.barrier()


def interleave(parts: list[list[object]]) -> list[object]:
    """Items in input order from per-rank lists (item i is `parts[i % world][i // world]`)."""
    n = sum(len(p) for p in parts)
    return [parts[i % len(parts)][i // len(parts)] for i in range(n)]
