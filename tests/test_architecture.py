"""The shape of the code: no import cycles, no module past the size of one idea.

(a) No cycle among the modules of `moloch_eval` and `benchmarks`, read statically (ast), in
    two graphs. The import-time graph has the imports that run when a module is imported: at
    module level, in class bodies, under ``if``/``try``/``with``; a cycle there can fail an
    import. The full graph adds the imports inside functions (loaded on use): a cycle there
    still ties two modules to each other (``providers/moloch.py`` importing its backends on
    use while they imported it back was one). Imports under ``if TYPE_CHECKING:`` never run
    and are left out of both. ``import a.b.c`` depends on ``a.b.c`` and on the packages
    ``a``, ``a.b`` it initialises first, except the importer's own parent packages (already
    being initialised); ``from p import n`` depends on the submodule ``p.n`` when there is
    one, else on ``p`` (and on ``p``'s packages, by the same rule).
(b) No module in `moloch_eval/` or `benchmarks/` has more than `MAX_LINES` lines.
(c) Nothing in `moloch_eval` outside `moloch_eval/testing/` imports `moloch_eval.testing`
    (full graph): the fakes stay out of the product.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("moloch_eval", "benchmarks")
#: the most lines a module may have
MAX_LINES = 400
TESTING = "moloch_eval.testing"


def _modules() -> dict[str, Path]:
    """Every module of `PACKAGES` by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(body: list[ast.stmt], on_use: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements of `body` that run on import (`on_use`: also inside functions)."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _import_nodes(node.orelse, on_use)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if on_use:
                yield from _import_nodes(node.body, on_use)
        else:
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                for child in getattr(node, field, None) or []:
                    if isinstance(child, (ast.ExceptHandler, ast.match_case)):
                        yield from _import_nodes(child.body, on_use)
                    elif isinstance(child, ast.stmt):
                        yield from _import_nodes([child], on_use)


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The module a ``from … import`` reads from, relative imports resolved."""
    if not node.level:
        return node.module or ""
    package = module.split(".")
    if MODULES[module].name != "__init__.py":
        package.pop()  # a plain module's package is its parent
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The modules of `PACKAGES` that `node`, in `module`, makes Python import first."""
    if isinstance(node, ast.Import):
        named = {alias.name for alias in node.names}
        initialised = set(named)
    else:
        source = _absolute(module, node)
        named = {
            f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source for a in node.names
        }
        initialised = named | {source}
    parents = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
    result = set(named)
    for target in initialised:
        pieces = target.split(".")
        result |= {".".join(pieces[:i]) for i in range(1, len(pieces))} - parents
    return {t for t in result if t in MODULES and t != module}


def _graph(on_use: bool = False) -> dict[str, set[str]]:
    """Module → the modules it imports (`on_use`: with the imports inside functions)."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        nodes = _import_nodes(tree.body, on_use)
        graph[module] = set().union(*(_targets(module, node) for node in nodes))
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def _cycle_path(graph: dict[str, set[str]], component: list[str]) -> str:
    """One cycle through the component's first module, as ``a → b → a``."""
    start, members = component[0], set(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & members):
            if nxt == start:
                return " → ".join([*paths[node], start])
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    return " ↔ ".join(component)


def test_the_import_graphs_are_read() -> None:
    graph, full = _graph(), _graph(on_use=True)
    assert "moloch_eval.providers.adapter_check" in graph["moloch_eval.providers._hf"]
    assert "moloch_eval.testing.fake_openai.server" in graph["moloch_eval.testing.fake_openai"]
    assert "moloch_eval.testing.fake_openai" not in graph["moloch_eval.testing.fake_openai.faults"]
    assert "moloch_eval.providers._hf" not in graph["moloch_eval.providers.moloch"]  # on use
    assert "moloch_eval.providers._hf" in full["moloch_eval.providers.moloch"]
    assert all(graph[m] <= full[m] for m in MODULES)
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_at_import_time() -> None:
    graph = _graph()
    cycles = [_cycle_path(graph, component) for component in _cycles(graph)]
    assert not cycles, "import cycles at import time:\n" + "\n".join(cycles)


def test_no_import_cycles_with_imports_on_use() -> None:
    graph = _graph(on_use=True)
    cycles = [_cycle_path(graph, component) for component in _cycles(graph)]
    assert not cycles, "import cycles through imports inside functions:\n" + "\n".join(cycles)


def test_no_module_is_longer_than_the_limit() -> None:
    lengths = {
        name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()
    }
    over = {
        str(MODULES[name].relative_to(ROOT)): n
        for name, n in sorted(lengths.items())
        if n > MAX_LINES
    }
    assert not over, f"modules over {MAX_LINES} lines: {over}"


def test_only_testing_imports_testing() -> None:
    graph = _graph(on_use=True)
    importers = sorted(
        module
        for module, targets in graph.items()
        if module.startswith("moloch_eval.")
        and not (module == TESTING or module.startswith(f"{TESTING}."))
        and any(t == TESTING or t.startswith(f"{TESTING}.") for t in targets)
    )
    assert not importers, f"modules outside {TESTING} that import it: {importers}"
