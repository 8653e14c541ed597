"""The import graph of the project's own modules: no cycles, and the layers only import downwards.

Layers: ``golden`` is the specification and imports none of ``hw``, ``tb``, ``boards``; ``hw`` reads
only ``golden.spec`` (no twins, no models) and never ``tb``. Every ``.py`` under the four top packages
is parsed with :mod:`ast`, imports inside functions included, so a lazy import cannot hide a dependency.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOP_PACKAGES = ("golden", "hw", "tb", "boards")

#: (importer layer, imported layer, allowed inside the imported layer, why): an import from a module
#: under the first prefix of a module under the second is a violation unless it is under the third.
LAYER_RULES = (
    ("hw", "golden", "golden.spec", "hw may import only golden.spec from golden"),
    ("golden", "tb", None, "golden (the specification) must not import the testbench"),
    ("golden", "hw", None, "golden (the specification) must not import the generators"),
    ("golden", "boards", None, "golden (the specification) must not import the board builds"),
    ("hw", "tb", None, "hw must not import the testbench"),
)


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


# --- building the graph ----------------------------------------------------------------------------


def module_name(path: Path, root: Path = REPO) -> tuple[str, bool]:
    """Dotted name of the module at ``path`` and whether it is a package (``__init__.py``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def project_sources(root: Path = REPO) -> dict[str, tuple[str, bool]]:
    """``{module: (source, is_package)}`` of every ``.py`` under the top packages."""
    out = {}
    for top in TOP_PACKAGES:
        for path in sorted((root / top).rglob("*.py")):
            name, is_package = module_name(path, root)
            out[name] = (path.read_text(), is_package)
    return out


def _known_module(name: str, modules) -> str | None:
    """``name`` or its longest prefix that is a project module (``import a.b.attr`` names ``a.b``)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imported_modules(module: str, source: str, is_package: bool, modules) -> dict[str, int]:
    """Project modules ``module`` imports, each with the line of its first import.

    Relative imports are resolved against ``module``'s package; ``from pkg import name`` names the
    submodule ``pkg.name`` when that is a module, else ``pkg``. Imports outside ``modules`` are dropped.
    """
    package = module if is_package else module.rpartition(".")[0]
    found: dict[str, int] = {}

    def add(target: str, line: int) -> None:
        known = _known_module(target, modules)
        if known is not None and known != module:
            found.setdefault(known, line)

    for node in ast.walk(ast.parse(source, filename=module)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                add(sub if sub in modules else target, node.lineno)
    return found


def import_graph(sources: dict[str, tuple[str, bool]]) -> dict[str, dict[str, int]]:
    """``{module: {imported module: line}}`` of the project modules in ``sources``."""
    return {m: imported_modules(m, src, is_pkg, sources) for m, (src, is_pkg) in sources.items()}


# --- the checks ------------------------------------------------------------------------------------


def strongly_connected_components(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the components of ``graph``, each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in graph:
                    continue
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph[succ]))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def _cycle_through(start: str, members: set[str], graph) -> list[str]:
    """A shortest import cycle from ``start`` back to it inside one component (breadth first)."""
    previous = {start: None}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for succ in sorted(graph[node]):
                if succ == start:
                    path = [node]
                    while previous[path[-1]] is not None:
                        path.append(previous[path[-1]])
                    return path[::-1] + [start]
                if succ in members and succ not in previous:
                    previous[succ] = node
                    following.append(succ)
        frontier = following
    raise AssertionError(f"{start} is in a component without a cycle through it")


def import_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One concrete cycle per strongly connected component of more than one module."""
    return [_cycle_through(c[0], set(c), graph)
            for c in strongly_connected_components(graph) if len(c) > 1]


def layer_violations(graph: dict[str, dict[str, int]]) -> list[str]:
    """``"importer:line imports imported (rule)"`` for every import that breaks :data:`LAYER_RULES`."""
    out = []
    for importer, imports in sorted(graph.items()):
        for imported, line in sorted(imports.items()):
            for src, dst, allowed, why in LAYER_RULES:
                if (_under(importer, src) and _under(imported, dst)
                        and not (allowed and _under(imported, allowed))):
                    out.append(f"{importer}:{line} imports {imported} ({why})")
    return out


# --- the project -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project_graph():
    return import_graph(project_sources())


def test_project_graph_is_seen(project_graph):
    # guards the tests below against an empty or disconnected graph
    assert "golden.spec.params" in project_graph
    assert "golden.spec.checks" in project_graph["golden.spec.params"]


def test_no_import_cycles(project_graph):
    cycles = import_cycles(project_graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_layers_import_downwards_only(project_graph):
    bad = layer_violations(project_graph)
    assert not bad, "layer violations:\n" + "\n".join(bad)


# --- the checker finds what it should (synthetic trees) --------------------------------------------


def _graph(**modules: str) -> dict[str, dict[str, int]]:
    """Graph of synthetic modules: keyword ``a__b`` is module ``a.b``; a ``__init`` suffix marks a package."""
    sources = {}
    for key, src in modules.items():
        name = key.replace("__", ".")
        is_package = name.endswith(".init")
        sources[name.removesuffix(".init")] = (src, is_package)
    return import_graph(sources)


def test_resolves_relative_lazy_and_submodule_imports():
    g = _graph(golden__init="", golden__spec__init="", golden__spec__checks="",
               golden__spec__params="from . import checks\nfrom .checks import x\n",
               golden__twins__init="",
               golden__twins__unit="def f():\n    from ..spec import params\n    import golden.spec.checks.y\n")
    assert g["golden.spec.params"] == {"golden.spec.checks": 1}
    assert g["golden.twins.unit"] == {"golden.spec.params": 2, "golden.spec.checks": 3}


def test_finds_a_cycle_and_names_it():
    g = _graph(tb__cosim__run="from tb.cosim import bnn_tb",
               tb__cosim__bnn_tb="def f():\n    from tb.cosim.training_tb import t",
               tb__cosim__training_tb="import tb.cosim.run",
               tb__cosim__other="import tb.cosim.run")
    assert import_cycles(g) == [["tb.cosim.bnn_tb", "tb.cosim.training_tb", "tb.cosim.run",
                                 "tb.cosim.bnn_tb"]]
    assert import_cycles(_graph(a__x="import a.y", a__y="", a__z="import a.x")) == []


def test_finds_hw_importing_golden_outside_spec():
    g = _graph(hw__unit="from golden.spec import params\ndef f():\n    from golden.twins import unit",
               golden__spec__params="", golden__twins__unit="")
    why = "hw may import only golden.spec from golden"
    assert layer_violations(g) == [f"hw.unit:3 imports golden.twins.unit ({why})"]


@pytest.mark.parametrize("layer", ["tb", "hw", "boards"])
def test_finds_golden_importing_a_higher_layer(layer):
    g = {"golden.bnn.network": {f"{layer}.thing": 7}, f"{layer}.thing": {}}
    bad = layer_violations(g)
    assert len(bad) == 1 and bad[0].startswith(f"golden.bnn.network:7 imports {layer}.thing (golden")


def test_finds_hw_importing_tb():
    g = _graph(hw__unit="import tb.kit.stream", tb__kit__stream="")
    assert layer_violations(g) == ["hw.unit:1 imports tb.kit.stream (hw must not import the testbench)"]
