"""The layers of a run: matching and actions never reach up to the runs, nor build pools of their own.

Read from the sources (every import, those inside functions too): importing a
module loads the whole ``imgtwin`` package first, so ``sys.modules`` cannot tell.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import REPO

PACKAGE = REPO / "src" / "imgtwin"
ABOVE = ("imgtwin.runs", "imgtwin.api", "imgtwin.cli", "imgtwin.review", "imgtwin.app", "imgtwin.finding")
POOLS = ("imgtwin.processing.jobs", "imgtwin.processing.workers", "imgtwin.processing.thread_pool",
         "imgtwin.processing.pools", "imgtwin.processing.parallel", "imgtwin.processing.pipeline")


def _imports(source: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("layer", ["matching", "actions"])
def test_matching_and_actions_import_no_run_and_no_pool(layer: str) -> None:
    sources = sorted((PACKAGE / layer).glob("*.py"))
    assert sources
    wrong = {f"{source.name}: {name}" for source in sources for name in _imports(source)
             if name.startswith(ABOVE + POOLS)}
    assert wrong == set()
