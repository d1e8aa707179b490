"""The cli package: one module per command, no cycle, console and file operations injected for exact tests."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from rich.console import Console

import imgtwin.cli
from imgtwin.cli import main
from tests.helpers import synthetic_photo

PACKAGE = Path(imgtwin.cli.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("module", MODULES)
def test_a_command_module_imports_alone_and_never_the_package(module: str) -> None:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert "imgtwin.cli" not in imported  # only imgtwin.cli.common and imgtwin.cli.flags
    done = subprocess.run([sys.executable, "-c", f"import imgtwin.cli.{module}"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr


def test_every_command_is_registered_and_declares_db_once() -> None:
    assert set(main.commands) == {"scan", "find", "report", "review", "dedupe", "undo", "errors", "index", "config",
                                  "mark"}
    sources = "".join((PACKAGE / f"{m}.py").read_text(encoding="utf-8") for m in MODULES)
    assert sources.count('"--db"') == 1  # in options.db_option


def test_the_injected_console_gets_the_exact_error(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    missing = tmp_path / "x[/]y.db"
    result = CliRunner().invoke(main, ["errors", "--db", str(missing)], obj={"console": console})
    assert result.exit_code == 2
    assert out.getvalue() == f"imgtwin: error: no index at {missing}; run `imgtwin scan` first or pass --db\n"


def test_the_readme_reference_names_every_option() -> None:
    readme = (PACKAGE.parent.parent.parent / "README.md").read_text(encoding="utf-8")

    def commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
        found = []
        for name, command in group.commands.items():
            found += commands(command, f"{prefix}{name} ") if isinstance(command, click.Group) else [
                (prefix + name, command)]
        return found

    missing = [f"{name} {flag}" for name, command in commands(main) for param in command.params
               for flag in param.opts if flag.startswith("--") and f"`{flag}" not in readme and f" {flag}" not in readme]
    assert missing == []


# Options whose meaning is the command's own: --db's help says what the command does with the index (its type
# and default are shared: db_option); scan --deep computes features, the others match on them; find's --html and
# --json are optional outputs where report's page is required and index/errors print JSON; -q quiets different output.
OWN_MEANING = {"--deep", "--html", "--json", "-q"}


def test_an_option_that_several_commands_take_is_declared_once() -> None:
    """Same flag, same type, default and help everywhere (one decorator in cli/flags.py), so --workers auto
    works wherever --workers does."""
    declared: dict[str, list[tuple[str, dict[str, object]]]] = {}
    for name, command in main.commands.items():
        for group_name, sub in (command.commands.items() if isinstance(command, click.Group) else [(name, command)]):
            for param in sub.params:
                if isinstance(param, click.Option) and param.opts[0] not in OWN_MEANING:
                    info = param.to_info_dict()
                    if param.opts[0] == "--db":
                        info.pop("help")
                    declared.setdefault(param.opts[0], []).append((group_name, info))
    differ = [flag for flag, found in declared.items() if any(info != found[0][1] for _, info in found)]
    assert differ == []
    assert {c for c, _ in declared["--workers"]} == {"scan", "find", "report", "review", "dedupe"}


@pytest.mark.slow  # a real adaptive pool: seconds
def test_dedupe_takes_workers_auto(tmp_path: Path) -> None:
    (photos := tmp_path / "photos").mkdir()
    synthetic_photo(1, (96, 72)).save(photos / "a.png")
    (photos / "b.png").write_bytes((photos / "a.png").read_bytes())
    result = CliRunner().invoke(main, ["dedupe", str(photos), "--db", str(tmp_path / "i.db"), "--action", "trash",
                                       "--no-progress", "--workers", "auto", "--similarity", "exact"])
    assert result.exit_code == 0, result.output
    assert "Dry run: 1 file(s) would be trashed" in result.output
    assert (photos / "a.png").exists() and (photos / "b.png").exists()
