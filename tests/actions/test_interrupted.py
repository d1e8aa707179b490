"""What an interrupted trash or move leaves behind, undo removes; a full disk leaves nothing half-made."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from imgtwin.actions import RealFileOps, apply_plan, undo_journal
from tests.actions.conftest import FullDisk, make_library, plan_for, snapshot


def _trash_contents(trash: Path) -> list[str]:
    return sorted(str(p.relative_to(trash)) for p in trash.rglob("*") if p.is_file() or p.is_symlink())


def test_a_kill_between_the_trash_link_and_the_unlink_is_undone(
    library: Path, tmp_path: Path, private_trash: Path
) -> None:
    """The state a run killed there leaves: the file at its name, a hard link and .trashinfo in the trash."""
    before = snapshot(library)
    journal = tmp_path / "j.jsonl"
    apply_plan(plan_for(library, tmp_path, "trash"), str(journal))
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    intents = [r for r in records if r["type"] == "intent"]
    for intent in intents:  # back at its name, and still linked in the trash, as between link() and unlink()
        name = os.path.basename(intent["path"])
        os.link(private_trash / "files" / name, intent["path"])
    header = records[0] | {"format": 1}  # as the run that was killed wrote it (no set-aside name)
    kept = [header] + [{k: v for k, v in r.items() if k != "backup"} for r in intents]
    journal.write_text("".join(json.dumps(r) + "\n" for r in kept))
    report = undo_journal(str(journal))
    assert report.complete and report.count("restored") == len(intents), report.outcomes
    assert all("hard link in the trash was removed" in o.reason for o in report.outcomes)
    assert _trash_contents(private_trash) == []
    assert snapshot(library) == before


def test_a_full_disk_leaves_no_empty_trashinfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    disk = tmp_path / "disk"
    library = make_library(disk / "lib", groups=2, size=(32, 24))
    monkeypatch.setenv("XDG_DATA_HOME", str(disk / "data"))  # the trash on the same (full) disk
    trash = disk / "data" / "Trash"
    (trash / "files").mkdir(parents=True)
    (trash / "info").mkdir()
    before = snapshot(library)
    plan = plan_for(library, tmp_path, "trash")
    journal = str(tmp_path / "j.jsonl")  # the journal elsewhere: only the trash is full
    report = apply_plan(plan, journal, ops=FullDisk(disk))
    assert report.count("failed") == len(plan.items)
    assert all("No space left on device" in o.reason for o in report.outcomes)
    assert _trash_contents(trash) == []  # no empty .trashinfo, no temporary, no link
    assert snapshot(library) == before
    assert undo_journal(journal).complete and snapshot(library) == before


class _Killed(BaseException):
    pass


class KilledAfterMakingFolders(RealFileOps):
    """Killed right after the move made the target's folders, before the file got there."""

    def makedirs(self, path: str) -> list[str]:
        super().makedirs(path)
        raise _Killed


def test_a_move_killed_after_making_folders_leaves_none(library: Path, tmp_path: Path) -> None:
    before = snapshot(library)
    move_to = tmp_path / "to"
    move_to.mkdir()
    plan = plan_for(library, tmp_path, "move", move_to=str(move_to))
    journal = str(tmp_path / "j.jsonl")
    with pytest.raises(_Killed):
        apply_plan(plan, journal, ops=KilledAfterMakingFolders())
    assert [p for p in move_to.rglob("*")]  # the folders it made
    report = undo_journal(journal)
    assert report.complete, report.outcomes
    assert list(move_to.iterdir()) == [] and snapshot(library) == before


def test_a_move_killed_half_way_through_a_copy_leaves_no_partial_copy(library: Path, tmp_path: Path) -> None:
    class PartialCopy(RealFileOps):
        def link(self, src: str, dst: str) -> None:
            if "/to/" in dst:
                raise OSError(18, "Invalid cross-device link")  # EXDEV: the move copies
            super().link(src, dst)

        def copy_file(self, src: str, dst: str) -> None:
            with open(src, "rb") as source, open(dst, "xb") as out:
                out.write(source.read(100))  # the first bytes, then the kill
            raise _Killed

    before = snapshot(library)
    move_to = tmp_path / "to"
    plan = plan_for(library, tmp_path, "move", move_to=str(move_to))
    journal = str(tmp_path / "j.jsonl")
    with pytest.raises(_Killed):
        apply_plan(plan, journal, ops=PartialCopy())
    assert any(p.is_file() for p in move_to.rglob("*"))
    report = undo_journal(journal)
    assert report.complete, report.outcomes
    assert not move_to.exists() or not any(move_to.rglob("*"))
    assert snapshot(library) == before
    shutil.rmtree(move_to, ignore_errors=True)
