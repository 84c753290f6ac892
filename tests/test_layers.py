"""The code's layers go one way and no module imports itself back through others.

phalar_metric <- training <- evaluation <- benchmarks (examples sit beside evaluation). Every
import statement counts, also those inside functions and under `if TYPE_CHECKING:`; an
import of `a.b.c` counts as an edge to `a.b.c` only (not to the packages above it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# top-level package -> the project packages it may import
ALLOWED = {
    "phalar_metric": set(),
    "training": {"phalar_metric"},
    "evaluation": {"phalar_metric", "training"},
    "benchmarks": {"phalar_metric", "training", "evaluation"},
    "examples": {"phalar_metric", "training"},
}


def module_name(path: Path) -> str:
    """`training/sources/base.py` -> `training.sources.base`; a package's `__init__.py` -> the package."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for top in ALLOWED for p in sorted((ROOT / top).rglob("*.py"))}


def imported(name: str, path: Path) -> set[str]:
    """The project modules that module `name` (at `path`) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            stem = ".".join(base + ([node.module] if node.module else []))
            targets = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in MODULES else stem for alias in node.names]
        else:
            continue
        out |= {t for t in targets if t in MODULES}
    return out


GRAPH = {name: imported(name, path) for name, path in MODULES.items()}


def test_the_tree_is_read() -> None:
    assert {"phalar_metric.model", "training.validation", "evaluation.retrieval", "benchmarks.speed"} <= set(GRAPH)
    assert "training.retrieval_metrics" in GRAPH["training.validation"]
    assert "phalar_metric.config" in GRAPH["phalar_metric.model"]  # relative imports resolve


@pytest.mark.parametrize("top", list(ALLOWED))
def test_layers_go_one_way(top: str) -> None:
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in GRAPH.items() if name.split(".")[0] == top
        for target in targets if target.split(".")[0] not in ALLOWED[top] | {top}
    )  # fmt: skip
    assert not wrong


def test_no_import_cycles() -> None:
    state: dict[str, str] = {}  # "open" while on the DFS stack, then "done"

    def visit(name: str, stack: list[str]) -> None:
        state[name] = "open"
        path = stack + [name]
        for target in sorted(GRAPH[name]):
            if state.get(target) == "open":
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(target) :] + [target]))
            if target not in state:
                visit(target, path)
        state[name] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [])


def test_no_test_module_imports_conftest_by_name() -> None:
    """`conftest` is ambiguous once tests/training/conftest.py loads: shared helpers live in tests/helpers.py."""
    wrong = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if (isinstance(node, ast.ImportFrom) and node.module == "conftest")
        or (isinstance(node, ast.Import) and any(alias.name == "conftest" for alias in node.names))
    )  # fmt: skip
    assert not wrong
