"""One-line user errors of the command-line tools (`phalar` and the evaluation commands)."""

from __future__ import annotations

import sys
from typing import NoReturn


def one_line(message: object) -> str:
    """`message` as text on one line (runs of whitespace, newlines included, become one space)."""
    return " ".join(str(message).split())


def fatal(prog: str, message: object) -> NoReturn:
    """Print `prog: error: message` as one line to stderr and exit with status 1 (no traceback)."""
    print(f"{prog}: error: {one_line(message)}", file=sys.stderr)
    sys.exit(1)
