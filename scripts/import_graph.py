"""Measure the import structure of whatsapp_gateway: cycles and deferred imports.

    .venv/bin/python scripts/import_graph.py           # summary figures and every cycle
    .venv/bin/python scripts/import_graph.py --list    # also each deferred import with its file and line

It prints four cycle counts, each the number of strongly connected groups of more than one node (every node of a
group can reach every other through imports, so each group holds at least one cycle):
- between apps, each top-level package of whatsapp_gateway (``messaging``, ``inbound``...) being one node, counting
  every import (including those inside functions and ``AppConfig.ready``), then only top-level imports;
- between modules, counting every import, then only the imports that run when a module is first imported (top
  level). A cycle left in the first but not the second is broken by a deferred import (listed with ``--list``).
And the number of deferred imports: ``import``/``from ... import`` statements naming a ``whatsapp_gateway`` module that
sit inside a function body, outside ``AppConfig.ready`` (where Django app loading requires them) and outside
migrations (frozen history). Imports under ``if TYPE_CHECKING:`` are not imports at run time and are left out.

The graph comes from grimp (the library import-linter is built on); the function-body test reads each file's syntax
tree. Run it from the repository root with the project installed (``make install``).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

import grimp

PACKAGE = "whatsapp_gateway"
ROOT = Path(__file__).resolve().parent.parent / "src" / PACKAGE


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_app_config(node: ast.ClassDef) -> bool:
    return any(
        (isinstance(base, ast.Name) and base.id == "AppConfig")
        or (isinstance(base, ast.Attribute) and base.attr == "AppConfig")
        for base in node.bases
    )


def _imported_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level or not node.module:
        return []  # the package uses absolute imports only
    return [node.module]


class ImportScan(ast.NodeVisitor):
    """Sorts a module's imports of our own package into top-level, deferred and AppConfig.ready ones."""

    def __init__(self) -> None:
        self.function_depth = 0
        self.in_ready = 0
        self.class_stack: list[ast.ClassDef] = []
        self.deferred: list[tuple[int, str]] = []  # (line, statement) inside a function body
        self.ready: list[tuple[int, str]] = []  # inside AppConfig.ready
        self.type_checking_lines: set[int] = set()

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in ast.walk(node):
                if isinstance(child, ast.Import | ast.ImportFrom):
                    self.type_checking_lines.add(child.lineno)
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.class_stack.append(node)
        self.generic_visit(node)
        self.class_stack.pop()

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        is_ready = (
            self.function_depth == 0
            and node.name == "ready"
            and bool(self.class_stack)
            and _is_app_config(self.class_stack[-1])
        )
        self.function_depth += 1
        self.in_ready += is_ready
        self.generic_visit(node)
        self.in_ready -= is_ready
        self.function_depth -= 1

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def _visit_import(self, node: ast.Import | ast.ImportFrom) -> None:
        names = [n for n in _imported_names(node) if n == PACKAGE or n.startswith(PACKAGE + ".")]
        if not names or not self.function_depth:
            return
        entry = (node.lineno, ast.unparse(node))
        (self.ready if self.in_ready else self.deferred).append(entry)

    visit_Import = _visit_import
    visit_ImportFrom = _visit_import


def scan_sources() -> dict[str, ImportScan]:
    scans = {}
    for path in sorted(ROOT.rglob("*.py")):
        scan = ImportScan()
        scan.visit(ast.parse(path.read_text(), filename=str(path)))
        scans[module_name(path)] = scan
    return scans


def strongly_connected(nodes: set[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; returns the groups of more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
    return sorted(groups, key=lambda g: (-len(g), g))


def shortest_cycle(group: list[str], edges: dict[str, set[str]]) -> list[str]:
    """The shortest cycle through the group's first member (breadth-first search inside the group)."""
    members = set(group)
    start = group[0]
    parents: dict[str, str] = {}
    frontier = [start]
    seen = {start}
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(edges.get(node, ())):
                if child not in members:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in seen:
                    seen.add(child)
                    parents[child] = node
                    following.append(child)
        frontier = following
    return group


def app_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list every deferred import")
    args = parser.parse_args()

    scans = scan_sources()
    graph = grimp.build_graph(PACKAGE, cache_dir=None, exclude_type_checking_imports=True)
    modules = {m for m in graph.modules if ".migrations" not in m}

    all_edges: dict[str, set[str]] = defaultdict(set)
    top_edges: dict[str, set[str]] = defaultdict(set)
    app_edges: dict[str, set[str]] = defaultdict(set)
    app_top_edges: dict[str, set[str]] = defaultdict(set)
    for importer in modules:
        scan = scans.get(importer)
        deferred_lines = {line for line, _ in scan.deferred + scan.ready} if scan else set()
        for imported in graph.find_modules_directly_imported_by(importer):
            if imported not in modules:
                continue
            lines = {d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)}
            all_edges[importer].add(imported)
            if lines - deferred_lines:
                top_edges[importer].add(imported)
            if app_of(importer) != app_of(imported):
                app_edges[app_of(importer)].add(app_of(imported))
                if lines - deferred_lines:
                    app_top_edges[app_of(importer)].add(app_of(imported))

    apps = {app_of(m) for m in modules}
    report = [
        ("between apps (all imports)", apps, app_edges),
        ("between apps (top-level imports)", apps, app_top_edges),
        ("between modules (all imports)", modules, all_edges),
        ("between modules (top-level imports)", modules, top_edges),
    ]
    figures = []
    for title, nodes, edges in report:
        groups = strongly_connected(nodes, edges)
        figures.append((title, groups))
        print(f"Cycles {title}: {len(groups)} group(s), {sum(len(g) for g in groups)} node(s)")
        for group in groups:
            short = [n.removeprefix(PACKAGE + ".") for n in group]
            print(f"  group of {len(group)}: {', '.join(short)}")
            cycle = shortest_cycle(group, edges)
            print(f"    e.g. {' -> '.join(n.removeprefix(PACKAGE + '.') for n in cycle)}")

    product = {m: s for m, s in scans.items() if ".migrations" not in m}
    deferred = sorted((m, line, text) for m, s in product.items() for line, text in s.deferred)
    ready = sum(len(s.ready) for s in product.values())
    print(f"Deferred imports of {PACKAGE} modules inside functions (outside AppConfig.ready): {len(deferred)}")
    print(f"  in AppConfig.ready (not counted): {ready}")
    if args.list:
        for module, line, text in deferred:
            path = module.replace(".", "/")
            print(f"  {path}.py:{line}: {text}")

    print("Summary: " + "; ".join(f"{title}: {len(groups)}" for title, groups in figures) + f"; deferred: {len(deferred)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
