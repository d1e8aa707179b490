"""Every name a file system holds gets its own row; what cannot be looked at is never called gone.

Real files with names that are not UTF-8, a folder that becomes unreadable
(as a real unprivileged user, so the kernel refuses), and an index this user
may only read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgtwin.options import ScanOptions
from imgtwin.persistence.index import HashIndex
from imgtwin.persistence.sqlite import read_rows
from imgtwin.runs.find import find_duplicates
from imgtwin.runs.scan import ScanSettings, run_scan
from tests.helpers import needs_root_to_drop, run_as_nobody, synthetic_photo


def byte_name(folder: Path, name: bytes) -> str:
    return os.fsdecode(os.fsencode(str(folder)) + b"/" + name)


def scan(root: Path, db: Path) -> object:
    return run_scan(ScanSettings(roots=(str(root),), db_path=str(db),
                                 options=ScanOptions(executor="thread", workers=1)))


def imgtwin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imgtwin", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_names_that_are_not_utf8_are_rows_of_their_own(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    latin1 = byte_name(root, b"caf\xe9.jpg")  # Latin-1 bytes, as old Windows/Samba archives have them
    literal = str(root / "caf\\xe9.jpg")  # a name that really holds a backslash
    synthetic_photo(1).save(latin1, "JPEG", quality=90)
    synthetic_photo(2).save(literal, "JPEG", quality=90)
    shutil.copyfile(latin1, byte_name(root, b"copie de caf\xe9.jpg"))
    Path(byte_name(root, b"cass\xe9.png")).write_bytes(b"\x89PNG\r\n\x1a\n broken")
    db = tmp_path / "i.db"
    for _ in range(3):  # the same rows every time: no flip-flop between the two names
        scan(root, db)
        rows = {row["path"]: row for row in read_rows(str(db))}
        assert set(rows) == {latin1, literal, byte_name(root, b"copie de caf\xe9.jpg"), byte_name(root, b"cass\xe9.png")}
        assert all(row["vanished_at"] is None for row in rows.values())
    assert rows[latin1]["hash"] != rows[literal]["hash"]
    result = find_duplicates([str(root)], db_path=str(db), scan=False)
    assert [sorted(m.path for m in g.members) for g in result.groups] == [
        sorted([latin1, byte_name(root, b"copie de caf\xe9.jpg")])
    ]
    with HashIndex(str(db)) as index:
        assert [f.path for f in index.failures()] == [byte_name(root, b"cass\xe9.png")]
    listed = imgtwin("errors", "--db", str(db))
    assert listed.returncode == 0
    assert listed.stdout.splitlines() == [f"{root}/cass\\xe9.png: decode_error: " + rows[
        byte_name(root, b"cass\xe9.png")]["error_message"]]


@pytest.fixture
def shared_tree() -> Iterator[Path]:
    """A tree in /tmp that 'nobody' can reach, with an index folder nobody may write."""
    top = Path(tempfile.mkdtemp(prefix="imgtwin-access-", dir="/tmp"))
    top.chmod(0o755)
    try:
        yield top
    finally:
        for folder, dirs, _ in os.walk(top):
            for name in dirs:
                os.chmod(os.path.join(folder, name), 0o755)
        shutil.rmtree(top)


@needs_root_to_drop
def test_a_file_behind_an_unreadable_folder_is_not_marked_gone(shared_tree: Path) -> None:
    root, data = shared_tree / "photos", shared_tree / "data"
    (root / "locked").mkdir(parents=True)
    data.mkdir(mode=0o777)
    data.chmod(0o777)
    synthetic_photo(3, (120, 90)).save(root / "ok.jpg")
    synthetic_photo(4, (120, 90)).save(root / "locked" / "inner.jpg")
    db = data / "i.db"

    def scan_as_nobody() -> list[tuple[str, str]]:
        scan(root, db)
        with HashIndex(str(db)) as index:
            return [(os.path.relpath(f.path, root), f.reason) for f in index.failures()]

    run_as_nobody(scan_as_nobody)  # everything readable: both hashed
    (root / "locked").chmod(0o700)  # now only root may list it
    assert run_as_nobody(scan_as_nobody) == [("locked", "permission")]
    inner = {os.path.basename(r["path"]): r for r in read_rows(str(db))}["inner.jpg"]
    assert inner["vanished_at"] is None and inner["hash"] is not None  # not looked at, so not gone
    (root / "locked").chmod(0o755)
    assert run_as_nobody(scan_as_nobody) == []  # listable again: the folder's error goes


@needs_root_to_drop
def test_an_index_that_may_only_be_read_is_served_read_only(shared_tree: Path) -> None:
    root, data = shared_tree / "photos", shared_tree / "data"
    root.mkdir()
    data.mkdir()
    synthetic_photo(5, (120, 90)).save(root / "a.jpg")
    shutil.copyfile(root / "a.jpg", root / "b.jpg")
    db = data / "i.db"
    scan(root, db)
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    data.chmod(0o555)  # nobody may read the index, not write it or its folder

    def read_as_nobody() -> tuple[int, int]:
        with HashIndex(str(db), readonly=True) as index:
            files = index.info().files
        return files, len(find_duplicates(db_path=str(db), scan=False).groups)

    assert run_as_nobody(read_as_nobody) == (2, 1)
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before  # nothing written, nothing left behind
