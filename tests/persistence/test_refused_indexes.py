"""A file that is not a usable index is refused in one line, exit 2, and left exactly as it was."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from imgtwin.hashing.dct import DCTHasher
from imgtwin.persistence.sqlite import SqliteHashPersistence
from imgtwin.records import FileResult, FileStatus, ImageHash, ProcessingMetadata
from tests.helpers import synthetic_photo


def imgtwin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imgtwin", *args], capture_output=True, text=True, timeout=120, check=False
    )


def one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("imgtwin: error:"), done.stderr
    for word in words:
        assert word in lines[0]


def folder_state(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    root.mkdir()
    synthetic_photo(1, (120, 90)).save(root / "a.jpg")
    return root


@pytest.mark.slow
def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path: Path, photos: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    foreign = data / "notes.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    before = folder_state(data)
    one_line_error(imgtwin("scan", str(photos), "--db", str(foreign), "--no-progress"), "not an imgtwin index")
    one_line_error(imgtwin("index", "info", "--db", str(foreign)), "not an imgtwin index")
    one_line_error(imgtwin("find", "--db", str(foreign)), "not an imgtwin index")
    assert folder_state(data) == before  # no -wal, no -shm, no .lock, not switched to WAL


@pytest.mark.slow
def test_a_foreign_file_claiming_our_schema_version_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    foreign = data / "app.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE files (name TEXT)")
        conn.execute("CREATE TABLE roots (x)")
        conn.execute("PRAGMA user_version = 2")
    before = folder_state(data)
    one_line_error(imgtwin("index", "info", "--db", str(foreign)), "not an imgtwin index")
    one_line_error(imgtwin("errors", "--db", str(foreign)), "not an imgtwin index")
    assert folder_state(data) == before


PAGE = 4096  # SQLite's default page size, which the index keeps


def index_of_3000_files(db: Path) -> int:
    """A real index of 3,000 hashed rows (about 250 pages); returns its number of pages."""
    spec = DCTHasher().spec
    store = SqliteHashPersistence(str(db))
    store.store_batch([FileResult(ProcessingMetadata(f"/x/{k:05d}-{'n' * 80}.jpg", k, k), FileStatus.HASHED,
                                  hash=ImageHash(k, spec)) for k in range(3000)])
    store.finalize()
    return os.path.getsize(db) // PAGE


def write_garbage(db: Path, first_page: int, pages: int) -> None:
    with open(db, "r+b") as stream:
        stream.seek(first_page * PAGE)
        stream.write(bytes(range(256)) * (pages * PAGE // 256))


@pytest.mark.slow
def test_an_index_with_damaged_pages_is_reported_not_a_traceback(tmp_path: Path, photos: Path) -> None:
    db = tmp_path / "i.db"
    pages = index_of_3000_files(db)
    write_garbage(db, 3, pages - 3)  # the header (page 1) stays valid; the tree pages behind it are garbage
    for args in (["index", "info"], ["find"], ["errors"], ["scan", str(photos), "--no-progress"]):
        one_line_error(imgtwin(*args, "--db", str(db)), "damaged")
    assert not os.path.exists(str(db) + ".lock")


@pytest.mark.slow
@pytest.mark.parametrize("where", [0.3, 0.7])
def test_damaged_middle_pages_stop_info_prune_and_errors(tmp_path: Path, where: float) -> None:
    """Their queries read only small indexes, so without a check they reported on the damaged file as whole."""
    db = tmp_path / "i.db"
    pages = index_of_3000_files(db)
    write_garbage(db, int(pages * where), 3)  # the header and the pages around them stay sound
    damaged = db.read_bytes()
    for args in (["index", "info", "--json"], ["index", "prune"], ["errors"]):
        done = imgtwin(*args, "--db", str(db))
        one_line_error(done, "damaged", "quick check", str(db))
        assert done.stdout == ""
    assert db.read_bytes() == damaged and not os.path.exists(str(db) + ".lock")


@pytest.mark.slow
def test_a_scan_leaves_no_lock_file_behind_even_when_it_fails(tmp_path: Path, photos: Path) -> None:
    db = tmp_path / "i.db"
    assert imgtwin("scan", str(photos), "--db", str(db), "--no-progress").returncode == 0
    assert not os.path.exists(str(db) + ".lock")
    with socket.socket() as busy:  # the metrics port is taken: a fatal error after the lock was taken
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = imgtwin("scan", str(photos), "--db", str(db), "--no-progress", "--metrics-port", str(port))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert not os.path.exists(str(db) + ".lock")


def test_a_mistyped_index_folder_is_refused_not_created(tmp_path: Path, photos: Path) -> None:
    one_line_error(imgtwin("scan", str(photos), "--db", str(tmp_path / "no" / "such" / "x.db"), "--no-progress"),
                   "no folder")
    assert not (tmp_path / "no").exists()
