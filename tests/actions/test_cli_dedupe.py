"""``imgtwin dedupe`` and ``imgtwin undo`` from the command line: dry run, --yes, --plan, refusals."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from imgtwin.cli import main
from imgtwin.reporting.groups import groups_document, write_json
from imgtwin.runs.find import find_duplicates
from tests.actions.conftest import SCAN, snapshot


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.mark.slow
def test_dry_run_then_yes_then_undo(library: Path, tmp_path: Path, private_trash: Path) -> None:
    before = snapshot(library)
    db = str(tmp_path / "i.db")
    code, out = run("dedupe", str(library), "--db", db, "--action", "trash", "--no-progress", "--workers", "1")
    assert code == 0, out
    assert "trash       " in out and "Dry run: 4 file(s) would be trashed" in out and "Nothing was changed" in out
    assert snapshot(library) == before and not private_trash.exists()
    assert not (private_trash.parent / "imgtwin").exists()  # no journal either

    journal = str(tmp_path / "run.jsonl")
    code, out = run("dedupe", str(library), "--db", db, "--action", "trash", "--yes", "--journal", journal,
                    "--no-progress", "--workers", "1")
    assert code == 0, out
    assert "Done: 4 file(s) trashed" in out and f"imgtwin undo {journal}" in out
    assert len(os.listdir(private_trash / "files")) == 4
    code, out = run("dedupe", str(library), "--db", db, "--action", "trash", "--yes", "--journal", journal)
    assert code == 2 and "already exists" in out  # one journal per run

    code, out = run("undo", journal)
    assert code == 0 and "Undo: 4 restored" in out
    assert snapshot(library) == before


@pytest.mark.slow
def test_default_journal_goes_to_the_user_data_folder(library: Path, tmp_path: Path) -> None:
    code, out = run("dedupe", str(library), "--db", str(tmp_path / "i.db"), "--action", "hardlink", "--yes",
                    "--no-progress", "--workers", "1")
    assert code == 1  # the near copy cannot be linked: skipped
    journal = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("Journal: "))
    assert journal.startswith(os.environ["XDG_DATA_HOME"]) and os.path.isfile(journal)
    assert "skip        " in out and "not byte-identical" in out


@pytest.mark.slow
def test_delete_needs_the_explicit_flag(library: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    code, out = run("dedupe", str(library), "--db", db, "--action", "delete", "--yes", "--workers", "1")
    assert code == 2 and "--i-understand-delete-is-permanent" in out
    code, out = run("dedupe", str(library), "--db", db, "--action", "delete", "--workers", "1", "--no-progress")
    assert code == 0 and "undo cannot bring deleted files back" in out
    journal = str(tmp_path / "d.jsonl")
    code, out = run("dedupe", str(library), "--db", db, "--action", "delete", "--yes", "--journal", journal,
                    "--i-understand-delete-is-permanent", "--workers", "1", "--no-progress")
    assert code == 0 and not (library / "sub" / "copy0.png").exists() and (library / "photo0.png").exists()
    code, out = run("undo", journal)
    assert code == 1 and "delete is the one action that cannot be undone" in out


def test_edited_plan_file(library: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    result = find_duplicates([str(library)], db_path=db, options=SCAN)
    document = groups_document(result.groups, result.errors, 6, True)
    groups = {os.path.basename(g["members"][0]["path"]): g for g in document["groups"]}
    for member in groups["photo0.png"]["members"]:  # keep the copy instead
        member["keep"] = not member["keep"]
    for member in groups["photo1.png"]["members"]:  # two keeps: refused
        member["keep"] = True
    outside = tmp_path / "outside.png"
    shutil.copy2(library / "photo2.png", outside)  # a hand-added member outside the roots
    groups["photo2.png"]["members"].append({**groups["photo2.png"]["members"][1], "path": str(outside)})
    plan = tmp_path / "plan.json"
    write_json(str(plan), document)
    before = snapshot(library)
    code, out = run("dedupe", "--plan", str(plan), "--db", db, "--action", "move", "--move-to", str(tmp_path / "to"))
    assert code == 1
    assert "Refused: group" in out and "has 2 files marked keep: exactly one is required" in out
    assert "outside.png: outside the scanned folders: refused" in out
    assert snapshot(library) == before  # a dry run

    code, out = run("dedupe", "--plan", str(plan), "--db", db, "--action", "move", "--move-to", str(tmp_path / "to"),
                    "--yes", "--journal", str(tmp_path / "j.jsonl"))
    assert code == 1, out
    assert (tmp_path / "to" / "photo0.png").exists() and (library / "sub" / "copy0.png").exists()
    assert (library / "sub" / "deeper" / "copy1.png").exists() and (library / "photo1.png").exists()
    assert outside.exists() and (tmp_path / "to" / "sub" / "copy2.png").exists()
    assert run("undo", str(tmp_path / "j.jsonl"))[0] == 0
    assert snapshot(library) == before


def test_usage_errors(library: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    assert run("dedupe", str(library), "--db", db, "--action", "move")[0] == 2
    code, out = run("dedupe", str(library), "--db", db, "--action", "move", "--move-to", str(library / "x"))
    assert code == 2 and "inside the scanned folder" in out
    plan = tmp_path / "p.json"
    plan.write_text(json.dumps({"tool": "imgtwin", "groups": []}))
    code, out = run("dedupe", "--plan", str(plan), "--db", db, "--action", "trash", "--threshold", "3")
    assert code == 2 and "--threshold" in out
    plan.write_text("not json")
    code, out = run("dedupe", str(library), "--plan", str(plan), "--db", db, "--action", "trash")
    assert code == 2 and "is not JSON" in out
    code, out = run("undo", str(plan))
    assert code == 2 and "not an imgtwin journal" in out
