"""The shape of the package: arrows that point one way, modules a reader can hold in mind.

The import graph is read from the source (every ``import`` statement, those inside functions
included, except under ``if TYPE_CHECKING:``), so that a lazy import cannot hide a cycle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sirenkit"
LONGEST_MODULE = 500


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _runtime_nodes(tree: ast.AST):
    """Every node but those under ``if TYPE_CHECKING:`` (imports for annotations only)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def imports_of(name: str, path: Path) -> set[str]:
    """The sirenkit modules ``name`` imports (``from package import module`` counts as the module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def _own_child(importer: str, imported: str) -> bool:
    """A package's ``__init__`` re-exporting its own children is not an arrow between rooms."""
    return MODULES[importer].name == "__init__.py" and imported.startswith(importer + ".")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycle():
    graph = {name: {t for t in targets if not _own_child(name, t)} for name, targets in GRAPH.items()}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    """Negative control: a graph with a cycle is reported, with its members."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_the_package_root():
    importers = sorted(name for name, targets in GRAPH.items() if "sirenkit" in targets and name != "sirenkit.__main__")
    assert importers == []


@pytest.mark.parametrize("layer, below", [
    ("sirenkit.networks", ("sirenkit.problems", "sirenkit.engine", "sirenkit.signals", "sirenkit.studies",
                           "sirenkit.codec", "sirenkit.cli")),
    ("sirenkit.problems", ("sirenkit.engine", "sirenkit.signals", "sirenkit.studies", "sirenkit.codec",
                           "sirenkit.cli")),
    ("sirenkit.engine", ("sirenkit.signals", "sirenkit.studies", "sirenkit.codec", "sirenkit.cli")),
    ("sirenkit.signals", ("sirenkit.studies", "sirenkit.codec", "sirenkit.cli")),
])
def test_arrows_point_down(layer, below):
    """Networks know no problem, problems no engine, the engine no particular signal, signals no study."""
    upward = sorted(f"{name} -> {target}" for name, targets in GRAPH.items() if name.startswith(layer)
                    for target in targets if target.startswith(below))
    assert upward == []


def test_no_module_is_longer_than_a_reader_can_hold():
    lengths = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert {name: length for name, length in lengths.items() if length > LONGEST_MODULE} == {}


def test_the_layout_page_lists_every_module_and_no_other():
    """docs/layout.md names each module (or its folder, or a sibling listed as ``a.py``, ``b.py``
    after a full path), so that the page cannot drift from the tree."""
    page = (PACKAGE.parent / "docs" / "layout.md").read_text()
    listed: set[str] = set()
    for cell in re.findall(r"^\| `(sirenkit/[^|]*)\|", page, flags=re.M):
        paths = re.findall(r"`([^`]+)`", "`" + cell)
        folder = paths[0].rpartition("/")[0]
        listed.update(path if "/" in path else f"{folder}/{path}" for path in paths)
    missing = sorted(str(path.relative_to(PACKAGE.parent)) for path in MODULES.values()
                     if path.name not in ("__init__.py", "__main__.py")
                     and str(path.relative_to(PACKAGE.parent)) not in listed
                     and not any(str(path.relative_to(PACKAGE.parent)).startswith(item) for item in listed
                                 if item.endswith("/")))
    assert missing == []
    assert sorted(item for item in listed if not (PACKAGE.parent / item).exists()) == []
