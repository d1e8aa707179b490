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

from imgtwin.actions import apply_plan, undo_journal
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


@pytest.mark.parametrize("action", ["hardlink", "symlink", "trash", "move", "delete"])
def test_a_file_swapped_in_while_acting_is_never_lost_or_displaced(action: str, tmp_path: Path) -> None:
    if not sys.platform.startswith("linux") or not _exchange_works(tmp_path):
        pytest.skip("needs renameat2(RENAME_EXCHANGE) to swap files atomically")
    for round_ in range(ROUNDS):
        work = tmp_path / str(round_)
        library, elsewhere = work / "lib", work / "elsewhere"
        (library / "sub").mkdir(parents=True)
        elsewhere.mkdir()
        keeper, duplicate, other = library / "photo.png", library / "sub" / "copy.png", elsewhere / "other.png"
        synthetic_photo(100, (64, 48)).save(keeper)
        shutil.copy2(keeper, duplicate)
        synthetic_photo(200, (64, 48)).save(other)
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
            time.sleep(0.01)
            journal = str(work / "j.jsonl")
            report = apply_plan(plan, journal, allow_delete=True)
        finally:
            stop.touch()
            swapper.wait(10)
        assert int(Path(str(stop) + ".count").read_text()) > 0  # it really ran
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
