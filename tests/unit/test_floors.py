"""The floors of the house: every import points down, and no module imports itself back.

The table is the rule of docs/architecture.md in code: a package may import only the packages listed
for it (any import, at module level or inside a function). A move that breaks it fails here with the
offending module and line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Bottom to top. `worker` is the module worker.py.
ALLOWED: dict[str, frozenset[str]] = {
    "domain": frozenset(),
    "plumbing": frozenset({"domain"}),
    "devstack": frozenset({"plumbing"}),
    "delivery": frozenset({"domain"}),
    "store": frozenset({"domain", "plumbing"}),
    "services": frozenset({"domain", "plumbing", "delivery", "store"}),
    "workflows": frozenset({"domain"}),
    # Activities are the worker's entry points as routers are the API's: they may call use cases.
    "activities": frozenset({"domain", "plumbing", "delivery", "store", "services"}),
    # The console is static pages over the /v1 API: it imports no package of ours, and the API serves it.
    "console": frozenset(),
    "api": frozenset({"domain", "plumbing", "delivery", "services", "store"}) | {"console"},
    "worker": frozenset({"domain", "plumbing", "devstack", "delivery", "store", "services"})
    | {"workflows", "activities"},
    "bench": frozenset(
        {"domain", "plumbing", "devstack", "delivery", "store", "services", "workflows", "activities"}
    )
    | {"api", "worker"},
    "journeys": frozenset(
        {"domain", "plumbing", "devstack", "delivery", "store", "services", "workflows", "activities"}
    )
    | {"api", "worker", "bench"},
}
FIRST_PARTY = frozenset(ALLOWED)
# The API may name store's value types (rows it turns into schemas, page requests) and build the engine
# at start-up; the queries themselves stay behind services.
API_STORE_MODULES = frozenset({"store.rows", "store.repositories.pagination", "store.db"})


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted
    line: int
    at_module_level: bool


def _source_files() -> Iterator[tuple[str, Path]]:
    yield "worker", ROOT / "worker.py"
    for package in sorted(FIRST_PARTY - {"worker"}):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield ".".join(path.relative_to(ROOT).with_suffix("").parts), path


def _imports(module: str, path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    yield from _walk(module, tree, at_module_level=True)


def _walk(module: str, node: ast.AST, *, at_module_level: bool) -> Iterator[Import]:
    for child in ast.iter_child_nodes(node):
        targets: list[str] = []
        if isinstance(child, ast.Import):
            targets = [alias.name for alias in child.names]
        elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
            targets = [child.module]
        for target in targets:
            if target.split(".")[0] in FIRST_PARTY:
                yield Import(module, target, child.lineno, at_module_level)
        # Inside a function, or under `if TYPE_CHECKING:`, an import does not run when the module loads.
        runs_late = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) or (
            isinstance(child, ast.If) and ast.unparse(child.test).endswith("TYPE_CHECKING")
        )
        yield from _walk(module, child, at_module_level=at_module_level and not runs_late)


def _package(module: str) -> str:
    return module.split(".")[0]


ALL_IMPORTS = [imp for module, path in _source_files() for imp in _imports(module, path)]


def test_the_scan_sees_the_house() -> None:
    # A scan that found nothing would pass everything: make sure it reads real imports.
    assert any(
        imp.module == "api.routers.journeys" and imp.target == "services.journeys" for imp in ALL_IMPORTS
    )
    assert len(ALL_IMPORTS) > 300


@pytest.mark.parametrize("package", sorted(FIRST_PARTY))
def test_every_import_points_down(package: str) -> None:
    upward = [
        f"{imp.module}:{imp.line} imports {imp.target}"
        for imp in ALL_IMPORTS
        if _package(imp.module) == package
        and _package(imp.target) != package
        and _package(imp.target) not in ALLOWED[package]
    ]
    assert upward == [], f"{package} may import only {sorted(ALLOWED[package])}"


def test_the_api_reaches_the_store_only_for_types_and_the_engine() -> None:
    reaching = [
        f"{imp.module}:{imp.line} imports {imp.target}"
        for imp in ALL_IMPORTS
        if _package(imp.module) == "api"
        and _package(imp.target) == "store"
        and imp.target not in API_STORE_MODULES
    ]
    assert reaching == []


def test_workflows_import_only_the_domain_and_each_other() -> None:
    assert ALLOWED["workflows"] == frozenset({"domain"})


def test_no_module_imports_itself_back() -> None:
    known = {module for module, _ in _source_files()}
    graph: dict[str, set[str]] = {module: set() for module in known}
    for imp in ALL_IMPORTS:
        if not imp.at_module_level:
            continue  # a function-level import runs late, by design: it cannot close a load-time circle
        target = imp.target
        while target not in known and "." in target:
            target = target.rsplit(".", 1)[0]  # `from package.module import name` → package.module
        if target in known and target != imp.module:
            graph[imp.module].add(target)
    cycles = _cycles(graph)
    assert cycles == [], "import circles: " + "; ".join(" → ".join(cycle) for cycle in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative enough for our size)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component: list[str] = []
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


def test_a_late_import_is_told_from_a_load_time_one() -> None:
    tree = ast.parse(
        "import api.app\nif TYPE_CHECKING:\n    import store.db\ndef f():\n    import services.x\n"
    )
    assert [(i.target, i.at_module_level) for i in _walk("m", tree, at_module_level=True)] == [
        ("api.app", True),
        ("store.db", False),
        ("services.x", False),
    ]


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
