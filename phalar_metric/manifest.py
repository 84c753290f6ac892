"""Manifests: tables of audio paths (CSV with a header row, or JSON lines) for batch jobs."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

SUFFIXES = (".csv", ".jsonl", ".ndjson")
SPAN_COLUMNS = ("start", "end")  # optional, seconds: score only that span of both files


class ManifestError(ValueError):
    """A manifest that cannot be used: unknown format, bad line, missing column, no rows."""


def read_manifest(path: str | Path, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of a manifest, each a dict of its columns (CSV cells are strings).

    Args:
        path: a `.csv` file with a header row, or a `.jsonl`/`.ndjson` file of one JSON object a line.
        columns: columns that must be present.

    Returns:
        The rows in file order.

    Raises:
        ManifestError: for an unknown suffix, a line that is not a JSON object, a missing
            column or a manifest without rows.
        OSError: if the file cannot be read.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ManifestError(f"Manifest {path} expected a suffix in {SUFFIXES}, but got {suffix or 'none'!r}")
    with path.open(newline="", encoding="utf-8") as f:
        rows, header = _read_csv(f) if suffix == ".csv" else _read_jsonl(f, path)
    if not rows:
        raise ManifestError(f"Manifest {path} has no rows")
    for col in columns:
        if col not in header:
            raise ManifestError(f"{path} has no column {col!r} (columns: {', '.join(header)})")
    return rows


def resolve(value: Any, folder: Path) -> Path:
    """A manifest cell as a path, relative paths taken from the manifest's `folder`.

    Raises:
        ValueError: if the cell is empty or not a string.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected an audio path, but got {value!r}")
    path = Path(value.strip()).expanduser()
    return path if path.is_absolute() else folder / path


def row_span(row: dict[str, Any]) -> tuple[float | None, float | None]:
    """The optional `start` and `end` cells of a row in seconds (missing or empty: None).

    Raises:
        ValueError: a cell that is not a number.
    """
    span = []
    for column in SPAN_COLUMNS:
        value = row.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            span.append(None)
            continue
        try:
            if isinstance(value, bool):
                raise TypeError
            span.append(float(value))
        except (TypeError, ValueError):
            raise ValueError(f"column {column!r} expected seconds, but got {value!r}") from None
    return span[0], span[1]


def write_jsonl(records: Iterable[dict[str, Any]], out: TextIO) -> None:
    """One JSON object a line."""
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The objects written by `write_jsonl`."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _read_csv(f: TextIO) -> tuple[list[dict[str, Any]], list[str]]:
    reader = csv.DictReader(f)
    return list(reader), list(reader.fieldnames or [])


def _read_jsonl(f: TextIO, path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    rows = []
    for line_no, line in enumerate(f, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ManifestError(f"Manifest {path} line {line_no} is not valid JSON: {e.msg}") from None
        if not isinstance(row, dict):
            raise ManifestError(f"Manifest {path} line {line_no} expected a JSON object, but got {type(row).__name__}")
        rows.append(row)
    return rows, list(dict.fromkeys(k for row in rows for k in row))
