"""Fixtures for dedupe/undo tests: a small library of real images, a private trash, tree snapshots."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgtwin.actions import ActionPlan
from imgtwin.options import ScanOptions
from imgtwin.runs.plan import plan_actions
from tests.helpers import synthetic_photo

SCAN = ScanOptions(executor="thread", workers=1)


def snapshot(root: Path) -> dict[str, tuple[str, str, int]]:
    """Every path under ``root`` (hidden ones too) -> (kind, sha256 of bytes or link target, link count)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                out[rel] = ("link", os.readlink(path), 1)
            elif os.path.isdir(path):
                out[rel] = ("dir", "", 0)
            else:
                out[rel] = ("file", hashlib.sha256(Path(path).read_bytes()).hexdigest(), os.lstat(path).st_nlink)
    return out


def make_library(root: Path, groups: int = 3, size: tuple[int, int] = (64, 48)) -> Path:
    """``groups`` exact pairs (original + copy in sub/), and one near pair (a smaller re-save)."""
    (root / "sub" / "deeper").mkdir(parents=True)
    for i in range(groups):
        synthetic_photo(100 + i, size).save(root / f"photo{i}.png")
        folder = root / "sub" / "deeper" if i % 2 else root / "sub"
        shutil.copy2(root / f"photo{i}.png", folder / f"copy{i}.png")
    synthetic_photo(7, (96, 72)).save(root / "big7.png")
    synthetic_photo(7, (80, 60)).save(root / "sub" / "small7.png")
    synthetic_photo(8, size).save(root / "unique8.png")
    return root


@pytest.fixture(autouse=True)
def private_trash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME and XDG_DATA_HOME in the test's folder: nothing reaches the real trash or data folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    return home / ".local" / "share" / "Trash"


@pytest.fixture
def library(tmp_path: Path) -> Path:
    return make_library(tmp_path / "lib")


def plan_for(root: Path, tmp_path: Path, action: str, **kwargs: object) -> ActionPlan:
    return plan_actions([str(root)], action, db_path=str(tmp_path / "index.db"), options=SCAN,
                        **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB tmpfs, mounted for the test (skipped where mounting is not permitted)."""
    if not sys.platform.startswith("linux") or shutil.which("mount") is None:
        pytest.skip("needs Linux and mount(8) for a small tmpfs")
    folder = tmp_path / "tmpfs"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill the file system of ``folder`` (a tmpfs) to the last page, then free ``leave`` bytes (whole pages)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        while True:
            try:
                os.write(fd, b"\0" * 4096)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    finally:
        os.close(fd)
    if leave:
        os.truncate(filler, max(0, os.path.getsize(filler) - leave))
    return filler
