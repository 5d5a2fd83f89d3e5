"""The package's layers: every import points down or sideways, and no modules import each other in a loop."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pytest_aotperf"
LAYERS = (
    (
        "",
        "units",
        "schema",
        "atomic",
        "compile_cache",
        "measure",
        "history.bands",
        "history.trend",
        "environment_change",
    ),
    ("metrics", "memory_monitor"),
    ("verdict", "gpus", "host_speed"),
    ("results",),
    ("baselines", "history"),
    ("reporting", "interop.benchmark_json"),
    ("compiled", "graphs"),
    ("recorder",),
    ("llm",),
    ("backends",),
    (
        "marks",
        "options",
        "environment",
        "session",
        "stash",
        "fixtures",
        "interop.gate",
        "xdist",
        "plugin",
        "ab",
        "cli",
        "__main__",
    ),
)
"""Bottom first. A module belongs to the layer of the longest entry its dotted name starts with."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set:
    """The package modules `path` imports (function-level and TYPE_CHECKING imports included)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1] if node.level > 1 else list(package)
            target = ".".join(base + ([node.module] if node.module else []))
            names = [f"{target}.{a.name}".strip(".") for a in node.names] if not node.module else [target]
            found.update(n for n in names if (PACKAGE / n.replace(".", "/")).with_suffix(".py").exists() or n == target)
    found.discard(name)
    return {n for n in found if not name.startswith(n + ".") or n == ""}


def layer_of(name: str) -> int:
    matches = [
        (len(entry), index)
        for index, layer in enumerate(LAYERS)
        for entry in layer
        if name == entry or name.startswith(entry + ".") or entry == ""
    ]
    return max(matches)[1]


GRAPH = {module_name(path): imports(path) for path in PACKAGE.rglob("*.py")}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down_or_sideways(module):
    upward = sorted(target for target in GRAPH[module] if layer_of(target) > layer_of(module))
    assert not upward, f"{module} (layer {layer_of(module)}) imports from higher layers: {upward}"


def test_no_import_loops():
    def visit(module, path):
        if module in path:
            raise AssertionError(" -> ".join(path[path.index(module) :] + [module]))
        for target in GRAPH.get(module, ()):
            visit(target, path + [module])

    for module in GRAPH:
        visit(module, [])
