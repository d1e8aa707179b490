"""A real concurrent process swaps the duplicate for another picture while dedupe acts: nothing is lost.

The swapper exchanges two names atomically (``renameat2(RENAME_EXCHANGE)``),
hundreds of thousands of times a second, so at any instant the duplicate's
name holds either the verified copy or an unrelated picture. dedupe must act
only on the inode it verified, never lose or displace the other picture, and
undo must report exactly what it could restore.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imgtwin.actions import RealFileOps, apply_plan, undo_journal
from tests.actions.conftest import plan_for
from tests.actions.swapper import AT_FDCWD, RENAME_EXCHANGE, exchanger
from tests.helpers import synthetic_photo

ROUNDS = 8


def _digest(path: Path) -> str | None:
    if path.is_symlink() or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _exchange_works(folder: Path) -> bool:
    function = exchanger()
    if function is None:
        return False
    a, b = folder / "probe-a", folder / "probe-b"
    a.write_bytes(b"a")
    b.write_bytes(b"b")
    ok = function(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0
    a.unlink()
    b.unlink()
    return ok


def _swap_scene(base: Path) -> tuple[Path, Path, Path, Path, Path]:
    """A library with a keeper and its byte copy, and a different picture elsewhere to swap in."""
    library, elsewhere = base / "lib", base / "elsewhere"
    (library / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    keeper, duplicate, other = library / "photo.png", library / "sub" / "copy.png", elsewhere / "other.png"
    synthetic_photo(100, (64, 48)).save(keeper)
    shutil.copy2(keeper, duplicate)
    synthetic_photo(200, (64, 48)).save(other)
    return library, elsewhere, keeper, duplicate, other


@pytest.mark.parametrize("action", ["hardlink", "symlink", "trash", "move", "delete"])
def test_a_file_swapped_in_while_acting_is_never_lost_or_displaced(action: str, tmp_path: Path) -> None:
    if not sys.platform.startswith("linux") or not _exchange_works(tmp_path):
        pytest.skip("needs renameat2(RENAME_EXCHANGE) to swap files atomically")
    for round_ in range(ROUNDS):
        work = tmp_path / str(round_)
        library, elsewhere, keeper, duplicate, other = _swap_scene(work)
        picture, stranger = _digest(keeper), _digest(other)
        move_to = work / "to"
        plan = plan_for(library, work, action, move_to=str(move_to) if action == "move" else None)
        assert [os.path.basename(i.path) for i in plan.items] == ["copy.png"]

        stop = work / "stop"
        swapper = subprocess.Popen([sys.executable, str(Path(__file__).with_name("swapper.py")), str(duplicate),
                                    str(other), str(stop)])
        try:
            deadline = time.monotonic() + 10
            while not Path(str(stop) + ".ready").exists() and time.monotonic() < deadline:
                time.sleep(0.005)
            assert Path(str(stop) + ".ready").exists(), "the swapper did not start"
            journal = str(work / "j.jsonl")
            report = apply_plan(plan, journal, allow_delete=True)
        finally:
            stop.touch()
            swapper.wait(10)
        assert int(Path(str(stop) + ".count").read_text()) >= 1000  # it really ran
        outcome = report.outcomes[0]

        # The stranger is still at one of its two names: never trashed, moved, deleted or linked over.
        names = (duplicate, other)
        assert stranger in [_digest(p) for p in names], (round_, outcome)
        assert _digest(keeper) == picture
        assert not [n for n in os.listdir(library / "sub") if n.startswith(".imgtwin")], (round_, outcome)
        if outcome.status == "done" and action in ("trash", "move"):
            moved = [p for p in (move_to / "sub" / "copy.png",) if p.exists()] if action == "move" else \
                [p for p in (tmp_path / "home" / ".local" / "share" / "Trash" / "files").glob("copy*")]
            assert [_digest(p) for p in moved] == [picture]  # only the verified copy went

        undone = undo_journal(journal)
        contents = sorted(str(_digest(p)) for p in names)
        if undone.complete:
            if action != "delete":
                assert contents == sorted([str(picture), str(stranger)]), (round_, outcome, undone.outcomes)
        else:
            assert any(o.status in ("failed", "irreversible") and o.reason for o in undone.outcomes)
            assert stranger in [_digest(p) for p in names]
        if action == "delete" and outcome.status == "done":
            assert not undone.complete and undone.count("irreversible") == 1


class SwapWhileSettingAside(RealFileOps):
    """Swaps the duplicate for ``other`` just before dedupe renames it aside; with ``taken``, a third file
    then takes its free name before the swapped-in file can be put back."""

    def __init__(self, path: Path, other: Path, stash: Path, taken: bool) -> None:
        self.path, self.other, self.stash, self.taken = path, other, stash, taken

    def rename(self, src: str, dst: str) -> None:
        if src == str(self.path) and ".imgtwin-backup" in dst:
            os.rename(self.path, self.stash)  # the verified copy goes elsewhere (not lost)
            os.rename(self.other, self.path)  # and an unrelated picture takes its name
        super().rename(src, dst)

    def link(self, src: str, dst: str) -> None:
        if self.taken and dst == str(self.path) and ".imgtwin-backup" in src:
            Path(dst).write_bytes(b"a third file")
        super().link(src, dst)


@pytest.mark.parametrize("action", ["hardlink", "trash", "move", "delete"])
@pytest.mark.parametrize("taken", [False, True])
def test_a_file_swapped_in_at_the_worst_moment_is_put_back_or_kept(action: str, taken: bool, tmp_path: Path) -> None:
    library, elsewhere, keeper, duplicate, other = _swap_scene(tmp_path)
    stranger = _digest(other)
    plan = plan_for(library, tmp_path, action, move_to=str(tmp_path / "to") if action == "move" else None)
    ops = SwapWhileSettingAside(duplicate, other, elsewhere / "stash.png", taken)
    journal = str(tmp_path / "j.jsonl")
    outcome = apply_plan(plan, journal, ops=ops, allow_delete=True).outcomes[0]
    assert "replaced by another file while being acted on" in outcome.reason
    backups = [p for p in (library / "sub").iterdir() if p.name.startswith(".imgtwin-backup")]
    if taken:
        assert outcome.status == "failed" and outcome.detail == str(backups[0])
        assert _digest(backups[0]) == stranger and duplicate.read_bytes() == b"a third file"
    else:
        assert outcome.status == "skipped" and _digest(duplicate) == stranger and not backups
    assert _digest(elsewhere / "stash.png") == _digest(keeper)  # the verified copy, untouched where it went
    undone = undo_journal(journal)
    if taken:  # undo will not put the swapped-in file over the third one: it says so
        assert not undone.complete and "is at" in undone.outcomes[0].reason
        assert _digest(backups[0]) == stranger
    else:
        assert undone.complete and _digest(duplicate) == stranger
