"""Every Python example in the README, pasted into a plain script and run on a small generated library."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.actions.conftest import snapshot
from tests.helpers import synthetic_photo

README = Path(__file__).resolve().parent.parent / "README.md"
EXAMPLES = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)


def library(root: Path) -> None:
    """Photos with a byte copy, a resized copy, a thumbnail cache and an archive folder of originals."""
    (root / "trip" / ".thumbnails").mkdir(parents=True)
    (root / "archive").mkdir()
    for i in range(3):
        synthetic_photo(10 + i).save(root / f"p{i}.jpg", quality=90)
    (root / "trip" / "p0 copy.jpg").write_bytes((root / "p0.jpg").read_bytes())
    synthetic_photo(11).resize((320, 240)).save(root / "trip" / "p1 small.png")
    (root / "trip" / ".thumbnails" / "p2.jpg").write_bytes((root / "p2.jpg").read_bytes())
    (root / "archive" / "p2.jpg").write_bytes((root / "p2.jpg").read_bytes())


FOUND = {("exact", frozenset({"p0.jpg", "trip/p0 copy.jpg"})), ("near", frozenset({"p1.jpg", "trip/p1 small.png"})),
         ("exact", frozenset({"p2.jpg", "archive/p2.jpg"}))}  # the thumbnail cache is hidden: not scanned


def printed_groups(lines: list[str], root: Path) -> set[tuple[str, frozenset[str]]]:
    """The groups in lines of ``category keeper [others]``, as (category, paths relative to ``root``)."""
    found = set()
    for line in lines:
        category, keeper, others = re.fullmatch(r"(\S+) (.+?) (\[.*\])", line).groups()  # type: ignore[union-attr]
        found.add((category, frozenset(os.path.relpath(p, root) for p in [keeper, *ast.literal_eval(others)])))
    return found


def check_find(lines: list[str], home: Path, work: Path) -> None:
    assert printed_groups(lines, home / "Pictures") == FOUND


def check_plan_apply_undo(lines: list[str], home: Path, work: Path) -> None:
    done, failed, moved, journal_error = lines[0].split()  # the archive's p2.jpg is a reference: p2.jpg moves
    sizes = sum((work / "photos" / name).stat().st_size for name in ("trip/p0 copy.jpg", "trip/p1 small.png", "p2.jpg"))
    assert (done, failed, int(moved), journal_error, len(lines)) == ("3", "0", sizes, "None", 1)


def check_scan_find_index(lines: list[str], home: Path, work: Path) -> None:
    assert lines[0] == "6 hashed, 0 could not be read"
    assert printed_groups(lines[1:4], home / "Pictures") == FOUND
    assert lines[4:] == [f"6 files indexed under ('{home / 'Pictures'}',)"]  # and no failed file after it


def check_engine(lines: list[str], home: Path, work: Path) -> None:
    assert re.fullmatch(r"done - succeeded: 6, errors: 0, time: \d+ ms", lines[0]) and lines[1:] == ["3 groups"]


CHECKS = [check_find, check_plan_apply_undo, check_scan_find_index, check_engine]  # in the README's order


def test_each_readme_example_has_its_check() -> None:
    assert len(EXAMPLES) == len(CHECKS) >= 4


@pytest.mark.slow
@pytest.mark.parametrize(("example", "check"), list(zip(EXAMPLES, CHECKS, strict=False)),
                         ids=[f"example{i + 1}" for i in range(len(EXAMPLES))])
def test_a_readme_example_runs_as_a_plain_script(example: str, check: Callable[..., None], tmp_path: Path) -> None:
    """Each prints what it found or did, on a library whose groups are known; the tree is as before after."""
    home, work = tmp_path / "home", tmp_path / "work"
    library(home / "Pictures")
    library(work / "photos")
    before = snapshot(work / "photos"), snapshot(home / "Pictures")
    script = work / "example.py"
    script.write_text(example, encoding="utf-8")
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / ".local" / "share"),
           "XDG_CACHE_HOME": str(home / ".cache")}
    env.pop("IMGTWIN_DB", None)
    done = subprocess.run([sys.executable, str(script)], cwd=work, env=env, capture_output=True, text=True, check=False,
                          timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    check(done.stdout.splitlines(), home, work)
    assert (snapshot(work / "photos"), snapshot(home / "Pictures")) == before  # undone where it acted
