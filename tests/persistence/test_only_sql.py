"""Persistence is the only code that speaks SQL: every other module reads ``records.IndexedFile``.

Read from the sources: a query or a raw ``sqlite3.Row`` lookup anywhere else
would be a second place where the index's columns are known.
"""

from __future__ import annotations

import re
from pathlib import Path

from imgtwin.persistence.index import HashIndex
from imgtwin.persistence.sqlite import SqliteHashPersistence
from imgtwin.records import FileResult, FileStatus, HashSpec, ImageHash, IndexedFile, ProcessingMetadata
from tests.helpers import REPO

PACKAGE = REPO / "src" / "imgtwin"
SQL = re.compile(
    r"""\bSELECT\b[^"']*\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b"""
    r"""|\bCREATE\s+(TABLE|INDEX)\b|\bsqlite3\.(Row|connect|Connection|Cursor)\b|\.execute(many)?\("""
    r"""|\browv?\[["']|\brow_factory\b"""
)


def _offences(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if SQL.search(line)]


def test_the_pattern_finds_queries_and_raw_rows() -> None:
    assert _offences('conn.execute("SELECT path FROM files WHERE size = ?")\nsize = row["size"]\n') == [
        'conn.execute("SELECT path FROM files WHERE size = ?")', 'size = row["size"]']
    assert _offences("rows: sqlite3.Row\nx = 'INSERT OR REPLACE INTO t'\n") == ["rows: sqlite3.Row",
                                                                                "x = 'INSERT OR REPLACE INTO t'"]
    assert _offences("_SELECTION = ('similarity',)  # select files from the folders\n") == []


def test_no_module_outside_persistence_speaks_sql_or_reads_raw_rows() -> None:
    sources = [p for p in sorted(PACKAGE.rglob("*.py")) if "persistence" not in p.relative_to(PACKAGE).parts]
    assert len(sources) > 50
    wrong = {f"{p.relative_to(PACKAGE)}: {line}" for p in sources for line in _offences(p.read_text("utf-8"))}
    assert wrong == set()


def test_persistence_returns_the_one_record(tmp_path: Path) -> None:
    root = tmp_path
    photo = root / "a.jpg"
    photo.write_bytes(b"x" * 10)
    st = photo.stat()
    db = str(root / "index.db")
    meta = ProcessingMetadata(str(photo), 10, st.st_mtime_ns, 4, 3, "JPEG", "full", "test-loader", st.st_dev,
                              st.st_ino, st.st_ctime_ns, "ab" * 16)
    with SqliteHashPersistence(db) as store:
        store.store_batch([FileResult(meta, FileStatus.HASHED, hash=ImageHash(0xABC, HashSpec("dct", 64, "t")))])
        store.finalize()
    with HashIndex(db, readonly=True) as index:
        found = index.lookup(str(photo))
        listed = list(index.files_under([str(root)], blobs=False))
    assert isinstance(found, IndexedFile)
    assert (found.path, found.size, found.dev, found.inode, found.content_hash, found.width, found.format) == (
        str(photo), 10, st.st_dev, st.st_ino, "ab" * 16, 4, "JPEG")
    assert (found.hash, found.hash_spec) == ("0000000000000abc", "dct-64-t")
    assert found.file_id == (st.st_dev, st.st_ino) and not found.vanished
    assert listed == [found]
