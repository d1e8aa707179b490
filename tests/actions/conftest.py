"""Fixtures for dedupe/undo tests: a small library of real images, a private trash, tree snapshots."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path

import pytest

from imgtwin.actions import ActionPlan, RealFileOps
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
    return plan_actions([str(root)], action, db=str(tmp_path / "index.db"), options=SCAN,
                        **kwargs)  # type: ignore[arg-type]


class FullDisk(RealFileOps):
    """The real operations, on a disk with ``free`` bytes left for the data of files under ``root``.

    As on a real full disk, a write gets what room is left (a short write), then ENOSPC; names,
    folders and links cost nothing, as on a tmpfs, whose inodes do not count against its size.
    Every test can run it: no mount, no privileges.
    """

    def __init__(self, root: Path, free: int = 0) -> None:
        self.root, self.free = root, free

    def _on_disk(self, fd: int) -> bool:
        opened = os.fstat(fd)
        return any(os.path.samestat(opened, path.lstat()) for path in self.root.rglob("*"))

    def write(self, fd: int, data: bytes) -> int:
        if not self._on_disk(fd):
            return super().write(fd, data)
        if self.free <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = super().write(fd, data[: self.free])
        self.free -= written
        return written

    def copy_file(self, src: str, dst: str) -> None:
        size = os.path.getsize(src) if Path(dst).resolve().is_relative_to(self.root.resolve()) else 0
        if size > self.free:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        super().copy_file(src, dst)
        self.free -= size
