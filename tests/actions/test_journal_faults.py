"""The journal on a full disk, torn or hand-edited: nothing is done that the journal does not hold."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from imgtwin.actions import JournalWriteError, RealFileOps, apply_plan, read_journal, undo_journal
from imgtwin.cli import main
from tests.actions.conftest import FullDisk, make_library, plan_for, snapshot


def run(*args: str, ops: RealFileOps | None = None) -> tuple[int, str]:
    """The command line in-process; ``ops``: the file operations dedupe and undo use (the CLI's injection)."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False, obj={"fileops": ops} if ops else None)
    return result.exit_code, result.output


class FullJournal(RealFileOps):
    """The disk fills while the ``nth`` record of ``kind`` is written: half of it goes, then nothing."""

    def __init__(self, kind: str, nth: int) -> None:
        self.kind, self.nth, self.seen, self.full = f'"type":"{kind}"'.encode(), nth, 0, False

    def write(self, fd: int, data: bytes) -> int:
        if self.full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if self.kind in data:
            self.seen += 1
            if self.seen == self.nth:
                self.full = True
                return super().write(fd, data[: len(data) // 2])  # a short write, as at the end of a disk
        return super().write(fd, data)


@pytest.mark.parametrize("action", ["trash", "move", "hardlink", "symlink", "delete"])
def test_a_short_intent_write_stops_the_run_before_the_action(action: str, tmp_path: Path) -> None:
    library = make_library(tmp_path / "lib", groups=3)
    before = snapshot(library)
    move_to = str(tmp_path / "to") if action == "move" else None
    plan = plan_for(library, tmp_path, action, move_to=move_to)
    journal = str(tmp_path / "j.jsonl")
    report = apply_plan(plan, journal, ops=FullJournal("intent", 2), allow_delete=True)
    assert report.journal_error and "No space left on device" in report.journal_error
    stopped_at = plan.items[len(report.outcomes)].path
    assert f"stopped before acting on {stopped_at}" in report.journal_error and not report.complete
    assert [o.status for o in report.outcomes if o.status != "skipped"] == ["done"]  # nothing after the torn line
    assert os.path.exists(stopped_at) and not any(n.startswith(".imgtwin") for _, _, f in os.walk(library) for n in f)
    contents = read_journal(journal)
    assert contents.bad_lines == 0 and len(contents.entries) == 1  # the torn record was cut off again
    if action != "delete":
        assert undo_journal(journal).complete
        assert snapshot(library) == before


def test_a_failed_done_record_keeps_the_original_of_a_link(tmp_path: Path) -> None:
    library = make_library(tmp_path / "lib", groups=2)
    before = snapshot(library)
    plan = plan_for(library, tmp_path, "hardlink")
    journal = str(tmp_path / "j.jsonl")
    report = apply_plan(plan, journal, ops=FullJournal("done", 1))
    assert report.journal_error and "stopped after" in report.journal_error
    done = [o for o in report.outcomes if o.status != "skipped"]
    assert [o.status for o in done] == ["done"] and "the original is kept at" in done[0].reason
    kept = [n for n in os.listdir(os.path.dirname(done[0].item.path)) if n.startswith(".imgtwin-backup")]
    assert len(kept) == 1  # not removed: the journal does not say the link was made
    undone = undo_journal(journal)
    assert undone.complete and undone.outcomes[0].reason == "from the set-aside original"
    assert snapshot(library) == before


def test_no_room_for_the_first_line_changes_nothing_and_leaves_no_journal(library: Path, tmp_path: Path) -> None:
    before = snapshot(library)
    plan = plan_for(library, tmp_path, "trash")
    journal = tmp_path / "j.jsonl"
    with pytest.raises(JournalWriteError, match="No space left on device"):
        apply_plan(plan, str(journal), ops=FullJournal("run", 1))
    assert not journal.exists() and snapshot(library) == before


@pytest.mark.slow
def test_a_journal_on_a_full_disk_from_the_start(library: Path, tmp_path: Path) -> None:
    before = snapshot(library)
    disk = tmp_path / "disk"
    disk.mkdir()
    journal = disk / "j.jsonl"
    code, out = run("dedupe", str(library), "--db", str(tmp_path / "i.db"), "--action", "hardlink", "--yes",
                    "--journal", str(journal), "--no-progress", "--workers", "1", ops=FullDisk(disk))
    assert code == 2, out
    assert "cannot write the journal" in out and "No space left on device: nothing was changed" in out
    assert "Traceback" not in out and not journal.exists()
    assert snapshot(library) == before


@pytest.mark.slow
@pytest.mark.parametrize("action", ["trash", "hardlink"])
def test_a_journal_that_fills_its_disk_mid_run(action: str, tmp_path: Path) -> None:
    library = make_library(tmp_path / "lib", groups=16, size=(32, 24))
    before = snapshot(library)
    disk = tmp_path / "disk"
    disk.mkdir()
    journal = disk / "j.jsonl"  # room for a few records: a real short write, then ENOSPC
    code, out = run("dedupe", str(library), "--db", str(tmp_path / "i.db"), "--action", action, "--yes",
                    "--journal", str(journal), "--no-progress", "--workers", "1", ops=FullDisk(disk, free=8192))
    assert code == 2, out
    assert "No space left on device: stopped" in out and "Traceback" not in out
    contents = read_journal(str(journal))
    assert 0 < len(contents.entries) < 16 and contents.bad_lines == 0
    assert all(e.outcome is not None for e in contents.entries[:-1])  # only the last may lack its "done"
    assert snapshot(library) != before
    code, out = run("undo", str(journal))  # room again for undo's own records
    assert code == 0, out
    assert snapshot(library) == before


def test_a_torn_line_is_work_undo_could_not_verify(library: Path, tmp_path: Path) -> None:
    before = snapshot(library)
    journal = tmp_path / "j.jsonl"
    apply_plan(plan_for(library, tmp_path, "move", move_to=str(tmp_path / "to")), str(journal))
    with open(journal, "a") as stream:
        stream.write('{"type":"intent","seq":9,"action":"mo')  # torn
    code, out = run("undo", str(journal))
    assert code == 1, out
    assert "Undo: 4 restored" in out and "1 journal line(s) could not be read" in out
    assert snapshot(library) == before


def test_a_hand_edited_journal_is_a_one_line_error(library: Path, tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    apply_plan(plan_for(library, tmp_path, "trash"), str(journal))
    lines = journal.read_text().splitlines()
    header = json.loads(lines[0])
    for bad in ("x", None, 1.5, True, [1]):
        journal.write_text("\n".join([json.dumps(header | {"format": bad})] + lines[1:]) + "\n")
        code, out = run("undo", str(journal))
        assert code == 2 and "imgtwin: error:" in out and "Traceback" not in out, (bad, out)
        assert len(out.strip().splitlines()) == 1
    intents = [k for k, line in enumerate(lines) if '"type":"intent"' in line]
    broken = json.loads(lines[intents[0]]) | {"inode": "x", "path": 3}
    lines[intents[0]] = json.dumps(broken)
    journal.write_text("\n".join(lines) + "\n")
    code, out = run("undo", str(journal))
    assert code == 1 and "Undo: 3 restored" in out and "1 journal line(s) could not be read" in out
    assert len(os.listdir(tmp_path / "home" / ".local" / "share" / "Trash" / "files")) == 1  # that one stays


def test_undo_restores_even_where_it_cannot_record_it(library: Path, tmp_path: Path) -> None:
    before = snapshot(library)
    journal = tmp_path / "j.jsonl"
    apply_plan(plan_for(library, tmp_path, "move", move_to=str(tmp_path / "to")), str(journal))
    journal.chmod(0o400)
    if os.access(journal, os.W_OK):  # root ignores file modes: fill the journal's "disk" instead
        report = undo_journal(str(journal), ops=FullJournal("undo", 1))
    else:
        report = undo_journal(str(journal))
    assert report.journal_error and report.count("restored") == 4 and not report.complete
    assert snapshot(library) == before
