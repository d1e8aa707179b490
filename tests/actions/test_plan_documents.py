"""Plan files that are not what they claim: one line, exit 2 (or a plan), never a traceback, a hang or a change.

A seeded generator damages a real ``find --json`` document (its text, and
every field's value in turn) and sends each result through ``dedupe --plan``
and ``report --from-json``; the library must be byte for byte as it was.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from imgtwin.cli import main
from imgtwin.documents import MAX_DOCUMENT_BYTES, MAX_DOCUMENT_DEPTH
from tests.actions.conftest import make_library, snapshot

pytestmark = pytest.mark.slow  # every damaged plan through two real commands

WRONG_VALUES: list[Any] = [None, True, False, -1, 0, 2**70, 1.5, -1e308, "", "x", "/", "../../..", "a\u0000b",
                           "\udcff", [], {}, [[[[]]]], {"path": 1}, [None], ["x"] * 3]


def run(*args: str) -> tuple[int, str]:
    """The command in this process; an exception escaping it fails the test (catch_exceptions=False)."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, Any]]:
    """The library, its index and the find --json document find wrote for it (once: no test changes them)."""
    folder = tmp_path_factory.mktemp("found")
    library = make_library(folder / "lib")
    db, out = str(folder / "i.db"), folder / "found.json"
    code, output = run("find", str(library), "--db", db, "--json", str(out), "-q", "--workers", "1")
    assert code == 0, output
    return library, db, json.loads(out.read_text())


