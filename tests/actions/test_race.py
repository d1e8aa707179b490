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

from imgtwin.actions import ActionPlan, RealFileOps, apply_plan, undo_journal
from imgtwin.actions.apply import ItemOutcome
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


def _check_nothing_lost(action: str, tmp_path: Path, work: Path, scene: tuple[Path, ...], digests: tuple[str | None, ...],
                        outcome: ItemOutcome, journal: str, context: object) -> None:
    """The stranger keeps one of the two names, the keeper its bytes, only the verified copy went; undo says
    exactly what it could restore."""
    library, _, keeper, duplicate, other = scene
    picture, stranger = digests
    names = (duplicate, other)
    assert stranger in [_digest(p) for p in names], (context, outcome)
    assert _digest(keeper) == picture
    assert not [n for n in os.listdir(library / "sub") if n.startswith(".imgtwin")], (context, outcome)
    if outcome.status == "done" and action in ("trash", "move"):
        moved = [p for p in (work / "to" / "sub" / "copy.png",) if p.exists()] if action == "move" else \
            [p for p in (tmp_path / "home" / ".local" / "share" / "Trash" / "files").glob("copy*")]
        assert [_digest(p) for p in moved] == [picture], context  # only the verified copy went
    undone = undo_journal(journal)
    contents = sorted(str(_digest(p)) for p in names)
    if undone.complete:
        if action != "delete":
            assert contents == sorted([str(picture), str(stranger)]), (context, outcome, undone.outcomes)
    else:
        assert any(o.status in ("failed", "irreversible") and o.reason for o in undone.outcomes), context
        assert stranger in [_digest(p) for p in names], context
    if action == "delete" and outcome.status == "done":
        assert not undone.complete and undone.count("irreversible") == 1, context


def _act(action: str, work: Path) -> tuple[tuple[Path, ...], tuple[str | None, ...],
                                                                          ActionPlan, str]:
    scene = _swap_scene(work)
    library = scene[0]
    plan = plan_for(library, work, action, move_to=str(work / "to") if action == "move" else None)
    assert [os.path.basename(i.path) for i in plan.items] == ["copy.png"]
    return scene, (_digest(scene[2]), _digest(scene[4])), plan, str(work / "j.jsonl")


@pytest.mark.slow  # a real race: it finds a fault only when a swap lands in the window; the test below always does
@pytest.mark.parametrize("action", ["hardlink", "symlink", "trash", "move", "delete"])
def test_a_file_swapped_in_while_acting_is_never_lost_or_displaced(action: str, tmp_path: Path) -> None:
    if not sys.platform.startswith("linux") or not _exchange_works(tmp_path):
        pytest.skip("needs renameat2(RENAME_EXCHANGE) to swap files atomically")
    for round_ in range(ROUNDS):
        work = tmp_path / str(round_)
        scene, digests, plan, journal = _act(action, work)
        stop = work / "stop"
        swapper = subprocess.Popen([sys.executable, str(Path(__file__).with_name("swapper.py")), str(scene[3]),
                                    str(scene[4]), str(stop)])
        try:
            deadline = time.monotonic() + 10
            while not Path(str(stop) + ".ready").exists() and time.monotonic() < deadline:
                time.sleep(0.005)
            assert Path(str(stop) + ".ready").exists(), "the swapper did not start"
            report = apply_plan(plan, journal, allow_delete=True)
        finally:
            stop.touch()
            swapper.wait(10)
        assert int(Path(str(stop) + ".count").read_text()) >= 1000  # it really ran
        _check_nothing_lost(action, tmp_path, work, scene, digests, report.outcomes[0], journal, round_)


class SwapBeforeCalls(RealFileOps):
    """The real operations; just before each call numbered in ``at`` (counting only calls that name ``path``),
    ``path`` and ``other`` swap names atomically, as the racing process does, but at a chosen instant."""

    def __init__(self, path: Path, other: Path, at: set[int]) -> None:
        self.path, self.other, self.at, self.calls = os.fsencode(path), os.fsencode(other), at, 0
        exchange = exchanger()
        assert exchange is not None
        self.exchange = exchange

    def __getattribute__(self, name: str):  # type: ignore[no-untyped-def]
        attr = object.__getattribute__(self, name)
        if name.startswith("_") or not callable(attr) or name not in FILEOPS:
            return attr

        def swapping(*args: object) -> object:
            if any(isinstance(a, str) and os.fsencode(a) == self.path for a in args):
                self.calls += 1
                if self.calls in self.at:
                    self.exchange(AT_FDCWD, self.path, AT_FDCWD, self.other, RENAME_EXCHANGE)
            return attr(*args)
        return swapping


FILEOPS = {name for name in vars(RealFileOps) if not name.startswith("_")}


@pytest.mark.parametrize("action", ["hardlink", "symlink", "trash", "move", "delete"])
def test_a_swap_before_any_step_on_the_duplicate_never_loses_or_displaces_a_file(action: str, tmp_path: Path) -> None:
    """Every instant the race test hopes to hit: a swap before each call on the duplicate's name (and a swap
    back before the next one)."""
    if not sys.platform.startswith("linux") or not _exchange_works(tmp_path):
        pytest.skip("needs renameat2(RENAME_EXCHANGE) to swap files atomically")
    scene, _, plan, journal = _act(action, tmp_path / "count")
    counting = SwapBeforeCalls(scene[3], scene[4], set())
    apply_plan(plan, journal, ops=counting, allow_delete=True)
    assert counting.calls >= 3  # looked at, opened and verified, renamed aside: at least
    undo_journal(journal)  # the trash is shared by the runs below
    for at in [{k} for k in range(1, counting.calls + 1)] + [{k, k + 1} for k in range(1, counting.calls)]:
        work = tmp_path / "-".join(map(str, sorted(at)))
        scene, digests, plan, journal = _act(action, work)
        report = apply_plan(plan, journal, ops=SwapBeforeCalls(scene[3], scene[4], at), allow_delete=True)
        _check_nothing_lost(action, tmp_path, work, scene, digests, report.outcomes[0], journal, at)


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
