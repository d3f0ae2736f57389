"""The shape of the code: imports go one way, no module reaches into another's private names, no cycles.

`lint-imports` (the contracts in pyproject.toml, run by .ci/run) checks the layers; these tests read
every module's imports themselves (function-level ones included), so they hold without the tool.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pipeline"
# Highest first: a module may import from its own layer's package and from any layer below it.
LAYERS = [
    ("pipeline.cli",),
    ("pipeline.commands",),
    ("pipeline.core",),
    ("pipeline.evaluation", "pipeline.report"),
    ("pipeline.stages",),
    ("pipeline.evidence", "pipeline.registry", "pipeline.files"),
    ("pipeline.records",),
    ("pipeline.errors",),
]
MAX_LINES = 400


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not MODULES[module].name == "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str):
    """(imported module, names) for every import in `module`, at any depth."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, node)
            names = [a.name for a in node.names]
            yield target, names
            for n in names:  # `from . import segment` imports the module pipeline.stages.segment
                if f"{target}.{n}" in MODULES:
                    yield f"{target}.{n}", []


def internal(target: str) -> str | None:
    """The project module `target` names (a module, or the package it is in)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def layer_of(module: str) -> int:
    for i, group in enumerate(LAYERS):
        if any(module == g or module.startswith(g + ".") for g in group):
            return i
    raise AssertionError(f"{module} is in no layer: add it to LAYERS and to pyproject.toml's contract")


GRAPH = {m: {i for t, _ in imports(m) if (i := internal(t)) and i != m} for m in MODULES}


def test_every_module_is_in_a_layer():
    for m in MODULES:
        if m != "pipeline":
            layer_of(m)


@pytest.mark.parametrize("module", [m for m in MODULES if m != "pipeline"])
def test_imports_go_down_the_layers(module):
    mine = layer_of(module)
    for target in GRAPH[module]:
        if target == "pipeline":
            continue
        theirs = layer_of(target)
        same_package = LAYERS[mine] == LAYERS[theirs]
        assert theirs > mine or same_package, f"{module} (layer {LAYERS[mine]}) imports {target} ({LAYERS[theirs]})"


def test_no_module_imports_a_private_name_of_another():
    bad = []
    for m in MODULES:
        for target, names in imports(m):
            if internal(target) and internal(target) != m:
                bad += [f"{m}: from {target} import {n}" for n in names if n.startswith("_") and not n.startswith("__")]
    assert bad == []


def test_no_import_cycle():
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m):
        state[m] = 1
        path.append(m)
        for t in sorted(GRAPH[m]):
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(t):] + [t]))
            if t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for m in MODULES:
        if m not in state:
            visit(m)


def test_no_module_is_over_the_size_limit():
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in MODULES.items()}
    assert {m: n for m, n in sizes.items() if n > MAX_LINES} == {}


def test_the_layers_here_are_the_ones_lint_imports_checks():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for group in LAYERS:
        assert '"' + " | ".join(group) + '"' in text, group