def _places(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path into ``value``, the document itself included."""
    yield path
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from _places(child, (*path, key))


def _replaced(document: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(document))
    holder = copy
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = new
    return copy


def _damaged_texts(text: str, rng: random.Random, count: int) -> Iterator[str]:
    """The document's text cut short, with bytes changed, and wrapped in absurd nesting and numbers."""
    for _ in range(count):
        at = rng.randrange(len(text))
        yield rng.choice([
            text[:at],
            text[:at] + rng.choice('{}[]",:0-e\\') + text[at + 1:],
            text[:at] + rng.choice(["[" * 100_000, "1" * 5_000, "NaN", "-Infinity", "1e99999", '"\\ud800"']) + text[at:],
        ])
    yield "[" * 100_000 + "]" * 100_000
    yield '{"tool": "imgtwin", "groups": [' + "9" * 5_000 + "]}"
    yield '{"tool": "imgtwin", "groups": [], "x": ' + "[" * (MAX_DOCUMENT_DEPTH + 1) + "]" * (MAX_DOCUMENT_DEPTH + 1) + "}"
    yield ""


def _check(plan: Path, library: Path, db: str, tmp_path: Path) -> None:
    before = snapshot(library)
    code, out = run("dedupe", "--plan", str(plan), "--db", db, "--action", "trash")
    assert code in (0, 1, 2) and "Traceback" not in out, out
    assert code != 2 or out.startswith("imgtwin: error: ") and out.count("\n") == 1, out
    code, out = run("report", "--from-json", str(plan), "--html", str(tmp_path / "page.html"), "--workers", "1", "-q")
    assert code in (0, 2) and "Traceback" not in out, out
    assert code == 0 or out.startswith("imgtwin: error: ") and out.count("\n") == 1, out
    assert snapshot(library) == before


def test_every_field_given_a_wrong_value(found: tuple[Path, str, dict[str, Any]], tmp_path: Path) -> None:
    library, db, document = found
    rng = random.Random(1)
    # every field of the document and of its first two groups (the others repeat their fields), the whole too
    places = list(_places({**document, "groups": document["groups"][:2]}))
    assert len(places) > 50
    plan = tmp_path / "plan.json"
    for place in places:
        plan.write_text(json.dumps(_replaced(document, place, rng.choice(WRONG_VALUES))))
        _check(plan, library, db, tmp_path)


def test_damaged_text(found: tuple[Path, str, dict[str, Any]], tmp_path: Path) -> None:
    library, db, document = found
    plan = tmp_path / "plan.json"
    for text in _damaged_texts(json.dumps(document, indent=1), random.Random(3), 24):
        plan.write_text(text, encoding="utf-8", errors="surrogatepass")
        _check(plan, library, db, tmp_path)
    plan.write_bytes(b"\xff\xfe" + json.dumps(document).encode("utf-16-le"))
    _check(plan, library, db, tmp_path)


def test_damaged_plans_apply_nothing(found: tuple[Path, str, dict[str, Any]], tmp_path: Path) -> None:
    """With --yes too: a document refused as a whole changes nothing and writes no journal."""
    library, db, document = found
    before, journal = snapshot(library), tmp_path / "j.jsonl"
    plan = tmp_path / "plan.json"
    deep = {**document, "groups": [*document["groups"], [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
    for text in ("[" * 100_000, json.dumps(document)[:-1] + ', "n": ' + "7" * 5_000 + "}", json.dumps(deep)):
        plan.write_text(text)
        code, out = run("dedupe", "--plan", str(plan), "--db", db, "--action", "trash", "--yes",
                        "--journal", str(journal))
        assert code == 2 and out.count("\n") == 1 and "Traceback" not in out, out
        assert ("nests arrays or objects deeper than" in out) != ("digits" in out), out
    assert snapshot(library) == before and not journal.exists()


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "imgtwin", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_a_named_pipe_is_refused_at_once(found: tuple[Path, str, dict[str, Any]], tmp_path: Path) -> None:
    """No writer will ever open the pipe: reading it would wait forever."""
    _, db, _ = found
    pipe = tmp_path / "plan.json"
    os.mkfifo(pipe)
    for args in (("dedupe", "--plan", str(pipe), "--db", db, "--action", "trash"),
                 ("report", "--from-json", str(pipe), "--html", str(tmp_path / "page.html"))):
        done = _cli(*args)
        assert done.returncode == 2, done.stderr
        assert done.stderr == f"imgtwin: error: {pipe} is a named pipe, not a file: give the file `imgtwin find " \
                              "--json` wrote\n"


def test_a_device_and_an_oversized_file_are_refused(found: tuple[Path, str, dict[str, Any]], tmp_path: Path) -> None:
    _, db, document = found
    code, out = run("dedupe", "--plan", os.devnull, "--db", db, "--action", "trash")
    assert code == 2 and out == f"imgtwin: error: {os.devnull} is a device, not a file: give the file `imgtwin " \
                                "find --json` wrote\n"
    huge = tmp_path / "huge.json"
    with huge.open("w") as stream:  # sparse: the size is refused before a byte is read
        stream.write(json.dumps(document))
        stream.truncate(MAX_DOCUMENT_BYTES + 1)
    for args in (("dedupe", "--plan", str(huge), "--db", db, "--action", "trash"),
                 ("report", "--from-json", str(huge), "--html", str(tmp_path / "page.html"))):
        code, out = run(*args)
        assert code == 2 and out == f"imgtwin: error: {huge} is larger than 256 MiB, too large for a `imgtwin " \
                                    "find --json` document\n", out
    assert not (tmp_path / "page.html").exists()


def test_a_journal_line_with_a_huge_number_is_a_bad_line_not_a_traceback(library: Path, tmp_path: Path) -> None:
    before, journal = snapshot(library), tmp_path / "j.jsonl"
    code, out = run("dedupe", str(library), "--db", str(tmp_path / "i.db"), "--action", "trash", "--yes",
                    "--journal", str(journal), "--no-progress", "--workers", "1")
    assert code == 0 and "4 file(s) trashed" in out, out
    with journal.open("a") as stream:
        stream.write("1" * 5_000 + "\n" + "[" * 100_000 + "\n")
    code, out = run("undo", str(journal))
    assert code == 1 and "Traceback" not in out and "2 journal line(s) could not be read" in out, out
    assert snapshot(library) == before
