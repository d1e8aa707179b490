"""Each action on real files, then undo: the tree comes back byte for byte."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from imgtwin.actions import apply_plan, preview_plan, read_journal, undo_journal
from tests.actions.conftest import plan_for, snapshot


def test_dry_run_changes_nothing(library: Path, tmp_path: Path, private_trash: Path) -> None:
    before = snapshot(library)
    plan = plan_for(library, tmp_path, "trash")
    report = preview_plan(plan)
    assert report.count("would") == 4 and report.complete
    assert report.bytes == sum(i.file.size for i in plan.items)
    assert snapshot(library) == before
    assert not private_trash.exists()


@pytest.mark.parametrize("action", ["trash", "move", "hardlink", "symlink"])
def test_action_then_undo_restores_the_tree(action: str, library: Path, tmp_path: Path, private_trash: Path) -> None:
    before = snapshot(library)
    stats = {p: os.stat(library / p) for p, (kind, _, _) in before.items() if kind == "file"}
    before_bytes = {rel: (library / rel).read_bytes() for rel in ("sub/copy0.png", "sub/deeper/copy1.png",
                                                                  "sub/copy2.png", "sub/small7.png")}
    move_to = tmp_path / "dupes"
    plan = plan_for(library, tmp_path, action, move_to=str(move_to) if action == "move" else None)
    journal = str(tmp_path / "j.jsonl")
    report = apply_plan(plan, journal)
    done = {os.path.relpath(o.item.path, library) for o in report.outcomes if o.status == "done"}
    exact = {"sub/copy0.png", "sub/deeper/copy1.png", "sub/copy2.png"}
    if action in ("hardlink", "symlink"):
        assert done == exact  # the near copy is not byte-identical: skipped, untouched
        assert [o.reason for o in report.outcomes if o.status == "skipped"] == [
            "not byte-identical to the keeper: only exact copies are linked"]
    else:
        assert done == exact | {"sub/small7.png"} and report.complete
    for rel in done:
        path = library / rel
        keeper = library / f"photo{rel[-5]}.png" if "copy" in rel else library / "big7.png"
        if action == "trash":
            assert not path.exists()
            name = os.path.basename(rel)
            assert (private_trash / "files" / name).read_bytes() == before_bytes[rel]
            info = (private_trash / "info" / f"{name}.trashinfo").read_text()
            assert f"Path={path}" in info
        elif action == "move":
            assert not path.exists() and (move_to / rel).is_file()  # folders below the root kept
        elif action == "hardlink":
            assert os.path.samefile(path, keeper) and not path.is_symlink()
        else:
            assert path.is_symlink() and os.readlink(path) == str(keeper)
    assert not [n for n in os.listdir(library / "sub") if n.startswith(".imgtwin")]  # backups removed
    assert read_journal(journal).finished

    undone = undo_journal(journal)
    assert undone.complete and undone.count("restored") == len(done)
    assert snapshot(library) == before
    for rel, old in stats.items():  # mode and modification time too, and no link left behind
        new = os.stat(library / rel)
        assert (stat.S_IMODE(new.st_mode), new.st_mtime_ns, new.st_nlink) == (
            stat.S_IMODE(old.st_mode), old.st_mtime_ns, 1)
    if action == "move":
        assert not move_to.exists()  # folders the move made are removed again
    again = undo_journal(journal)  # a second undo changes nothing
    assert again.count("already_undone") == len(done) and snapshot(library) == before


def test_delete_needs_consent_and_cannot_be_undone(library: Path, tmp_path: Path) -> None:
    plan = plan_for(library, tmp_path, "delete")
    with pytest.raises(ValueError, match="cannot be undone"):
        apply_plan(plan, str(tmp_path / "j.jsonl"))
    journal = str(tmp_path / "j2.jsonl")
    report = apply_plan(plan, journal, allow_delete=True)
    assert report.count("done") == 4 and not (library / "sub" / "copy0.png").exists()
    assert (library / "photo0.png").exists()
    undone = undo_journal(journal)
    assert undone.count("irreversible") == 4 and not undone.complete


def test_a_trash_run_killed_before_done_is_found_by_its_trashinfo(
    library: Path, tmp_path: Path, private_trash: Path
) -> None:
    before = snapshot(library)
    journal = tmp_path / "j.jsonl"
    apply_plan(plan_for(library, tmp_path, "trash"), str(journal))
    lines = journal.read_text().splitlines()
    kept = [line for line in lines if '"type":"done"' not in line and '"type":"end"' not in line]
    journal.write_text("\n".join(kept) + "\n{\"type\":\"do")  # no "done" lines, and a torn last line
    report = undo_journal(str(journal))
    assert report.count("restored") == 4 and report.bad_lines == 1
    assert snapshot(library) == before
    assert os.listdir(private_trash / "files") == [] and os.listdir(private_trash / "info") == []


@pytest.mark.parametrize("action", ["move", "trash"])
def test_undo_puts_back_only_the_original(action: str, library: Path, tmp_path: Path, private_trash: Path) -> None:
    move_to = tmp_path / "to"
    plan = plan_for(library, tmp_path, action, move_to=str(move_to) if action == "move" else None)
    journal = str(tmp_path / "j.jsonl")
    report = apply_plan(plan, journal)
    outcome = next(o for o in report.outcomes if o.item.path.endswith("copy0.png"))
    assert outcome.status == "done" and outcome.detail
    where = Path(outcome.detail)  # the moved or trashed file, replaced there by another picture
    where.unlink()
    where.write_bytes((library / "unique8.png").read_bytes())
    undone = undo_journal(journal)
    reasons = {os.path.basename(o.path): (o.status, o.reason) for o in undone.outcomes}
    assert reasons["copy0.png"][0] == "failed" and "is not the original any more" in reasons["copy0.png"][1]
    assert not (library / "sub" / "copy0.png").exists() and where.exists()
    assert all(status == "restored" for name, (status, _) in reasons.items() if name != "copy0.png")
