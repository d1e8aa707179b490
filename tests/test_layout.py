"""The shape of the sources: no import cycle among imgtwin's modules, and no module over 400 lines.

Read from the sources with ``ast``: importing a module loads the whole
``imgtwin`` package first, so ``sys.modules`` cannot tell who imports whom.
A cycle counts the imports that run when a module loads (top level, ``try``
and ``if`` blocks); those inside functions and under ``TYPE_CHECKING`` run
later or never, which is how a module may name a type that names it back.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import REPO

SOURCES = REPO / "src"
MAX_LINES = 400
WEB = SOURCES / "imgtwin" / "web"
# Longer than the limit when this test came (issue 22, item 9): they may shrink, never grow.
KNOWN_LONG: dict[str, int] = {}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCES).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted((SOURCES / "imgtwin").rglob("*.py"))}


def _load_time_nodes(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that run on import: not function bodies, not ``if TYPE_CHECKING:``."""
    for node in body:
        yield node
        if isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                yield from _load_time_nodes(node.body)
            yield from _load_time_nodes(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _load_time_nodes(block)
        elif isinstance(node, ast.With):
            yield from _load_time_nodes(node.body)


def imports_of(name: str, source: str) -> set[str]:
    """The imgtwin modules that loading ``name`` (whose text is ``source``) imports."""
    package = name if MODULES.get(name, Path()).name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _load_time_nodes(ast.parse(source).body):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # ``from pkg import module`` imports the module
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {module for module in found if module in MODULES and module != name}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of modules (Tarjan), each as a path that closes on itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_path_through(graph, group) for group in groups]


def _path_through(graph: dict[str, set[str]], group: list[str]) -> list[str]:
    """A shortest cycle from the group's first module back to it (breadth first)."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & members):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    return group


def test_the_cycle_finder_finds_a_cycle_and_reads_relative_imports() -> None:
    real = "imgtwin.records", "imgtwin.options", "imgtwin.folders"
    looped = {
        real[0]: imports_of(real[0], "from imgtwin import options\ndef later():\n    import imgtwin.folders\n"),
        real[1]: imports_of(real[1], "from . import folders\nif TYPE_CHECKING:\n    import imgtwin.records\n"),
        real[2]: imports_of(real[2], "try:\n    from .records import X\nexcept ImportError:\n    pass\n"),
    }
    assert looped == {real[0]: {real[1]}, real[1]: {real[2]}, real[2]: {real[0]}}
    assert import_cycles(looped) == [[real[2], real[0], real[1], real[2]]]
    looped[real[2]] = set()
    assert import_cycles(looped) == []


def test_no_import_cycle_among_imgtwin_modules() -> None:
    graph = {name: imports_of(name, path.read_text(encoding="utf-8")) for name, path in MODULES.items()}
    assert len(graph) > 100
    assert sum(map(len, graph.values())) > 200  # the graph was read, not empty
    assert import_cycles(graph) == []


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize("path", sorted(SOURCES.rglob("*.py")), ids=lambda p: p.relative_to(SOURCES).as_posix())
def test_no_module_is_over_400_lines(path: Path) -> None:
    allowed = KNOWN_LONG.get(path.relative_to(SOURCES).as_posix(), MAX_LINES)
    assert _lines(path) <= allowed, f"{path.name} has {_lines(path)} lines: split it by responsibility"


def test_no_test_module_is_over_400_lines() -> None:
    for path in sorted((REPO / "tests").rglob("*.py")):
        allowed = KNOWN_LONG.get(path.relative_to(REPO).as_posix(), MAX_LINES)
        assert _lines(path) <= allowed, f"{path.relative_to(REPO)} has {_lines(path)} lines: split it"


def test_the_web_assets_lie_in_one_folder_and_none_is_over_the_limit() -> None:
    assets = sorted(p for p in (SOURCES / "imgtwin").rglob("*") if p.suffix in (".js", ".css", ".html"))
    assert assets and {p.parent for p in assets} == {WEB}
    too_long = {p.name: _lines(p) for p in assets if _lines(p) > MAX_LINES}
    assert not too_long, f"over {MAX_LINES} lines: {too_long}"
