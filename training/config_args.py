"""nanoGPT-style overrides of a config dataclass: `--config FILE.json` and `--key=value`."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Type-check `value` against the field's default."""
    if isinstance(value, str) and not isinstance(default, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError) as exc:
            raise ValueError(f"--{name}: cannot parse {value!r}") from exc
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not type(default):
        raise ValueError(f"--{name} expects {type(default).__name__}, got {value!r}")
    return value


def parse_overrides(cls: type[T], argv: list[str]) -> T:
    """Build `cls` from its defaults, then `--config FILE.json` keys, then `--key=value`s.

    Raises:
        ValueError: on an unknown key, a mistyped value or a malformed argument.
    """
    defaults = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    args = list(argv)
    if "--config" in args:
        i = args.index("--config")
        if i + 1 == len(args):
            raise ValueError("--config expects a JSON file of config keys")
        values.update(json.loads(Path(args[i + 1]).read_text()))
        del args[i : i + 2]
    for arg in args:
        if not arg.startswith("--") or "=" not in arg:
            raise ValueError(f"Arguments are --key=value, got {arg!r}")
        key, value = arg[2:].split("=", 1)
        values[key] = value
    unknown = set(values) - set(defaults)
    if unknown:
        raise ValueError(f"Unknown config keys: {sorted(unknown)}")
    return cls(**{k: _coerce(k, v, defaults[k]) for k, v in values.items()})
