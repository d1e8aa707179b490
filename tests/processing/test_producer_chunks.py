"""The producer takes discovered files in chunks: the same index as one file at a time, for fewer queries.

Real JPEGs, a real SQLite index and the real pipeline: only the chunk's size differs between the two scans.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from imgtwin.hashing.dct import DCTHasher
from imgtwin.options import ScanOptions
from imgtwin.processing import pipeline
from imgtwin.processing.channels import END, Batch, Channel
from imgtwin.processing.incremental import IndexScanCache
from imgtwin.processing.probe import FileProbe
from imgtwin.records import ProcessingSummary
from imgtwin.runs.scan import ScanSettings, run_scan
from tests.helpers import synthetic_photo


def _tree(root: Path) -> None:
    for i in range(9):
        folder = root / f"d{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        synthetic_photo(i, (96, 72)).save(folder / f"t{i}.jpg", quality=85)
    shutil.copyfile(root / "d0" / "t0.jpg", root / "d2" / "copy of t0.jpg")  # a byte copy within the scan
    (root / "d1" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(64))
    (root / "d1" / "empty.jpg").write_bytes(b"")


def _change(root: Path) -> None:
    """What a rescan must tell apart: changed, moved, copied from the index, deleted, new, unchanged."""
    synthetic_photo(40, (96, 72)).save(root / "d0" / "t3.jpg", quality=85)
    (root / "d1" / "t4.jpg").rename(root / "d2" / "t4 moved.jpg")
    shutil.copyfile(root / "d2" / "t5.jpg", root / "d0" / "t5 backup.jpg")
    (root / "d2" / "t8.jpg").unlink()
    synthetic_photo(41, (96, 72)).save(root / "d1" / "new.jpg", quality=85)


def _rows(db: Path) -> list[tuple[object, ...]]:
    """Every column of every file but the times of the scan (``vanished_at``: only whether it is set)."""
    conn = sqlite3.connect(db)
    try:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(files)") if r[1] not in ("scanned_at", "vanished_at")]
        return conn.execute(f"SELECT {', '.join(columns)}, vanished_at IS NULL FROM files ORDER BY path").fetchall()
    finally:
        conn.close()


def _scan(root: Path, db: Path) -> ProcessingSummary:
    return run_scan(ScanSettings(roots=(str(root),), db_path=str(db), options=ScanOptions(executor="thread")))


@pytest.mark.parametrize("chunk", [2, 64])
def test_a_chunked_producer_writes_the_index_of_one_file_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int,
) -> None:
    root = tmp_path / "tiles"
    _tree(root)
    sizes = {"alone": 1, "chunked": chunk}
    summaries: dict[str, list[ProcessingSummary]] = {name: [] for name in sizes}
    snapshots: dict[str, list[list[tuple[object, ...]]]] = {name: [] for name in sizes}
    for rescan in (False, True):
        if rescan:
            _change(root)
        for name, size in sizes.items():  # the same files, each scanned into its own index
            monkeypatch.setattr(pipeline, "PRODUCER_CHUNK", size)
            summaries[name].append(_scan(root, tmp_path / f"{name}.db"))
            snapshots[name].append(_rows(tmp_path / f"{name}.db"))
    assert [len(rows) for rows in snapshots["alone"]] == [12, 15]  # the moved and deleted files' rows: vanished
    assert snapshots["chunked"] == snapshots["alone"]
    counts = {name: [(s.processed_files, s.error_count, s.reused, s.copies) for s in done]
              for name, done in summaries.items()}
    assert counts["chunked"] == counts["alone"]
    assert counts["chunked"][1][2] >= 7  # the rescan answered the unchanged, the moved and the backup from the index


def test_a_chunk_costs_the_index_three_queries_not_two_a_file(tmp_path: Path) -> None:
    root, db = tmp_path / "tiles", tmp_path / "i.db"
    _tree(root)
    _scan(root, db)
    for i in range(30):  # new files of sizes the index holds: each may be a copy of an indexed one
        shutil.copyfile(root / f"d{i % 3}" / f"t{i % 9}.jpg", root / f"again{i}.jpg")
    cache = IndexScanCache(str(db), DCTHasher().spec, "pillow", "f")
    statements: list[str] = []
    cache._open().conn.set_trace_callback(statements.append)
    answers = cache.lookup_many([FileProbe(str(root / f"again{i}.jpg")) for i in range(30)])
    cache.close()
    assert len(answers) == 30
    assert len(statements) <= 3, statements  # paths, sizes, content hashes: was two or three a file


def test_a_split_channel_sends_a_chunk_as_one_message_and_hands_out_its_items() -> None:
    channel = Channel(10, split=True)
    assert channel.send_all(list(range(100))) and channel.send(END)
    assert channel.qsize() == 2 and isinstance(channel.queue[0], Batch)
    taken: list[int] = []

    def read() -> None:
        while (item := channel.receive(timeout=0.5)) is not END and item is not None:
            taken.append(item)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(timeout=10)
    assert sorted(taken) == list(range(100))  # each item once, however many readers
    assert channel.receive(timeout=0.0) is None

