"""Faults half-way: each costs its own file, the tree and the journal stay consistent, undo works."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imgtwin.actions import RealFileOps, apply_plan, read_journal, undo_journal
from imgtwin.actions.fileops import FileOps
from imgtwin.reporting.groups import groups_document, write_json
from imgtwin.runs.find import find_duplicates
from tests.actions.conftest import SCAN, make_library, plan_for, snapshot
from tests.protocols import mismatches


class FaultyFileOps(RealFileOps):
    """The real operations, but the ``fail_on``-th call of ``method`` raises ``errno``."""

    def __init__(self, method: str, fail_on: int, code: int = errno.ENOSPC) -> None:
        self.method, self.fail_on, self.code, self.calls = method, fail_on, code, 0

    def __getattribute__(self, name: str):  # type: ignore[no-untyped-def]
        attr = object.__getattribute__(self, name)
        if name == object.__getattribute__(self, "method"):
            def faulty(*args: object) -> object:
                self.calls += 1
                if self.calls == self.fail_on:
                    raise OSError(self.code, os.strerror(self.code), args[-1])
                return attr(*args)
            return faulty
        return attr


def test_faulty_ops_fail_exactly_the_chosen_call_and_do_the_real_thing_otherwise(tmp_path: Path) -> None:
    assert mismatches(RealFileOps, FileOps) == []  # what FaultyFileOps inherits fits the interface
    folder = tmp_path / "links"
    folder.mkdir()
    source = folder / "a.jpg"
    source.write_bytes(b"picture")
    ops = FaultyFileOps("link", 2)
    ops.link(str(source), str(folder / "one"))
    with pytest.raises(OSError) as raised:
        ops.link(str(source), str(folder / "two"))
    ops.link(str(source), str(folder / "three"))
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(folder / "two")
    assert sorted(p.name for p in folder.iterdir()) == ["a.jpg", "one", "three"]
    assert os.stat(folder / "three").st_ino == os.stat(source).st_ino and ops.calls == 3
    assert ops.stat(str(source)).st_nlink == 3  # other methods pass straight through, uncounted
    assert ops.calls == 3


def _check_fault(library: Path, tmp_path: Path, action: str, ops: FileOps, **kwargs: object) -> list[str]:
    before = snapshot(library)
    journal = str(tmp_path / "j.jsonl")
    plan = plan_for(library, tmp_path, action, **kwargs)
    report = apply_plan(plan, journal, ops=ops)
    failed = [o for o in report.outcomes if o.status == "failed"]
    assert len(failed) == 1 and not report.complete
    assert report.count("done") == len(plan.items) - 1 - report.count("skipped")  # the rest went on
    assert os.path.exists(failed[0].item.path)  # the failed file is untouched, at its place
    entries = read_journal(journal).entries
    assert [e.state for e in entries].count("failed") == 1 and all(e.state in ("done", "failed") for e in entries)
    assert not any(n.startswith(".imgtwin") for _, _, files in os.walk(library) for n in files)
    assert undo_journal(journal).complete
    assert snapshot(library) == before
    return [f.reason for f in failed]


def test_disk_full_while_copying_a_move_across_file_systems(library: Path, tmp_path: Path) -> None:
    class CrossDevice(FaultyFileOps):
        def link(self, src: str, dst: str) -> None:  # every link: another file system
            raise OSError(errno.EXDEV, "Invalid cross-device link")

    reasons = _check_fault(library, tmp_path, "move", CrossDevice("copy_file", 2), move_to=str(tmp_path / "to"))
    assert "No space left" in reasons[0]
    assert not any(n.startswith(".") for _, _, files in os.walk(tmp_path / "to") for n in files)


def test_disk_full_while_making_a_hard_link_puts_the_original_back(library: Path, tmp_path: Path) -> None:
    # link calls: one per file; the 2nd fails after the original was set aside
    _check_fault(library, tmp_path, "hardlink", FaultyFileOps("link", 2))


def test_permission_denied_while_trashing(library: Path, tmp_path: Path) -> None:
    reasons = _check_fault(library, tmp_path, "trash", FaultyFileOps("trash", 3, errno.EACCES))
    assert "Permission denied" in reasons[0]


def test_unlink_refused_after_a_move_keeps_exactly_one_copy(library: Path, tmp_path: Path) -> None:
    _check_fault(library, tmp_path, "move", FaultyFileOps("unlink", 1, errno.EPERM), move_to=str(tmp_path / "to"))


def test_changed_replaced_vanished_and_blocked_files_are_skipped(library: Path, tmp_path: Path) -> None:
    move_to = tmp_path / "to"
    plan = plan_for(library, tmp_path, "move", move_to=str(move_to))
    copy0, copy1, copy2 = library / "sub/copy0.png", library / "sub/deeper/copy1.png", library / "sub/copy2.png"
    st = os.stat(copy0)  # same size and mtime, other bytes: only the hash can tell
    data = bytearray(copy0.read_bytes())
    data[-20] ^= 0xFF
    copy0.write_bytes(bytes(data))
    os.utime(copy0, ns=(st.st_atime_ns, st.st_mtime_ns))
    copy1.unlink()  # vanished
    (move_to / "sub").mkdir(parents=True)
    (move_to / "sub" / "copy2.png").write_bytes(b"already here")  # a target that exists
    (library / "sub" / "small7.png").write_bytes(b"replaced")
    report = apply_plan(plan, str(tmp_path / "j.jsonl"))
    reasons = {os.path.basename(o.item.path): o.reason for o in report.outcomes}
    assert reasons["copy0.png"] == "its bytes changed since it was hashed"
    assert reasons["copy1.png"] == "the file is gone"
    assert reasons["copy2.png"].startswith("the move target already exists")
    assert reasons["small7.png"].startswith("the file changed since it was hashed")
    assert report.count("done") == 0 and copy2.exists() and copy0.exists()
    assert (move_to / "sub" / "copy2.png").read_bytes() == b"already here"
    skipped = read_journal(str(tmp_path / "j.jsonl")).skipped
    assert len(skipped) == 4


def test_a_changed_keeper_protects_its_group(library: Path, tmp_path: Path) -> None:
    plan = plan_for(library, tmp_path, "trash")
    with open(library / "photo0.png", "ab") as f:
        f.write(b"edited")
    report = apply_plan(plan, str(tmp_path / "j.jsonl"))
    by_name = {os.path.basename(o.item.path): o for o in report.outcomes}
    assert by_name["copy0.png"].status == "skipped" and "keeper changed" in by_name["copy0.png"].reason
    assert (library / "sub" / "copy0.png").exists() and by_name["copy2.png"].status == "done"


@pytest.mark.slow
@pytest.mark.parametrize("action", ["hardlink", "move"])
def test_sigkill_mid_run_then_undo_restores_the_tree(action: str, tmp_path: Path) -> None:
    library = make_library(tmp_path / "lib", groups=16, size=(32, 24))
    before = snapshot(library)
    db = str(tmp_path / "index.db")
    result = find_duplicates([str(library)], db_path=db, options=SCAN)
    plan_file = str(tmp_path / "plan.json")
    write_json(plan_file, groups_document(result.groups, result.errors, 6, True))
    journal = tmp_path / "j.jsonl"
    args = [sys.executable, str(Path(__file__).with_name("slow_dedupe.py")), "0.03", "dedupe", "--plan", plan_file,
            "--db", db, "--action", action, "--yes", "--journal", str(journal), str(library)]
    if action == "move":
        args += ["--move-to", str(tmp_path / "to")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text().count('"type":"intent"') >= 6:
            break
        time.sleep(0.01)
    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    contents = read_journal(str(journal))
    assert 5 <= len(contents.entries) < 16 and not contents.finished
    assert snapshot(library) != before
    report = undo_journal(str(journal))
    assert report.complete, report.outcomes
    assert snapshot(library) == before
    assert json.loads(journal.read_text().splitlines()[-1])["type"] == "undo_end"


class _Killed(BaseException):
    """Not an OSError: nothing in imgtwin handles it, like a kill."""


class DyingFileOps(RealFileOps):
    """Dies at the ``die_at``-th change; every later call fails too, so no clean-up can run (as after SIGKILL).

    Journal writes count as changes: a kill may come between any two steps, the journal's included.
    """

    MUTATING = ("link", "symlink", "rename", "unlink", "create_exclusive", "copy_file", "makedirs", "set_meta",
                "trash", "rmdir", "write_new", "write")

    def __init__(self, die_at: int) -> None:
        self.die_at, self.calls, self.dead = die_at, 0, False

    def __getattribute__(self, name: str):  # type: ignore[no-untyped-def]
        attr = object.__getattribute__(self, name)
        if name not in DyingFileOps.MUTATING:
            return attr

        def dying(*args: object) -> object:
            self.calls += 1
            if self.dead or self.calls == self.die_at:
                self.dead = True
                raise _Killed
            return attr(*args)
        return dying


def _steps(action: str, work: Path) -> int:
    """How many changes a whole run makes (so that the test below dies at each of them)."""
    library = make_library(work / "lib", groups=1, size=(32, 24))
    plan = plan_for(library, work, action, move_to=str(work / "to") if action == "move" else None)
    ops = DyingFileOps(10**9)
    apply_plan(plan, str(work / "j.jsonl"), ops=ops, allow_delete=True)
    undo_journal(str(work / "j.jsonl"))  # empties the trash again
    return ops.calls


@pytest.mark.slow
@pytest.mark.parametrize("action", ["hardlink", "symlink", "move", "trash", "delete"])
def test_killed_at_every_step_undo_restores_the_tree(action: str, tmp_path: Path, private_trash: Path) -> None:
    steps = _steps(action, tmp_path / "count")
    assert steps >= 8
    for die_at in range(1, steps + 1):
        work = tmp_path / str(die_at)
        library = make_library(work / "lib", groups=1, size=(32, 24))
        before = snapshot(library)
        move_to = work / "to"
        plan = plan_for(library, work, action, move_to=str(move_to) if action == "move" else None)
        journal = str(work / "j.jsonl")
        with pytest.raises(_Killed):
            apply_plan(plan, journal, ops=DyingFileOps(die_at), allow_delete=True)
        if os.path.getsize(journal) == 0:  # killed before the journal's first line: nothing was done
            assert snapshot(library) == before, die_at
            continue
        assert not read_journal(journal).finished
        report = undo_journal(journal)
        if action == "delete" and report.count("irreversible"):
            gone = {o.path for o in report.outcomes if o.status == "irreversible"}
            assert all(os.path.exists(i.keeper.path) for i in plan.items)
            assert all(os.path.exists(i.path) != (i.path in gone) for i in plan.items), die_at
            continue
        assert report.complete, (die_at, report.outcomes)
        assert snapshot(library) == before, die_at
        for folder in ("files", "info"):  # nothing left in the trash: no link, no .trashinfo, no temporary
            assert not (private_trash / folder).exists() or os.listdir(private_trash / folder) == [], die_at
        assert not move_to.exists() or not os.listdir(move_to), (die_at, list(os.walk(move_to)))


def test_a_name_taken_while_linking_keeps_the_original_set_aside(library: Path, tmp_path: Path) -> None:
    class NameTaken(RealFileOps):
        """Another program creates a file at the name between the set-aside and the link."""

        def link(self, src: str, dst: str) -> None:
            if src.endswith("-link") and not os.path.lexists(dst):  # the checked link, about to take the name
                Path(dst).write_bytes(b"someone else's file")
            super().link(src, dst)

    plan = plan_for(library, tmp_path, "hardlink")
    item = next(i for i in plan.items if i.byte_identical)
    original = Path(item.path).read_bytes()
    journal = str(tmp_path / "j.jsonl")
    report = apply_plan(plan, journal, ops=NameTaken())
    outcome = next(o for o in report.outcomes if o.item == item)
    assert outcome.status == "failed" and outcome.detail and "the file is kept at" in outcome.reason
    assert Path(outcome.detail).read_bytes() == original  # the original, whole, set aside
    assert Path(item.path).read_bytes() == b"someone else's file"  # never overwritten
    undone = undo_journal(journal)
    reasons = [o.reason for o in undone.outcomes if o.path == item.path]
    assert not undone.complete and "another file is at" in reasons[0] and "the original is at" in reasons[0]
    assert Path(outcome.detail).read_bytes() == original
