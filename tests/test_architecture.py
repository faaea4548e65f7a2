"""The package's layers: imports flow one way, and no two modules import each other.

Read with the standard library's `ast`, so lazy imports inside functions and imports
under `if TYPE_CHECKING:` count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "elbo_sym"

LEAVES = {"limits", "budget", "files", "prose", "failures"}
ALLOWED = {
    "leaf": {"leaf"},
    "numbers": {"leaf"},
    "engine": {"leaf", "numbers"},
    "lesson": {"leaf", "numbers", "engine"},
    "report": {"leaf", "numbers", "engine", "lesson"},
    "publish": {"leaf", "numbers", "engine", "lesson", "report"},
    "authoring": {"leaf", "numbers", "engine", "lesson", "report", "publish"},
}
"""Which layers each layer may import (cli and the package's own __init__ may import any)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "root"  # the package itself: __version__ (its lazy names use import_module)
    if parts[1] in LEAVES:
        return "leaf"
    if parts[1] in ("cli", "__main__"):
        return "top"
    return parts[1]


def imports() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("elbo_sym"):
                targets = [node.module] if node.module != "elbo_sym" else \
                    [f"elbo_sym.{a.name}" for a in node.names]
                for target in targets:
                    # `from elbo_sym.publish import render` names the module elbo_sym.publish.render
                    for a in node.names:
                        if f"{target}.{a.name}" in modules:
                            graph[module].add(f"{target}.{a.name}")
                            break
                    else:
                        if target in modules:
                            graph[module].add(target)
            elif isinstance(node, ast.Import):
                graph[module].update(a.name for a in node.names if a.name in modules)
    return graph


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    """The import graph, read once for the tests below (about 1 s of parsing; tests/conftest.py
    keeps the users of a module fixture on one pytest-xdist worker)."""
    return imports()


@pytest.mark.full
def test_every_import_goes_down_the_layers(graph):
    wrong = []
    for module, targets in graph.items():
        here = layer(module)
        if here in ("top", "root"):
            continue
        for target in targets:
            there = layer(target)
            if there not in (here, "root") and there not in ALLOWED[here]:
                wrong.append(f"{module} ({here}) imports {target} ({there})")
    assert not wrong, "\n".join(wrong)


@pytest.mark.full
def test_no_module_imports_itself_through_others(graph):
    state: dict[str, int] = {}
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def test_the_layers_are_packages_with_a_docstring():
    for name in ("engine", "engine/models", "numbers", "lesson", "report", "publish", "authoring"):
        init = PACKAGE / name / "__init__.py"
        assert init.is_file() and ast.get_docstring(ast.parse(init.read_text("utf-8"))), name
