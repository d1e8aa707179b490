"""The copy action: duplicates copied to a folder, every file left in place, journalled, undoable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imgtwin.actions import PlanError, apply_plan, read_journal, undo_journal
from tests.actions.conftest import plan_for, snapshot
from tests.actions.test_cli_dedupe import run


def test_copy_leaves_everything_in_place_and_undo_removes_only_its_copies(library: Path, tmp_path: Path) -> None:
    before = snapshot(library)
    out = tmp_path / "out" / "dupes"
    plan = plan_for(library, tmp_path, "copy", move_to=str(out))
    report = apply_plan(plan, str(tmp_path / "j.jsonl"))
    assert report.complete and report.count("done") == 4
    assert snapshot(library) == before  # nothing moved, nothing removed
    copies = snapshot(out)
    for item in plan.items:
        rel = str(Path(item.path).relative_to(library))
        assert copies[rel][1] == before[rel][1]  # the same bytes, under the same folders
    assert [e.intent["action"] for e in read_journal(str(tmp_path / "j.jsonl")).entries] == ["copy"] * 4
    (out / "mine.txt").write_text("a file of the user's, made after the run")
    undone = undo_journal(str(tmp_path / "j.jsonl"))
    assert undone.complete and undone.count("restored") == 4
    assert snapshot(library) == before
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["mine.txt"]


def test_undo_leaves_a_copy_that_was_changed_since(library: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    plan = plan_for(library, tmp_path, "copy", move_to=str(out))
    apply_plan(plan, str(tmp_path / "j.jsonl"))
    edited = Path(plan.items[0].target or "")
    edited.write_bytes(b"edited by hand")
    undone = undo_journal(str(tmp_path / "j.jsonl"))
    assert undone.count("failed") == 1 and undone.count("restored") == 3
    assert edited.read_bytes() == b"edited by hand"


def test_an_existing_target_is_never_replaced(library: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    plan = plan_for(library, tmp_path, "copy", move_to=str(out))
    taken = Path(plan.items[0].target or "")
    taken.parent.mkdir(parents=True)
    taken.write_bytes(b"already here")
    report = apply_plan(plan, str(tmp_path / "j.jsonl"))
    assert report.count("skipped") == 1 and "already exists" in report.outcomes[0].reason
    assert taken.read_bytes() == b"already here"


@pytest.mark.slow
def test_cli_copy_needs_a_folder_outside_the_scanned_ones(library: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    code, out = run("dedupe", str(library), "--db", db, "--action", "copy")
    assert code == 2 and "--action copy needs --copy-to DIR" in out
    code, out = run("dedupe", str(library), "--db", db, "--action", "copy", "--copy-to", str(library / "x"))
    assert code == 2 and f"--copy-to {library / 'x'} is inside the scanned folder" in out
    code, out = run("dedupe", str(library), "--db", db, "--action", "trash", "--copy-to", str(tmp_path / "c"))
    assert code == 2 and "--copy-to goes with --action copy" in out
    code, out = run("dedupe", str(library), "--db", db, "--action", "copy", "--copy-to", str(tmp_path / "c"),
                    "--yes", "--journal", str(tmp_path / "j.jsonl"), "--no-progress", "--workers", "1")
    assert code == 0, out
    assert "Done: 4 file(s) copied" in out and "nothing removed" in out
    assert len([p for p in (tmp_path / "c").rglob("*") if p.is_file()]) == 4
    with pytest.raises(PlanError):
        plan_for(library, tmp_path, "copy", move_to=str(library / "sub"))
    assert json.loads((tmp_path / "j.jsonl").read_text().splitlines()[0])["action"] == "copy"
